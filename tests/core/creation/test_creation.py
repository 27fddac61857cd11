"""Project creation: commands, slugs, plan validation, hostile plans, atomic writes, 409."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from core.creation import ProjectResult, create_project, is_creation_command, slugify
from core.creation import write as creator_write
from core.creation.plan import PLAN_SCHEMA, PlannedFile, parse_plan
from core.errors import BadInput, Conflict, Forbidden, PlanRejected, ProjectWriteError


def validate_plan(raw: str | dict[str, Any]) -> list[PlannedFile]:
    """The validated files of a plan (PlanRejected when it is unusable)."""
    return parse_plan(raw).files

PROMPT = "파이썬 계산기 만들어줘"
SLUG = "파이썬-계산기"


def planner_for(plan: Any, calls: list[tuple[str, dict[str, Any]]] | None = None) -> Any:
    """A planner returning `plan` (a dict is sent as JSON text, like the circuit does)."""

    async def planner(prompt: str, schema: dict[str, Any]) -> str:
        if calls is not None:
            calls.append((prompt, schema))
        return plan if isinstance(plan, str) else json.dumps(plan)

    return planner


def create(tmp_path: Path, plan: Any = None, prompt: str = PROMPT, **kwargs: Any) -> ProjectResult:
    planner = kwargs.pop("planner", planner_for(plan) if plan is not None else None)
    return asyncio.run(
        create_project(prompt, origin_dir=tmp_path / "origin", planner=planner, **kwargs)
    )


def snapshot(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry under root: kind, size and content hash (links are not followed)."""
    found: dict[str, tuple[str, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            full = Path(dirpath, name)
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                found[rel] = ("link", 0, os.readlink(full))
            elif full.is_dir():
                found[rel] = ("dir", 0, "")
            else:
                data = full.read_bytes()
                found[rel] = ("file", len(data), hashlib.sha256(data).hexdigest())
    return found


def files_on_disk(project: Path) -> list[str]:
    return sorted(
        p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()
    )


def assert_only_project_written(before: dict[str, Any], after: dict[str, Any], slug: str) -> None:
    """Nothing changed outside origin/projects/<slug> (the origin folders may be new)."""
    allowed = {"origin", "origin/projects"}
    for rel in set(before) | set(after):
        if before.get(rel) != after.get(rel):
            assert rel in allowed or rel.startswith(f"origin/projects/{slug}/") or (
                rel == f"origin/projects/{slug}"
            ), f"unexpected change: {rel}"


GOOD_PLAN = {
    "name": "Calculator",
    "description": "A small calculator / 작은 계산기",
    "files": [
        {"path": "calc/main.py", "content": "print(1 + 1)\n"},
        {"path": "./tests/test_calc.py", "content": "def test_ok():\n    assert True\n"},
    ],
}


# --- commands and slugs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("계산기 만들어줘", True),
        ("만들어줘", True),
        ("웹사이트 만들어 줘", True),
        ("create project: todo app", True),
        ("  CREATE PROJECT: todo", True),
        ("Create Project:x", True),
        ("계산기 만들어", False),
        ("please create project: todo", False),
        ("create project todo", False),
        ("who are you", False),
        ("", False),
    ],
)
def test_is_creation_command(prompt: str, expected: bool) -> None:
    assert is_creation_command(prompt) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("파이썬 계산기 만들어줘", "파이썬-계산기"),
        ("create project: Todo App!", "todo-app"),
        ("CREATE PROJECT:  my_app v2.0", "my-app-v2-0"),
        ("웹 만들어줘 please", "웹-please"),
        ("../../etc/passwd", "etc-passwd"),
        ("..", "project"),
        (".", "project"),
        ("만들어줘", "project"),
        ("create project:", "project"),
        ("!!! ??? ///", "project"),
        ("", "project"),
        ("a%2e%2e%2fb", "a-2e-2e-2fb"),
        ("café 東京 ñ", "caf"),
        ("ＡＢＣ", "project"),
        ("\u1112\u1161\u11ab 글", "한-글"),  # decomposed Hangul is composed (NFC)
    ],
)
def test_slugify(text: str, expected: str) -> None:
    assert slugify(text) == expected


def test_slugify_is_bounded_and_clean() -> None:
    slug = slugify("가" * 500)
    assert slug == "가" * 48
    assert slugify("a" * 47 + " b", max_len=48) == "a" * 47  # no trailing dash after the cut
    assert len(slugify("x y " * 100, max_len=10)) <= 10
    assert len(slugify("가" * 500, max_len=500).encode()) <= 200
    for text in ["-", "--..--", "/", "\\", "\x00", ".. ..", "%2e%2e"]:
        slug = slugify(text)
        assert slug and slug not in (".", "..") and "/" not in slug and not slug.startswith(".")


