"""The dependency rule, read from the source (an AST walk, nothing imported).

api → core → llm: `llm` imports neither `core`, `api` nor `cli`; `core` never imports
`api` or `cli`; `core.memory` never imports the orchestrator (`core.echo_brain`); nothing
imports `cli` but its own entry points; `origin_model`, `tune`, `trainkit` and `dashboard`
(heavy optional dependencies) are imported at module level by nobody outside themselves and
`cli`, but that `origin_model` and `tune` stand on `trainkit`, the training kit they share.
`trainkit` sits between them and `core`: it imports neither of them, `cli` nor `api`, and
`origin_model` never imports `tune`, and `tune` takes from `origin_model` only the archive
read as turns (`origin_model.corpus`): the rest they share is the kit's.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "cli", "core", "llm", "origin_model", "tune", "trainkit", "dashboard")
OPTIONAL = ("origin_model", "tune", "trainkit", "dashboard")
# (importer, imported) allowed at module level: the two trainers stand on the kit
TORCH_SIDE = {("tune", "trainkit"), ("origin_model", "trainkit"), ("tune", "origin_model")}
KIT_BELOW = ("origin_model", "tune", "cli", "api", "dashboard")  # never imported by trainkit
# core.memory.recall: the query side (a server's request threads) never imports the writing
# side (the background indexer's modules)
RECALL = "core.memory.recall"
RECALL_WRITERS = tuple(f"{RECALL}.{m}" for m in
                       ("enrich", "graph", "indexer", "background", "vector_scrub"))


@dataclass(frozen=True)
class Import:
    """One import statement: who imports what, and whether at module level."""

    source: str  # the importing module, dotted
    target: str  # the imported module (or module.name), dotted
    top_level: bool
    where: str  # path:line

    def __str__(self) -> str:
        return f"{self.where}: {self.source} imports {self.target}"


def module_name(path: Path) -> str:
    """The dotted module name of a source file."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _targets(node: ast.Import | ast.ImportFrom, source: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = source.split(".") if is_package else source.split(".")[:-1]
        anchor = anchor[: len(anchor) - node.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def imports_of(path: Path) -> list[Import]:
    """Every import in a file; module level means not inside a function."""
    source = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                where = f"{path.relative_to(REPO)}:{child.lineno}"
                for target in _targets(child, source, path.name == "__init__.py"):
                    found.append(Import(source, target, top_level, where))
            nested = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, top_level and not nested)

    visit(tree, True)
    return found


def all_imports() -> list[Import]:
    """The imports of every source package."""
    files = [p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))]
    assert files, "no source found"
    return [imp for path in files for imp in imports_of(path)]


def within(name: str, package: str) -> bool:
    """Whether a dotted name is `package` or inside it."""
    return name == package or name.startswith(package + ".")


def violations(rule: str) -> list[str]:
    """The imports that break one rule."""
    return [str(imp) for imp in all_imports() if breaks(imp, rule)]


def breaks(imp: Import, rule: str) -> bool:
    """Whether one import breaks one rule."""
    s, t = imp.source, imp.target
    if rule == "llm":
        return within(s, "llm") and any(within(t, p) for p in ("core", "api", "cli"))
    if rule == "core":
        return within(s, "core") and (within(t, "api") or within(t, "cli"))
    if rule == "memory":
        return within(s, "core.memory") and within(t, "core.echo_brain")
    if rule == "trainkit":
        return within(s, "trainkit") and any(within(t, p) for p in KIT_BELOW)
    if rule == "trainers":
        return (within(s, "origin_model") and within(t, "tune")) or (
            within(s, "tune") and within(t, "origin_model")
            and not within(t, "origin_model.corpus"))
    if rule == "recall":
        return (within(s, RECALL) and not any(within(s, w) for w in RECALL_WRITERS)
                and any(within(t, w) for w in RECALL_WRITERS))
    if rule == "cli":
        return within(t, "cli") and not within(s, "cli")
    if rule == "optional":
        return imp.top_level and any(
            within(t, p) and not within(s, p) and not within(s, "cli")
            and (s.split(".")[0], p) not in TORCH_SIDE
            for p in OPTIONAL
        )
    return rule == "api" and within(s, "api") and within(t, "cli")


@pytest.mark.parametrize("rule", ["core", "memory", "cli", "optional", "api", "trainkit",
                                  "trainers", "recall"])
def test_the_dependency_rule_holds(rule: str) -> None:
    assert violations(rule) == []


def test_llm_imports_nothing_above_it() -> None:
    assert violations("llm") == []


def test_the_walk_sees_every_kind_of_import() -> None:
    """The checker itself: `from a import b` names a.b, a nested import is not top level."""
    assert "core.memory.index" in {i.target for i in imports_of(REPO / "core/memory/replay.py")}
    nested = [i for i in imports_of(REPO / "cli/app.py") if i.target == "cli.deploy"]
    assert nested and not nested[0].top_level  # imported inside build_app()
    assert "cli.replay" in {i.target for i in imports_of(REPO / "cli/__init__.py")}


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (anywhere in the file, functions and
    TYPE_CHECKING blocks included). `from pkg import sub` of a submodule is an edge to
    `pkg.sub`, not to `pkg`."""
    imports = all_imports()
    modules = {imp.source for imp in imports}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    targets = {(imp.source, imp.target) for imp in imports}
    for source, target in targets:
        if target in modules and any(t.startswith(target + ".") and t in modules
                                     for s, t in targets if s == source) and (
                source.startswith(target + ".")):
            continue  # `from cli import dashboard` inside cli: the submodule, not the package
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != source:
            graph[source].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_anywhere_in_the_tree() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_recall_rule_sees_the_query_side_import_the_writing_side() -> None:
    found = Import("core.memory.recall.fusion", "core.memory.recall.enrich.enrich_all", True, "x")
    assert breaks(found, "recall")
    assert not breaks(Import("core.memory.recall.enrich", "core.memory.recall.store", True, "x"),
                      "recall")


def test_the_kit_rules_see_an_import_from_above() -> None:
    """The checker itself: trainkit importing a trainer, or origin_model importing tune."""
    assert breaks(Import("trainkit.run", "origin_model.train", False, "x"), "trainkit")
    assert breaks(Import("trainkit.files", "cli.common", True, "x"), "trainkit")
    assert not breaks(Import("trainkit.files", "core.fsio", True, "x"), "trainkit")
    assert breaks(Import("origin_model.train", "tune.run", True, "x"), "trainers")
    assert breaks(Import("tune.run", "origin_model.train", True, "x"), "trainers")
    assert not breaks(Import("tune.data", "origin_model.corpus", True, "x"), "trainers")
