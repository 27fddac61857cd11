"""The docs name everything a user can set, call or run, and the README stays short.

Every setting of `core.settings.Settings` (by its variable name) is in docs/configuration.md
and is assigned in .env.example; every route the app serves (the OpenAPI document's paths
and the routes it leaves out: /docs, /openapi.json, the mounted static folders) is in
docs/api.md as `METHOD /path`; every `echo-brain` command is somewhere in docs/. The check
functions take the text, so the last tests show each one fails when a name is left out.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
from starlette.routing import Mount

from api.app import create_app
from cli.app import build_app
from core.settings import Settings, _variable_name, load_settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README_MAX_LINES = 260
PAGES = ("deploy", "configuration", "api", "memory", "circuits", "training", "dashboard",
         "cli", "architecture")

Route = tuple[str, str]  # (METHOD, /path)


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def all_docs() -> str:
    """Every page under docs/, one text."""
    return "\n".join(read(p) for p in sorted(DOCS.rglob("*.md")))


# --- what exists -------------------------------------------------------------------------


def setting_variables() -> list[str]:
    """ECHO_<FIELD> for every Settings field (HOST and PORT without the prefix)."""
    return sorted(_variable_name(field) for field in Settings.model_fields)


@cache
def _served_routes() -> tuple[Route, ...]:
    app = create_app()
    with warnings.catch_warnings():  # GET and HEAD on `/` share one operation id
        warnings.simplefilter("ignore", UserWarning)
        schema = app.openapi()
    found = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    found |= set(_walk(app.routes, ""))
    return tuple(sorted(found))


def served_routes() -> list[Route]:
    """(METHOD, path) of every route: the OpenAPI paths, then those outside the schema."""
    return list(_served_routes())


def _walk(routes: Iterable[Any], prefix: str) -> Iterable[Route]:
    """Routes as served; FastAPI >= 0.165 nests an included router instead of copying it."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _walk(included.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Mount):  # static files: GET <mount>/{path}
            yield "GET", prefix + route.path_format
        else:
            for method in getattr(route, "methods", None) or ():
                yield method, prefix + route.path


def cli_commands() -> list[str]:
    """`echo-brain <command>` for every registered command (sub-commands of groups too)."""
    return list(_cli_commands())


