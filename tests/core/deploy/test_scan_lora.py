"""scan names each circuit's LoRA adapter, its scale and base fingerprint; refuses wrong ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.lora_fixture import write_lora
from llm.fingerprint import model_fingerprint


def lora_checks(cli: Callable) -> tuple[int, dict[str, tuple[str, str]]]:
    result = cli("scan", "--json")
    doc = json.loads(result.output)
    return result.exit_code, {c["name"]: (c["level"], c["detail"]) for c in doc["checks"]
                              if c["name"].endswith(" lora")}


def test_a_matching_adapter_is_named_with_its_fingerprint(
    demo_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable
) -> None:
    write_lora(tmp_path / "lora" / "self.gguf", demo_model)
    monkeypatch.setenv("ECHO_SELF_LORA", str(tmp_path / "lora" / "self.gguf"))
    monkeypatch.setenv("ECHO_SELF_LORA_SCALE", "0.75")
    code, checks = lora_checks(cli)
    assert code == 0 and set(checks) == {"self lora"}
    level, detail = checks["self lora"]
    assert level == "ok" and "self.gguf" in detail and "rank 4" in detail
    assert "scale 0.75" in detail and model_fingerprint(demo_model)[:12] in detail
    assert "matches" in detail
    table = cli("scan").output  # the table a person reads names it too
    assert "self lora" in table and "self.gguf" in table


def test_wrong_adapters_are_blocking(
    demo_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable
) -> None:
    write_lora(tmp_path / "other.gguf", demo_model, fingerprint="ef" * 32)
    monkeypatch.setenv("ECHO_SELF_LORA", str(tmp_path / "other.gguf"))
    monkeypatch.setenv("ECHO_EMOTION_LORA", str(demo_model))  # a model, not an adapter
    monkeypatch.setenv("ECHO_CREATION_LORA", "lora/missing.gguf")
    code, checks = lora_checks(cli)
    assert code == 1
    assert checks["self lora"][0] == "fail" and "made for another base" in checks["self lora"][1]
    assert checks["emotion lora"][0] == "fail" and "not a LoRA adapter" in checks["emotion lora"][1]
    level, detail = checks["creation lora"]
    assert level == "fail" and "not found" in detail and "ECHO_CREATION_LORA" in detail


def test_an_adapter_without_fingerprint_warns_and_one_on_echo_fails(
    demo_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable
) -> None:
    write_lora(tmp_path / "converted.gguf", demo_model, fingerprint=None)
    monkeypatch.setenv("ECHO_SELF_LORA", str(tmp_path / "converted.gguf"))
    code, checks = lora_checks(cli)
    assert code == 0 and checks["self lora"][0] == "warn"
    assert "echo.base.fingerprint" in checks["self lora"][1]
    monkeypatch.setenv("ECHO_SELF_MODEL", "echo")
    code, checks = lora_checks(cli)
    assert code == 1 and "applies to a local .gguf model" in checks["self lora"][1]
