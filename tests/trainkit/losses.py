"""The losses of a few steps of `echo-brain train` and `echo-brain tune`, fixed seed, one thread.

`python -m tests.trainkit.losses` writes them to reference_losses.json; the test runs the same
commands and compares. The reference was recorded from the code before the training kit
(trainkit/) took over the run loop, so the test proves the refactor changed no figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.tune_fixture import write_llama_gguf
from tests.origin_model.archive import make_archive

REPO = Path(__file__).resolve().parents[2]
REFERENCE = Path(__file__).with_name("reference_losses.json")
DEMO_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# the loss on every token at 2e-3, the defaults before issue 24 (replies' tokens at 4e-3)
TRAIN_ARGS = ["--steps", "6", "--batch-size", "8", "--threads", "1", "--targets", "all",
              "--lr", "2e-3", "--json"]
TUNE_ARGS = ["--steps", "5", "--context", "48", "--batch-size", "2", "--threads", "1",
             "--rank", "4", "--json"]
PER_STEP = ("step", "train_loss", "val_loss", "val_bpb", "lr", "tokens_seen")


def _env(models: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECHO_")}
    env.update({"ECHO_MODELS_DIR": str(models), "PYTHONPATH": str(REPO), "COLUMNS": "200",
                "ECHO_TRAIN_BF16": "0", "ECHO_TRAIN_COMPILE": "0", "OMP_NUM_THREADS": "1",
                "OMP_WAIT_POLICY": "passive"})
    env.update(extra)
    return env


def _run(command: str, models: Path, args: list[str], **env: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "cli", command, *args], cwd=models.parent,
                          env=_env(models, **env), capture_output=True, text=True,
                          timeout=600, check=False)
    if done.returncode != 0:
        raise AssertionError(f"echo-brain {command} failed: {done.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def _figures(run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {"steps": [{k: line[k] for k in PER_STEP} for line in lines],
            "best_val_loss": summary["best_val_loss"], "step": summary["step"],
            "tokens_seen": summary["tokens_seen"]}


def train_figures(root: Path) -> dict[str, Any]:
    """`echo-brain train --steps 6` on the test archive: per-step metrics and the summary."""
    memory = make_archive(root / "train-memory")
    models = root / "train-models"
    models.mkdir()
    summary = _run("train", models, ["--memory-dir", str(memory), *TRAIN_ARGS])
    return _figures(models / "origin", summary)


def tune_figures(root: Path, demo_model: Path) -> dict[str, Any]:
    """`echo-brain tune --steps 5` of a tiny random llama on the test archive."""
    memory = make_archive(root / "tune-memory", parts=1)
    models = root / "tune-models"
    models.mkdir()
    tiny = models / "tiny-llama.Q4_0.gguf"
    write_llama_gguf(tiny, demo_model, dim=64, layers=2, heads=4, kv_heads=2, hidden=128)
    summary = _run("tune", models, ["--memory-dir", str(memory), *TUNE_ARGS],
                   ECHO_SELF_MODEL=tiny.name)
    return _figures(models / "lora" / "self", summary)


def main() -> None:
    """Record the reference (run from the repository root, after `make setup-dev`)."""
    import tempfile

    demo = Path(os.environ.get("ECHO_MODELS_DIR", REPO / "models")).resolve() / DEMO_FILE
    with tempfile.TemporaryDirectory() as folder:
        doc = {"train": train_figures(Path(folder)), "tune": tune_figures(Path(folder), demo)}
    REFERENCE.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
