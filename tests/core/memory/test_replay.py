"""The boot replay: insight.json, status for /ready, background start, failures."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from core.boot_memory_loop import ReplayStatus, replay_archive, start_replay
from core.settings import Settings, load_settings

KEYS = {"days", "parts", "lines", "first_day", "last_day", "lines_per_day", "top_terms",
        "skipped", "duration_s", "manifests", "identity", "headers", "parts_read", "speakers"}


def test_replay_writes_insight_and_only_the_index(
    settings: Settings, write_part: Callable[..., Path], tmp_path: Path
) -> None:
    write_part("day0409/part2.txt", "나의 말:\n에코브레인 기억 기억\nChatGPT의 말:\n응 기억해\n")
    write_part("day0410/user/part1.txt", "나의 말:\n둘째 날\n")
    write_part("day0409/notes.md", "메모\n")
    (tmp_path / "manifest").mkdir()
    (tmp_path / "manifest" / "self.txt").write_text("나는 에코 / I am Echo\n", encoding="utf-8")
    before = sorted(p.relative_to(settings.memory_dir) for p in settings.memory_dir.rglob("*"))
    progress: list[tuple[int, int]] = []
    status = ReplayStatus()
    insight = replay_archive(settings.memory_dir, tmp_path / "manifest", status=status,
                             progress=lambda done, total: progress.append((done, total)))
    assert KEYS <= set(insight)
    assert (insight["days"], insight["parts"], insight["lines"]) == (2, 2, 3)
    assert (insight["first_day"], insight["last_day"]) == ("day0409", "day0410")
    assert insight["lines_per_day"] == {"day0409": 2, "day0410": 1}
    assert insight["top_terms"][0] == {"term": "기억", "count": 2}  # every 2nd line counted
    assert insight["skipped"] == [{"path": "memory/day0409/notes.md", "reason": "not a part file"}]
    assert insight["headers"]["mode"] == "folded" and insight["headers"]["count"] == 3
    assert insight["speakers"] == {"origin": 2, "chatgpt": 1}
    assert insight["manifests"][0]["name"] == "self"
    assert progress[0] == (0, 2) and progress[-1] == (2, 2)
    on_disk = json.loads((settings.memory_dir / "insight.json").read_text(encoding="utf-8"))
    assert on_disk == insight
    after = sorted(p.relative_to(settings.memory_dir) for p in settings.memory_dir.rglob("*"))
    new = {str(p) for p in set(after) - set(before)}
    assert new <= {"insight.json", ".echo_index.sqlite3", ".echo_index.sqlite3-wal",
                   ".echo_index.sqlite3-shm"} and "insight.json" in new
    snap = status.snapshot()
    assert snap["state"] == "done" and snap["lines"] == 3 and snap["parts"] == 2
    assert set(snap) == {"state", "lines", "parts", "error", "duration_s"}


def test_a_bad_day_is_reported_and_the_replay_goes_on(
    settings: Settings, write_part: Callable[..., Path], tmp_path: Path
) -> None:
    write_part("day0401/part1.txt", "첫날\n")
    write_part("day0402/part1.txt", "둘째 날\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "part1.txt").write_text("밖\n", encoding="utf-8")
    os.symlink(outside, settings.memory_dir / "day0403")
    (settings.memory_dir / "day0404").mkdir()
    insight = replay_archive(settings.memory_dir, settings.manifest_dir)
    assert insight["lines_per_day"] == {"day0401": 1, "day0402": 1}
    reasons = {s["path"]: s["reason"] for s in insight["skipped"]}
    assert reasons == {"memory/day0403": "symlink leads outside the memory root",
                       "memory/day0404": "empty folder"}


def test_empty_archive_replays(settings: Settings) -> None:
    insight = replay_archive(settings.memory_dir, settings.manifest_dir)
    assert (insight["parts"], insight["lines"], insight["first_day"]) == (0, 0, None)


def test_start_replay_runs_in_the_background(
    settings: Settings, write_part: Callable[..., Path]
) -> None:
    write_part("day0401/part1.txt", "배경에서\n")
    status = ReplayStatus()
    assert status.snapshot()["state"] == "pending"
    thread = start_replay(settings, status)
    assert thread.daemon
    thread.join(30)
    snap = status.snapshot()
    assert snap["state"] == "done" and snap["lines"] == 1 and snap["duration_s"] is not None


def test_start_replay_failure_lands_in_the_status(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder\n", encoding="utf-8")
    monkeypatch.setenv("ECHO_MEMORY_DIR", str(tmp_path / "blocker" / "memory"))
    status = ReplayStatus()
    start_replay(load_settings(), status).join(30)
    snap = status.snapshot()
    assert snap["state"] == "failed" and snap["error"]


def test_replay_command_fast_path_and_typer(
    settings: Settings, write_part: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from typer.testing import CliRunner

    from cli.app import build_app
    from cli.replay import fast_replay

    write_part("day0401/part1.txt", "나의 말:\n명령으로 복기\n")
    args = ["--memory-dir", str(settings.memory_dir), "--manifest-dir", str(settings.manifest_dir)]
    assert fast_replay([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lines"] == 1
    assert fast_replay(["--help"]) is None and fast_replay(["--bogus"]) is None
    result = CliRunner().invoke(build_app(["echo-brain", "replay"]), ["replay", *args])
    assert result.exit_code == 0, result.output
    assert "lines / 줄" in result.output and "day0401" in result.output


def test_a_dead_writers_temporary_file_is_removed_at_start(tmp_path: Path) -> None:
    from core.memory.replay import remove_dead_temps

    (tmp_path / ".insight.json.999999999.1.tmp").write_text("a forgotten line's terms")
    mine = tmp_path / f".insight.json.{os.getpid()}.1.tmp"
    mine.write_text("being written")
    assert remove_dead_temps(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == [mine.name]
