"""The deploy zip: deterministic bytes, the right entries, never a secret, cache or model."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from core.deploy.zip import ZipError, intended_entries, is_forbidden, write_zip

REPO = Path(__file__).resolve().parents[3]
TOKEN = "zip-origin-token-0c1f7e"


def _put(root: Path, rel: str, text: str = "x\n") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A project tree holding everything that ships and everything that must not."""
    root = tmp_path / "proj"
    _put(root, "pyproject.toml", '[project]\nname = "echo-brain"\nversion = "1.2.3"\n')
    for rel in ("uv.lock", "README.md", ".env.example", "models.toml", "Dockerfile",
                "api/server.py", "core/settings.py", "core/deploy/zip.py", "llm/backend.py",
                "manifest/identity.txt", "origin/projects/.gitkeep", "ui/index.html",
                "memory/.gitkeep", "memory/day0320/part1.txt", "memory/day1121/user/part2.txt"):
        _put(root, rel)
    _put(root, "runpod_launcher.sh", "#!/usr/bin/env bash\n")
    forbidden = (".env", ".env.local", ".gitignore", ".git/config", ".git/objects/ab/cd",
                 "core/__pycache__/settings.cpython-311.pyc", "api/stale.pyc",
                 "memory_backup/day0320/part1.txt", "tests/test_x.py", "core/test_inline.py",
                 "models/demo.gguf", "core/weights.gguf", "memory/insight.json",
                 "memory/index.sqlite3", "memory/index.sqlite3-wal", ".venv/pyvenv.cfg",
                 "memory/.echo_vectors.usearch", "memory/.echo_recall.lock",
                 "venv/bin/python", "core/myenv/pyvenv.cfg", "core/myenv/lib/site.py",
                 "dist/old.zip", "build/lib/x.py", ".pytest_cache/v", ".mypy_cache/x",
                 ".ruff_cache/x", "api/.ruff_cache/y", "NOTES.md", "core/TODO.md",
                 "llm/.DS_Store", "core/echo_brain.py.orig", "echo_brain.egg-info/PKG-INFO")
    for rel in forbidden:
        _put(root, rel)
    return root


def _names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_two_runs_give_identical_bytes(tree: Path, tmp_path: Path) -> None:
    first = write_zip(tree, tmp_path / "a")
    os.utime(tree / "core" / "settings.py", (1_800_000_000, 1_800_000_000))  # a later mtime
    (tree / "api" / "server.py").chmod(0o600)
    second = write_zip(tree, tmp_path / "b")
    assert first.path.name == "echo-brain-1.2.3.zip"
    assert first.path.read_bytes() == second.path.read_bytes()
    with zipfile.ZipFile(first.path) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        modes = {i.filename: i.external_attr >> 16 & 0o777 for i in zf.infolist()}
    assert modes["runpod_launcher.sh"] == 0o755 and modes["api/server.py"] == 0o644


def test_entries_are_what_ships_and_nothing_forbidden(tree: Path, tmp_path: Path) -> None:
    report = write_zip(tree, tmp_path / "out")
    names = _names(report.path)
    assert names == sorted(names) and list(report.entries) == names
    for must in ("api/server.py", "core/deploy/zip.py", "llm/backend.py", "manifest/identity.txt",
                 "origin/projects/.gitkeep", "ui/index.html", "memory/", "memory/.gitkeep",
                 "memory/day0320/part1.txt", "memory/day1121/user/part2.txt",
                 "runpod_launcher.sh", "pyproject.toml", "uv.lock", "README.md", ".env.example",
                 "models.toml", "Dockerfile"):
        assert must in names
    joined = "\n".join(names)
    for never in (".env\n", ".env.local", ".git/", ".gitignore", "__pycache__", ".pyc",
                  "memory_backup", "tests/", "test_", ".gguf", "insight.json", "sqlite3",
                  "usearch", "echo_recall",
                  "pyvenv.cfg", "venv",
                  "myenv", "dist/", "build/", "_cache", "NOTES", "TODO", ".DS_Store", ".orig",
                  "egg-info"):
        assert never not in joined + "\n", never
    assert report.files == sum(not n.endswith("/") for n in names)


def test_no_memory_keeps_the_folder_but_no_day_files(tree: Path, tmp_path: Path) -> None:
    names = _names(write_zip(tree, tmp_path / "out", include_memory=False).path)
    memory = [n for n in names if n.startswith("memory")]
    assert memory == ["memory/", "memory/.gitkeep"]
    (tree / "memory" / ".gitkeep").unlink()
    assert [n for n in intended_entries(tree, False) if n.startswith("memory")] == ["memory/"]


def test_a_missing_memory_folder_still_gets_its_entry(tree: Path, tmp_path: Path) -> None:
    import shutil

    shutil.rmtree(tree / "memory")
    assert "memory/" in _names(write_zip(tree, tmp_path / "out").path)


def test_a_token_value_in_a_file_refuses_the_zip(tree: Path, tmp_path: Path) -> None:
    _put(tree, "core/leak.py", f"TOKEN = '{TOKEN}'\n")
    with pytest.raises(ZipError, match="core/leak.py"):
        write_zip(tree, tmp_path / "out", tokens=[TOKEN])
    assert not list((tmp_path / "out").iterdir())  # no zip and no temp file left


def test_symlinks_are_not_followed(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("outside\n")
    (tree / "core" / "link.txt").symlink_to(outside)
    (tree / "ui" / "linked_dir").symlink_to(tmp_path)
    names = _names(write_zip(tree, tmp_path / "out").path)
    assert "core/link.txt" not in names and not any("linked_dir" in n for n in names)


@pytest.mark.parametrize(("name", "forbidden"), [
    ("core/a.py", False), (".env.example", False), ("core/.env", True),
    ("memory/day0101/part1.txt", False), ("memory/index.db", True), ("ui/x.log", True),
    ("llm/tests/x.py", True), ("core/__pycache__/", True), ("origin/projects/p/README.md", False),
])
def test_forbidden_rules(name: str, forbidden: bool) -> None:
    assert is_forbidden(name) is forbidden


def test_zip_command_prints_size_and_count(tree: Path, tmp_path: Path, monkeypatch,
                                           cli: Callable) -> None:
    monkeypatch.chdir(tree / "core")  # the root is found upward from here
    result = cli("zip", "--out", str(tmp_path / "dist"))
    assert result.exit_code == 0, result.output
    assert "echo-brain-1.2.3.zip" in result.output and "MB" in result.output
    assert "files" in result.output and "파일" in result.output
    monkeypatch.setenv("ECHO_ORIGIN_TOKEN", TOKEN)
    _put(tree, "manifest/oops.txt", TOKEN)
    refused = cli("zip", "--out", str(tmp_path / "dist2"))
    assert refused.exit_code == 1 and "token" in refused.output and TOKEN not in refused.output


def test_the_real_repository_zips_cleanly(tmp_path: Path) -> None:
    report = write_zip(REPO, tmp_path / "out", include_memory=False)
    names = _names(report.path)
    assert "core/deploy/zip.py" in names and "runpod_launcher.sh" in names
    assert "models.toml" in names and "memory/" in names
    assert not any(is_forbidden(n) or n.endswith(".gguf") for n in names)
