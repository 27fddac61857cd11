"""The echo-brain command: help, ask against a real server, bad configuration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e_server import REPO, run_server


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
    )


def test_help_lists_every_command() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for command in ("serve", "ask", "replay", "scan", "plan", "fetch-models", "zip"):
        assert command in result.stdout


def test_bad_setting_stops_serve_naming_the_variable() -> None:
    result = cli("serve", env={"ECHO_MERGE": "average"})
    assert result.returncode == 2
    assert "ECHO_MERGE" in result.stderr and "설정" in result.stderr


def test_ask_talks_to_a_real_server(tmp_path: Path) -> None:
    env = {f"ECHO_{c}_MODEL": "echo" for c in ("EMOTION", "CREATION", "SELF")}
    with run_server(tmp_path, **env) as server:
        server.wait_ready()
        result = cli("ask", "hello sea", "--url", server.url, "--json")
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        assert doc["circuits"]["self"]["text"] == "[self] hello sea"
        refused = cli("ask", "create project: x", "--url", server.url)
        assert refused.returncode == 1 and "403" in refused.stderr
    gone = cli("ask", "hello", "--url", server.url)
    assert gone.returncode == 1 and "cannot reach" in gone.stderr


def test_replay_fast_path_loads_neither_typer_rich_nor_pydantic(tmp_path: Path) -> None:
    memory = tmp_path / "memory"
    (memory / "day0101").mkdir(parents=True)
    (memory / "day0101" / "part1.txt").write_text("나의 말:\n빠른 길\n", encoding="utf-8")
    code = (
        "import sys\n"
        f"sys.argv = ['echo-brain', 'replay', '--memory-dir', {str(memory)!r}, "
        f"'--manifest-dir', {str(REPO / 'manifest')!r}, '--json']\n"
        "import cli\n"
        "try:\n"
        "    cli.main()\n"
        "except SystemExit as exc:\n"
        "    loaded = sorted(m for m in ('typer', 'rich', 'pydantic') if m in sys.modules)\n"
        "    sys.stderr.write(f'EXIT {exc.code} LOADED {loaded}')\n"
    )
    import os

    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert json.loads(done.stdout)["lines"] == 1
    assert done.stderr.endswith("EXIT 0 LOADED []"), done.stderr


def test_replay_enrich_then_recall_prints_the_remembered_lines(tmp_path: Path) -> None:
    memory = tmp_path / "memory"
    (memory / "day0801").mkdir(parents=True)
    (memory / "day0801" / "part1.txt").write_text(
        "나의 말:\n다음 주에 제주도로 여행을 가기로 했어\n에코의 말:\n좋겠다, 바다 보고 와\n",
        encoding="utf-8",
    )
    replayed = cli("replay", "--memory-dir", str(memory), "--manifest-dir",
                   str(REPO / "manifest"), "--enrich")
    assert replayed.returncode == 0, replayed.stderr
    assert "2/2 lines with vectors" in " ".join(replayed.stdout.split())
    found = cli("recall", "제주 여행 갔던 얘기", "--memory-dir", str(memory), "--json")
    assert found.returncode == 0, found.stderr
    first = json.loads(found.stdout)["results"][0]
    assert (first["day"], first["part"], first["line"]) == ("day0801", 1, 2)
    assert first["ranks"]["morpheme"] == 1 and first["ranks"]["dense"] is not None
    table = cli("recall", "jeju trip", "--memory-dir", str(memory))
    assert table.returncode == 0 and "day0801" in table.stdout
    bad = cli("recall", "x", "--memory-dir", str(memory), "--path", "nope")
    assert bad.returncode == 2 and "경로" in bad.stderr