# --- the plan schema and validation ---------------------------------------------------


def test_plan_schema_is_small_and_complete() -> None:
    assert json.loads(json.dumps(PLAN_SCHEMA)) == PLAN_SCHEMA
    assert PLAN_SCHEMA["required"] == ["description", "files"]
    item = PLAN_SCHEMA["properties"]["files"]["items"]
    assert item["required"] == ["path", "content"]
    assert set(PLAN_SCHEMA["properties"]) == {"name", "description", "files"}


def test_validate_plan_accepts_a_good_plan_and_normalizes_paths() -> None:
    files = validate_plan(GOOD_PLAN)
    assert [f.path for f in files] == ["calc/main.py", "tests/test_calc.py"]
    assert validate_plan(json.dumps(GOOD_PLAN)) == files
    fenced = "Here you go:\n```json\n" + json.dumps(GOOD_PLAN) + "\n```"
    assert validate_plan(fenced) == files
    assert validate_plan("Sure! " + json.dumps(GOOD_PLAN) + " Enjoy.") == files


def plan_with(*paths: str, content: str = "x") -> dict[str, Any]:
    return {"description": "d", "files": [{"path": p, "content": content} for p in paths]}


HOSTILE_PLANS: dict[str, Any] = {
    "parent": plan_with("../../x"),
    "parent-inside": plan_with("a/../../x"),
    "absolute": plan_with("/etc/x"),
    "home": plan_with("~/x"),
    "backslash": plan_with("..\\x"),
    "backslash-win": plan_with("a\\b.py"),
    "drive": plan_with("C:/x"),
    "url-encoded": plan_with("%2e%2e%2fx"),
    "url-encoded-upper": plan_with("%2E%2E/x"),
    "nul-path": plan_with("a\x00b.py"),
    "nul-content": plan_with("a.py", content="ab\x00cd"),
    "newline-path": plan_with("a\nb.py"),
    "rtl-override": plan_with("txt.\u202eexe"),
    "dot": plan_with("./"),
    "empty": plan_with(""),
    "spaces": plan_with("   "),
    "empty-component": plan_with("a//b"),
    "long-path": plan_with("/".join(["d" * 50] * 4) + "/x.py"),
    "long-component": plan_with("n" * 101),
    "long-hangul-bytes": plan_with("가" * 90),
    "git": plan_with(".git/config"),
    "git-upper": plan_with("sub/.GIT/hooks/pre-commit"),
    "structure": plan_with("structure.json"),
    "duplicate": plan_with("a.py", "A.py"),
    "file-and-folder": plan_with("a", "a/b.py"),
    "folder-and-file": plan_with("a/b.py", "a"),
    "51-files": plan_with(*[f"f{i}.txt" for i in range(51)]),
    "2-mib": plan_with("a.txt", "b.txt", content="x" * (1024 * 1024)),
    "no-files": {"description": "d", "files": []},
    "files-not-list": {"description": "d", "files": "main.py"},
    "content-not-text": {"description": "d", "files": [{"path": "a.py", "content": 1}]},
    "path-not-text": {"description": "d", "files": [{"path": ["a"], "content": "x"}]},
    "not-json": "this is not json",
    "json-list": "[1, 2, 3]",
    "deep-json": "[" * 100_000 + "]" * 100_000,
    "lone-surrogate": '{"description": "d", "files": [{"path": "a.py", "content": "\\ud800"}]}',
}


@pytest.mark.parametrize("case", sorted(HOSTILE_PLANS))
def test_validate_plan_rejects_hostile_plans(case: str) -> None:
    with pytest.raises(PlanRejected) as info:
        validate_plan(HOSTILE_PLANS[case])
    assert isinstance(info.value, BadInput)
    assert info.value.message and info.value.message_ko


def test_validate_plan_limits_are_inclusive() -> None:
    assert len(validate_plan(plan_with(*[f"f{i}.txt" for i in range(50)]))) == 50
    assert len(validate_plan(plan_with("a.txt", content="x" * (1024 * 1024)))) == 1
    assert validate_plan(plan_with("n" * 100))[0].path == "n" * 100