@cache
def _cli_commands() -> tuple[str, ...]:
    root = typer.main.get_command(build_app(["echo-brain"]))
    found: list[str] = []

    def visit(command: Any, words: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if not subs:
            found.append(" ".join(words))
            return
        for name, sub in subs.items():
            visit(sub, [*words, name])

    visit(root, ["echo-brain"])
    return tuple(sorted(found))


# --- the checks ----------------------------------------------------------------------------


def _named(name: str) -> re.Pattern[str]:
    """A whole variable name: ECHO_SELF_LORA does not count for ECHO_SELF_LORA_SCALE."""
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")


def missing_settings(text: str, names: Iterable[str]) -> list[str]:
    """The variable names the text never mentions."""
    return [name for name in names if not _named(name).search(text)]


def unassigned_settings(env_example: str, names: Iterable[str]) -> list[str]:
    """The variable names with no `NAME=...` line in .env.example."""
    return [n for n in names if not re.search(rf"^{re.escape(n)}=", env_example, re.MULTILINE)]


def missing_routes(text: str, routes: Iterable[Route]) -> list[Route]:
    """The routes the text never writes as `METHOD /path` (GET /ui is not GET /ui/)."""
    missing = []
    for method, path in routes:
        pattern = rf"(?<![A-Z]){method} {re.escape(path)}(?![\w/{{}}.-])"
        if not re.search(pattern, text):
            missing.append((method, path))
    return missing


def missing_commands(text: str, commands: Iterable[str]) -> list[str]:
    """The commands the text never writes as `echo-brain <command>`."""
    return [c for c in commands if not re.search(rf"{re.escape(c)}(?![\w-])", text)]


SOURCES = ("api", "cli", "core", "llm", "origin_model", "tune", "trainkit", "dashboard",
           "benchmarks", "scripts", "runpod_launcher.sh", "Dockerfile")


@cache
def source_text() -> str:
    """Every source file the code reads variables in (Python and shell), one text."""
    texts = []
    for name in SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []
        texts += [read(f) for f in files if f.suffix in (".py", ".sh", "") and f.is_file()
                  and "__pycache__" not in f.parts]
    return "\n".join(texts)


def stale_variables(text: str, settings: Iterable[str], source: str) -> list[str]:
    """ECHO_* names the text mentions that are neither settings nor read anywhere in the code."""
    named = set(re.findall(r"(?<![A-Za-z0-9_])ECHO_[A-Z0-9_]*[A-Z0-9]", text))
    return sorted(n for n in named - set(settings) if not _named(n).search(source))


def stale_commands(text: str, commands: Iterable[str]) -> list[str]:
    """`echo-brain <word>` in the text where no such command exists."""
    named = set(re.findall(r"echo-brain [a-z][a-z-]*[a-z]", text))
    return sorted(named - set(commands))


# --- the docs as they are -------------------------------------------------------------------


def test_every_setting_is_in_configuration_md() -> None:
    assert missing_settings(read(DOCS / "configuration.md"), setting_variables()) == []


def test_every_setting_is_in_env_example() -> None:
    assert unassigned_settings(read(ROOT / ".env.example"), setting_variables()) == []


def test_env_example_copied_to_env_starts_with_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cp .env.example .env` is a working configuration; every value it shows is the default."""
    (tmp_path / ".env").write_text(read(ROOT / ".env.example"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for field in Settings.model_fields:
        monkeypatch.delenv(_variable_name(field), raising=False)
    from_example = load_settings()
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert from_example.model_dump() == defaults.model_dump()


def test_every_route_is_in_api_md() -> None:
    assert missing_routes(read(DOCS / "api.md"), served_routes()) == []


def test_every_command_is_in_the_docs() -> None:
    assert missing_commands(all_docs(), cli_commands()) == []


def test_readme_is_short_and_links_every_page() -> None:
    readme = read(ROOT / "README.md")
    assert len(readme.splitlines()) <= README_MAX_LINES
    for page in PAGES:
        assert (DOCS / f"{page}.md").is_file(), page
        assert f"docs/{page}.md" in readme, page


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    headings = re.findall(r"^#+\s+(.*?)\s*$", prose, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_the_docs_link_files_and_headings_that_exist() -> None:
    """Relative links in README and docs/ lead to files in the tree and to their headings."""
    broken = []
    for page in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", read(page)):
            if re.match(r"[a-z]+:", target):
                continue
            name, _, anchor = target.partition("#")
            path = page.parent / name if name else page
            if not path.exists() or (anchor and anchor not in anchors(read(path))):
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_what_exists_is_found() -> None:
    """The enumerations see what the app and the CLI have (so an empty list cannot pass)."""
    assert {"ECHO_ORIGIN_TOKEN", "ECHO_SELF_LORA_SCALE", "HOST", "PORT"} <= set(
        setting_variables()
    )
    routes = set(served_routes())
    assert {("HEAD", "/"), ("POST", "/api/ask"), ("GET", "/docs"), ("GET", "/ui/{path}")} <= routes
    assert {"echo-brain serve", "echo-brain tune", "echo-brain fetch-models"} <= set(
        cli_commands()
    )


# --- the checks fail when a name is left out -----------------------------------------------


def _without(text: str, pattern: str) -> str:
    """The text with every match of `pattern` blanked out."""
    return re.sub(pattern, "", text)


@pytest.mark.parametrize("name", ["ECHO_SELF_LORA", "ECHO_TIMEZONE", "PORT"])
def test_a_setting_left_out_is_reported(name: str) -> None:
    doc = read(DOCS / "configuration.md")
    assert missing_settings(doc, [name]) == []
    assert missing_settings(_without(doc, rf"(?<![A-Za-z0-9_]){name}(?![A-Za-z0-9_])"),
                            setting_variables()) == [name]
    env = read(ROOT / ".env.example")
    assert unassigned_settings(env, [name]) == []
    assert unassigned_settings(_without(env, rf"(?m)^{name}=.*$"), [name]) == [name]


@pytest.mark.parametrize(
    "route", [("HEAD", "/"), ("GET", "/ui"), ("GET", "/api/memory/recall"), ("GET", "/redoc")]
)
def test_a_route_left_out_is_reported(route: Route) -> None:
    method, path = route
    doc = read(DOCS / "api.md")
    assert missing_routes(doc, [route]) == []
    cut = _without(doc, rf"(?<![A-Z]){method} {re.escape(path)}(?![\w/{{}}.-])")
    assert missing_routes(cut, served_routes()) == [route]


@pytest.mark.parametrize("command", ["echo-brain tune", "echo-brain zip", "echo-brain recall"])
def test_a_command_left_out_is_reported(command: str) -> None:
    text = all_docs()
    assert missing_commands(text, [command]) == []
    cut = _without(text, rf"{re.escape(command)}(?![\w-])")
    assert missing_commands(cut, cli_commands()) == [command]


def test_the_docs_name_no_variable_or_command_that_is_gone() -> None:
    """A setting or command removed from the code does not linger in the docs."""
    text = read(ROOT / "README.md") + all_docs()
    assert stale_variables(text, setting_variables(), source_text()) == []
    assert stale_commands(text, cli_commands()) == []


def test_a_variable_or_command_that_is_gone_is_reported() -> None:
    text = all_docs() + "\nSet `ECHO_NO_SUCH_THING=1` and run `echo-brain frobnicate`.\n"
    assert stale_variables(text, setting_variables(), source_text()) == ["ECHO_NO_SUCH_THING"]
    assert stale_commands(text, cli_commands()) == ["echo-brain frobnicate"]
