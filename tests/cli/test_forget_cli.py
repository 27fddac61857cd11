"""`echo-brain forget` in a real process, on real files: by path and line, by search, guests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from core.memory.forget import read_audit
from core.memory.lines import TOMBSTONE
from core.memory.replay import replay_archive
from tests.e2e_server import REPO

PART = "day0301/user/part1.txt"
ARCHIVE = "나의 말:\n오늘은 바다에 갔어\nthe code for the blue safe is 4172-8830\n" \
          "에코의 말:\n좋았겠다\n나의 말:\n파란 금고 이야기는 비밀이야\n"


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "cli", "forget", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120)


def archive(tmp: Path) -> Path:
    for base in ("memory", "memory_backup"):
        (tmp / base / PART).parent.mkdir(parents=True)
        (tmp / base / PART).write_text(ARCHIVE, encoding="utf-8")
    replay_archive(tmp / "memory", REPO / "manifest")
    return tmp / "memory" / PART


def test_forget_by_path_and_line_prints_json_and_audits(isolated_paths: Path) -> None:
    part = archive(isolated_paths)
    result = cli("--path", PART, "--line", "3", "--yes", "--json")
    assert result.returncode == 0, result.stderr
    [doc] = json.loads(result.stdout)["forgotten"]
    assert doc["lines"] == [3] and doc["path"] == f"memory/{PART}"
    assert part.read_text(encoding="utf-8").split("\n")[2] == TOMBSTONE
    assert b"4172" not in (isolated_paths / "memory_backup" / PART).read_bytes()
    assert read_audit(isolated_paths / "origin")[0]["who"] == "cli"


def test_forget_by_search_asks_which_and_forgets_only_those(isolated_paths: Path) -> None:
    part = archive(isolated_paths)
    kept = cli("--search", "금고", stdin="none\n")
    assert kept.returncode == 0 and "비밀이야" in kept.stderr  # the table of matches
    assert "nothing forgotten" in kept.stdout and part.read_text(encoding="utf-8") == ARCHIVE
    both = cli("--search", "safe", "--turn", stdin="1\n")
    assert both.returncode == 0, both.stderr
    lines = part.read_text(encoding="utf-8").split("\n")
    assert lines[:3] == [TOMBSTONE] * 3 and lines[3] == "에코의 말:"  # the whole turn


def test_bad_requests_exit_non_zero_in_both_languages(isolated_paths: Path) -> None:
    archive(isolated_paths)
    usage = cli("--line", "3")
    assert usage.returncode == 2 and "--path" in usage.stderr and "하나만" in usage.stderr
    header = cli("--path", PART, "--line", "1", "--yes")
    assert header.returncode == 1 and "header" in header.stderr and "머리줄" in header.stderr
    missing = cli("--path", "day0301/user/part9.txt", "--line", "1", "--yes")
    assert missing.returncode == 1 and "part9" in missing.stderr
    refused = cli("--path", PART, "--line", "3", stdin="n\n")
    assert refused.returncode == 0 and "4172" in refused.stderr  # shown, not forgotten
    assert "nothing forgotten" in refused.stdout
    helped = cli("--help").stdout
    assert "Forget memory everywhere" in helped and "지웁니다" in helped


def test_forget_a_guest_tree(isolated_paths: Path) -> None:
    guest = isolated_paths / "memory" / "guests" / "bob" / "day0301"
    guest.mkdir(parents=True)
    (guest / "part1.txt").write_text("손님 bob의 말:\n비밀 7777\n", encoding="utf-8")
    result = cli("--guest", "bob", "--yes")
    assert result.returncode == 0 and "bob" in result.stdout
    assert not (isolated_paths / "memory" / "guests" / "bob").exists()
    assert cli("--guest", "bob", "--yes").returncode == 1