@pytest.mark.parametrize("case", sorted(HOSTILE_PLANS))
def test_hostile_plan_gives_a_scaffold_and_writes_nothing_else(tmp_path: Path, case: str) -> None:
    (tmp_path / "outside.txt").write_text("keep")
    before = snapshot(tmp_path)
    result = create(tmp_path, HOSTILE_PLANS[case])
    after = snapshot(tmp_path)
    assert_only_project_written(before, after, SLUG)
    project = tmp_path / "origin" / "projects" / SLUG
    assert result.scaffold is True
    assert files_on_disk(project) == ["README.md", "main.py", "structure.json"]
    assert result.files == ["README.md", "main.py", "structure.json"]
    assert "minimal scaffold" in result.reply and "최소 골격" in result.reply
    structure = json.loads((project / "structure.json").read_text())
    assert structure["scaffold"] is True and structure["scaffold_reason"]["en"]
    assert not [p for p in (tmp_path / "origin" / "projects").iterdir() if p.name != SLUG]


# --- writing --------------------------------------------------------------------------


def test_good_plan_is_written_with_readme_and_structure(tmp_path: Path) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    before = snapshot(tmp_path)
    result = create(tmp_path, planner=planner_for(GOOD_PLAN, calls))
    assert_only_project_written(before, snapshot(tmp_path), SLUG)
    project = tmp_path / "origin" / "projects" / SLUG
    assert result.scaffold is False
    assert result.name == SLUG and result.path == f"origin/projects/{SLUG}"
    assert result.as_dict() == {"name": SLUG, "path": result.path, "files": result.files}
    assert result.files == files_on_disk(project)
    assert result.files == ["README.md", "calc/main.py", "structure.json", "tests/test_calc.py"]
    assert (project / "calc" / "main.py").read_text() == "print(1 + 1)\n"
    readme = (project / "README.md").read_text()
    assert "# Calculator" in readme and "## 요청 / Request" in readme and "파이썬 계산기" in readme
    assert "## 설명 / Description" in readme and "A small calculator" in readme
    assert SLUG in result.reply and "만들었습니다" in result.reply and "created" in result.reply
    assert calls and calls[0][1] is PLAN_SCHEMA and "파이썬 계산기" in calls[0][0]


def test_structure_lists_exactly_the_files_on_disk(tmp_path: Path) -> None:
    result = create(tmp_path, GOOD_PLAN)
    project = tmp_path / result.path
    structure = json.loads((project / "structure.json").read_text())
    listed = {entry["path"] for entry in structure["files"]}
    # structure.json lists every file but itself (it cannot hold its own hash).
    assert listed | {"structure.json"} == set(files_on_disk(project))
    assert "structure.json" not in listed
    for entry in structure["files"]:
        data = (project / entry["path"]).read_bytes()
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert structure["name"] == SLUG and structure["prompt"] == PROMPT
    assert structure["created_at"] and structure["scaffold"] is False


def test_plan_readme_is_merged_into_the_echo_readme(tmp_path: Path) -> None:
    plan = plan_with("main.py")
    plan["files"].append({"path": "readme.MD", "content": "model notes here"})
    result = create(tmp_path, plan)
    readme = (tmp_path / result.path / "README.md").read_text()
    assert "model notes here" in readme and "## 요청 / Request" in readme
    assert result.files == ["README.md", "main.py", "structure.json"]


def test_repeat_is_a_conflict_and_keeps_the_first_project(tmp_path: Path) -> None:
    create(tmp_path, GOOD_PLAN)
    before = snapshot(tmp_path)
    with pytest.raises(Conflict) as info:
        create(tmp_path, plan_with("other.py"))
    assert SLUG in info.value.message and SLUG in info.value.message_ko
    assert snapshot(tmp_path) == before


def test_explicit_name_sets_the_slug(tmp_path: Path) -> None:
    result = create(tmp_path, GOOD_PLAN, name="My App!")
    assert result.name == "my-app" and (tmp_path / "origin/projects/my-app/calc/main.py").is_file()


def test_project_appearing_during_planning_is_a_conflict(tmp_path: Path) -> None:
    target = tmp_path / "origin" / "projects" / SLUG

    async def racing_planner(prompt: str, schema: dict[str, Any]) -> str:
        target.mkdir(parents=True)  # an empty folder: os.rename would silently replace it
        return json.dumps(GOOD_PLAN)

    with pytest.raises(Conflict):
        create(tmp_path, planner=racing_planner)
    assert list(target.iterdir()) == []
    assert [p.name for p in target.parent.iterdir()] == [SLUG]


