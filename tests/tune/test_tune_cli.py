"""`echo-brain tune` end to end: a run, kill -9 and --resume, and every refusal (exit 2)."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from benchmarks.tune_fixture import write_llama_gguf
from llm.fingerprint import model_fingerprint
from tests.origin_model.archive import make_archive
from tests.tune.conftest import run_tune, tune_cmd, tune_env
from tune.adapter import read_adapter

FAST = ["--context", "48", "--batch-size", "2", "--threads", "1", "--rank", "4"]
HANGUL = re.compile("[가-힣]")


@pytest.fixture
def models(tmp_path: Path, tiny_model: Path) -> Path:
    """A models folder holding the tiny llama GGUF."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(tiny_model, folder / tiny_model.name)
    return folder


def tiny(models: Path) -> dict[str, str]:
    """The environment that points the self circuit at the tiny model."""
    return {"ECHO_SELF_MODEL": next(models.glob("*.gguf")).name}


def test_a_run_writes_an_adapter_llama_cpp_loads(models: Path, tmp_path: Path) -> None:
    memory = make_archive(tmp_path / "memory", parts=1)
    done = run_tune(models, "--memory-dir", memory, "--steps", "3", "--json", *FAST,
                    **tiny(models))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    run = models / "lora" / "self"
    assert summary["step"] == 3 and summary["serve"] == "ECHO_SELF_LORA=lora/self/self-lora.gguf"
    base = next(models.glob("*.gguf"))
    on_disk = json.loads((run / "tune.json").read_text())
    assert on_disk["base"] == {"file": base.name, "fingerprint": model_fingerprint(base)}
    assert on_disk["rank"] == 4 and on_disk["val_bpb"] > 0
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"step", "train_loss", "val_loss", "val_bpb", "lr", "tokens_per_s"} <= set(lines[-1])
    info, pairs = read_adapter(run / "self-lora.gguf")
    assert info.base_fingerprint == model_fingerprint(base) and info.alpha == 32.0
    assert pairs["blk.1.ffn_down.weight"][0].shape == (4, 128)  # A (rank, in)
    assert pairs["blk.1.ffn_down.weight"][1].shape == (64, 4)  # B (out, rank)
    from llama_cpp import Llama

    llama = Llama(model_path=str(base), n_ctx=64, verbose=False,
                  lora_path=str(run / "self-lora.gguf"))
    assert llama.create_completion("hi", max_tokens=2)["choices"]
    llama.close()
    _the_dashboard_follows(run, lines)


def _the_dashboard_follows(run: Path, lines: list[dict[str, object]]) -> None:
    """The Training tab's poller reads the tuning run as it reads a training run."""
    import queue

    from dashboard.pollers import FilePoller
    from dashboard.training import RunData, progress_and_eta

    out: queue.Queue[tuple[str, object]] = queue.Queue()
    FilePoller(run, None, out).poll()
    got = dict(out.get_nowait() for _ in range(out.qsize()))
    data = RunData()
    assert data.add(got["run"]["records"]) == len(lines)  # type: ignore[index]
    assert data.val_loss and progress_and_eta(data.last, None) == (1.0, 0.0)
    assert got["summary"]["adapter"] == "self-lora.gguf"  # type: ignore[index]


def test_the_dashboard_starts_a_tuning_run_in_the_folder_it_follows() -> None:
    from dashboard.training import train_command

    cmd = train_command(Path("models/lora/self"), 3, "lora", ["--steps", "2"])
    assert cmd[1:] == ["-m", "cli", "tune", "--circuit", "self", "--out", "models/lora",
                       "--minutes", "3", "--steps", "2"]
    with pytest.raises(ValueError, match="named after its circuit"):
        train_command(Path("models/origin"), 3, "lora")


def test_resume_after_kill_9_continues_from_the_last_checkpoint(
    models: Path, tmp_path: Path
) -> None:
    memory = make_archive(tmp_path / "memory", parts=1)
    run = models / "lora" / "self"
    args = ["--memory-dir", str(memory), *FAST, "--checkpoint-minutes", "0.0001"]
    child = subprocess.Popen(tune_cmd(*args, "--steps", "10000"), cwd=tmp_path,
                             env=tune_env(models, **tiny(models)), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and _checkpoint_step(run) < 3:
            time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    saved = _checkpoint_step(run)
    assert saved >= 3
    done = run_tune(models, *args, "--resume", "--steps", str(saved + 2), **tiny(models))
    assert done.returncode == 0, done.stderr
    assert f"from step {saved}" in done.stderr
    summary = json.loads((run / "tune.json").read_text())
    assert summary["step"] == saved + 2 and summary["stopped"] == "done"
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == saved + 2


def _checkpoint_step(run: Path) -> int:
    path = run / "checkpoint.pt"
    if not path.is_file():
        return 0
    import torch

    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["step"])
    except Exception:  # a rename in flight: look again
        return 0


def _refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert HANGUL.search(done.stderr) and "Traceback" not in done.stderr
    for word in words:
        assert word in done.stderr


def test_a_corrupt_gguf_is_refused_and_nothing_is_written(models: Path, tmp_path: Path) -> None:
    memory = make_archive(tmp_path / "memory", parts=1)
    (models / "cut.gguf").write_bytes(next(models.glob("tiny*.gguf")).read_bytes()[:4096])
    done = run_tune(models, "--memory-dir", memory, "--steps", "1",
                    ECHO_SELF_MODEL="cut.gguf")
    _refused(done, "not a readable GGUF")
    assert not (models / "lora").exists()


def test_a_non_llama_gguf_is_refused(models: Path, tmp_path: Path, demo_model: Path) -> None:
    memory = make_archive(tmp_path / "memory", parts=1)
    write_llama_gguf(models / "phi.gguf", demo_model, dim=32, layers=1, heads=2, kv_heads=2,
                     hidden=64, architecture="phi3")
    done = run_tune(models, "--memory-dir", memory, "--steps", "1", ECHO_SELF_MODEL="phi.gguf")
    _refused(done, "'phi3'", "supports llama")
    assert not (models / "lora").exists()


def test_an_empty_archive_is_refused(models: Path, tmp_path: Path) -> None:
    (tmp_path / "empty" / "day0101").mkdir(parents=True)
    done = run_tune(models, "--memory-dir", tmp_path / "empty", "--steps", "1", **tiny(models))
    _refused(done, "No archive")
    assert not (models / "lora").exists()


@pytest.mark.parametrize(("circuit", "env", "words"), [
    ("brain", {}, ("No circuit named 'brain'",)),
    ("emotion", {"ECHO_EMOTION_MODEL": "echo"}, ("runs 'echo'",)),
    ("creation", {"ECHO_CREATION_MODEL": "missing.gguf"}, ("model file is missing",)),
])
def test_a_missing_circuit_is_refused(models: Path, tmp_path: Path, circuit: str,
                                      env: dict[str, str], words: tuple[str, ...]) -> None:
    memory = make_archive(tmp_path / "memory", parts=1)
    done = run_tune(models, "--circuit", circuit, "--memory-dir", memory, "--steps", "1", **env)
    _refused(done, *words)
    assert not (models / "lora").exists()
