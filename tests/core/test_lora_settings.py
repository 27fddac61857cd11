"""ECHO_<CIRCUIT>_LORA and _LORA_SCALE: parsing, paths, and where an adapter cannot apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.circuits import adapter_path, backend_factory, build_circuits, configured_adapter
from core.errors import ConfigError
from core.settings import load_settings
from llm.backend import BackendError


@pytest.mark.parametrize("value", ["strong", "-1", "nan", "inf", "11"])
def test_a_bad_scale_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ECHO_CREATION_LORA_SCALE", value)
    with pytest.raises(ConfigError, match="ECHO_CREATION_LORA_SCALE") as caught:
        load_settings()
    assert caught.value.message_ko


def test_an_adapter_must_be_a_gguf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_EMOTION_LORA", "adapter.safetensors")
    with pytest.raises(ConfigError, match="ECHO_EMOTION_LORA"):
        load_settings()


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    settings = load_settings(models_dir=tmp_path / "models", self_lora=" lora/self/a.gguf ",
                             self_lora_scale="0.25", emotion_lora=str(tmp_path / "abs.gguf"))
    assert settings.lora_scale("creation") == 1.0 and adapter_path(settings, "creation") is None
    assert adapter_path(settings, "self") == tmp_path / "models" / "lora" / "self" / "a.gguf"
    assert adapter_path(settings, "emotion") == tmp_path / "abs.gguf"
    assert configured_adapter(settings, "self") == {"file": "a.gguf", "scale": 0.25}
    circuits = build_circuits(settings)
    assert circuits["self"].snapshot()["adapter"] == {"file": "a.gguf", "scale": 0.25}
    assert "adapter" not in circuits["creation"].snapshot()


def test_an_adapter_on_a_circuit_without_a_local_model_is_refused(tmp_path: Path) -> None:
    lora = tmp_path / "a.gguf"
    lora.write_bytes(b"GGUF")
    settings = load_settings(self_model="echo", self_lora=str(lora))
    with pytest.raises(BackendError, match="ECHO_SELF_LORA applies to a local .gguf model"):
        backend_factory(settings, "self")()
    missing = load_settings(creation_lora="nowhere.gguf", models_dir=tmp_path)
    with pytest.raises(BackendError, match="ECHO_CREATION_LORA") as caught:
        backend_factory(missing, "creation")()
    assert "LoRA 어댑터 파일이 없습니다" in str(caught.value)