def test_existing_symlink_with_the_slug_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    projects = tmp_path / "origin" / "projects"
    projects.mkdir(parents=True)
    (projects / SLUG).symlink_to(outside, target_is_directory=True)
    (projects / "dangling").symlink_to(tmp_path / "nowhere")
    before = snapshot(tmp_path)
    with pytest.raises(Conflict):
        create(tmp_path, GOOD_PLAN)
    with pytest.raises(Conflict):
        create(tmp_path, GOOD_PLAN, name="dangling")
    assert snapshot(tmp_path) == before
    assert list(outside.iterdir()) == [] and not (tmp_path / "nowhere").exists()


def test_symlinked_projects_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "origin").mkdir()
    (tmp_path / "origin" / "projects").symlink_to(outside, target_is_directory=True)
    before = snapshot(tmp_path)
    with pytest.raises(Forbidden):
        create(tmp_path, GOOD_PLAN)
    assert snapshot(tmp_path) == before and list(outside.iterdir()) == []


def test_temp_folder_name_taken_by_a_symlink_is_not_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    projects = tmp_path / "origin" / "projects"
    projects.mkdir(parents=True)
    monkeypatch.setattr(creator_write.secrets, "token_hex", lambda n: "fixed")
    (projects / f".tmp-{SLUG}-fixed").symlink_to(outside, target_is_directory=True)
    before = snapshot(tmp_path)
    with pytest.raises(ProjectWriteError):
        create(tmp_path, GOOD_PLAN)
    assert snapshot(tmp_path) == before and list(outside.iterdir()) == []


def test_failure_midway_leaves_no_project_and_no_temp_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = creator_write._write_file
    written: list[str] = []

    def failing_write(root: Path, rel: str, data: bytes) -> None:
        if len(written) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(root, rel, data)
        written.append(rel)

    monkeypatch.setattr(creator_write, "_write_file", failing_write)
    plan = plan_with("a.py", "b.py", "c.py")
    with pytest.raises(ProjectWriteError) as info:
        create(tmp_path, plan)
    assert len(written) == 2  # it really failed midway
    assert "No space left on device" in info.value.message and info.value.message_ko
    assert list((tmp_path / "origin" / "projects").iterdir()) == []
    monkeypatch.undo()
    assert create(tmp_path, plan).files == ["README.md", "a.py", "b.py", "c.py", "structure.json"]


@pytest.mark.parametrize("failure", ["raises", "times-out", "none"])
def test_planner_failure_gives_a_scaffold(tmp_path: Path, failure: str) -> None:
    async def raising(prompt: str, schema: dict[str, Any]) -> str:
        raise RuntimeError("model exploded")

    async def slow(prompt: str, schema: dict[str, Any]) -> str:
        await asyncio.sleep(10)
        return json.dumps(GOOD_PLAN)

    planner = {"raises": raising, "times-out": slow, "none": None}[failure]
    result = create(tmp_path, planner=planner, timeout_s=0.05)
    assert result.scaffold is True and result.files == ["README.md", "main.py", "structure.json"]
    assert "minimal scaffold" in result.reply and "최소 골격" in result.reply
    main_py = tmp_path / result.path / "main.py"
    compile(main_py.read_text(), str(main_py), "exec")  # the scaffold is valid Python


def test_tokens_are_never_written(tmp_path: Path) -> None:
    secret = "tok-abc-123"
    plan = plan_with("config.py", content=f"TOKEN = '{secret}'\n")
    plan["description"] = f"uses {secret}"
    result = create(
        tmp_path, plan, prompt=f"{secret} 서버 만들어줘", name="server",
        redact=lambda text: text.replace(secret, "***"),
    )
    for path in (tmp_path / result.path).rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(), path
    assert secret not in result.reply


def test_small_model_quirks_are_salvaged_not_trusted() -> None:
    import re

    from core.creation.plan import PATH_PATTERN

    repeated = {"description": "d", "files": [{"path": "main.py", "content": "x = 1\n"}] * 3}
    assert [f.path for f in validate_plan(repeated)] == ["main.py"]
    raw_newline = '{"description": "d", "files": [{"path": "app.py", "content": "a\nb"}]}'
    assert validate_plan(raw_newline)[0].content == "a\nb"
    different = {"description": "d", "files": [{"path": "a.py", "content": "1"},
                                                {"path": "a.py", "content": "2"}]}
    with pytest.raises(BadInput):
        validate_plan(different)
    assert re.match(PATH_PATTERN, "src/app/main.py")
    for hostile in ("/etc/x", "../x", "..\\x", "%2e%2e%2f", "a/../b", ".git/config"):
        assert not re.match(PATH_PATTERN, hostile), hostile
