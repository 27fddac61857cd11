"""scan: exit 0 when healthy, 1 on a blocking problem, and never a token value."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from core.deploy.scan import count_lines, memory_stats

SECRET = "origin-SECRET-7f3a9c-do-not-print"
ACCESS = "access-SECRET-51be0d-do-not-print"


def _all_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("EMOTION", "CREATION", "SELF"):
        monkeypatch.setenv(f"ECHO_{var}_MODEL", "echo")


def test_healthy_demo_setup_exits_0(demo_model: Path, cli: Callable) -> None:
    result = cli("scan")
    assert result.exit_code == 0, result.output
    assert "llama-cpp-python" in result.output and "ready to serve" in result.output
    doc = json.loads(cli("scan", "--json").output)
    circuits = [c for c in doc["checks"] if c["section"] == "circuits"]
    assert [c["level"] for c in circuits] == ["ok", "ok", "ok"]
    assert all("llama, Q4_1" in c["detail"] and "ctx 8192" in c["detail"] for c in circuits)
    assert doc["plan"]["circuits"][0]["layers"] == 30


def test_echo_circuits_need_no_model(monkeypatch, cli) -> None:
    _all_echo(monkeypatch)
    result = cli("scan", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ok"] is True


def test_missing_model_is_blocking(monkeypatch, cli) -> None:
    _all_echo(monkeypatch)
    monkeypatch.setenv("ECHO_SELF_MODEL", "missing-model.gguf")
    result = cli("scan")
    assert result.exit_code == 1
    assert "missing-model.gguf" in result.output and "blocking problem" in result.output


def test_invalid_or_truncated_gguf_is_blocking(tmp_path: Path, monkeypatch, cli,
                                               pod_models: Path) -> None:
    (pod_models / "junk.gguf").write_bytes(b"PK\x03\x04 not a gguf" * 10)
    monkeypatch.setenv("ECHO_EMOTION_MODEL", "junk.gguf")
    doc = json.loads(cli("scan", "--json").output)
    levels = {c["name"]: (c["level"], c["detail"]) for c in doc["checks"]}
    assert levels["emotion"][0] == "fail" and "Not a valid GGUF" in levels["emotion"][1]
    # the header stubs declare gigabytes of tensors they do not hold
    assert levels["self"][0] == "fail" and "truncated" in levels["self"][1]
    assert cli("scan").exit_code == 1


def test_bad_settings_are_blocking(monkeypatch, cli) -> None:
    monkeypatch.setenv("ECHO_N_CTX", "lots")
    result = cli("scan", "--json")
    assert result.exit_code == 1
    assert "ECHO_N_CTX" in result.output


@pytest.mark.parametrize("as_json", [False, True])
def test_token_values_never_appear(monkeypatch, cli, as_json: bool) -> None:
    _all_echo(monkeypatch)
    monkeypatch.setenv("ECHO_ORIGIN_TOKEN", SECRET)
    monkeypatch.setenv("ECHO_ACCESS_TOKEN", ACCESS)
    result = cli("scan", *(["--json"] if as_json else []))
    assert result.exit_code == 0
    assert SECRET not in result.output and ACCESS not in result.output
    assert "SECRET" not in result.output
    if as_json:
        tokens = {c["name"]: c["detail"] for c in json.loads(result.output)["checks"]
                  if c["section"] == "tokens"}
        assert tokens == {"ECHO_ORIGIN_TOKEN": "set", "ECHO_ACCESS_TOKEN": "set"}


def test_unset_tokens_say_unset(monkeypatch, cli) -> None:
    _all_echo(monkeypatch)
    tokens = [c for c in json.loads(cli("scan", "--json").output)["checks"]
              if c["section"] == "tokens"]
    assert [c["detail"] for c in tokens] == ["unset", "unset"]


def test_memory_stats_count_days_parts_and_lines(tmp_path: Path) -> None:
    root = tmp_path / "memory"
    (root / "day0320").mkdir(parents=True)
    (root / "day0320" / "part1.txt").write_text("a\nb\nc\n")
    (root / "day0320" / "part2.txt").write_text("d\ne")  # no final newline
    (root / "day1121" / "user").mkdir(parents=True)
    (root / "day1121" / "user" / "part1.txt").write_text("x\n")
    (root / "day1122").mkdir()  # empty day: not counted
    (root / "notes.txt").write_text("ignored\n")
    (root / "insight.json").write_text("{}")
    assert memory_stats(root) == {"days": 2, "parts": 3, "lines": 6, "bytes": 11}
    assert count_lines(root / "day0320" / "part2.txt") == 2
    assert memory_stats(tmp_path / "absent") == {"days": 0, "parts": 0, "lines": 0, "bytes": 0}


def test_scan_shows_the_prefix_cache(tmp_path: Path, monkeypatch, cli) -> None:
    from llm.prefix_cache import PrefixCache

    _all_echo(monkeypatch)
    monkeypatch.setenv("ECHO_CACHE_DIR", str(tmp_path / "prefix"))
    PrefixCache(tmp_path / "prefix", 1 << 30).save("a" * 64, 3, bytes(3 << 20))
    doc = json.loads(cli("scan", "--json").output)
    (check,) = [c for c in doc["checks"] if c["name"] == "prefix cache"]
    assert check["level"] == "ok" and str(tmp_path / "prefix") in check["detail"]
    assert "1 files, 3.0 of 2048 MB" in check["detail"]
    monkeypatch.setenv("ECHO_CACHE_MAX_MB", "0")
    doc = json.loads(cli("scan", "--json").output)
    assert [c["detail"] for c in doc["checks"] if c["name"] == "prefix cache"] == [
        "off (ECHO_CACHE_MAX_MB=0)"]
