"""A compiler that fails at the first step: `echo-brain train` goes on with the eager step."""

from __future__ import annotations

import json
from pathlib import Path

from tests.origin_model.conftest import SMALL, TrainedRun, run_train


def test_a_broken_compiler_falls_back_to_the_eager_step(
    trained: TrainedRun, tmp_path: Path,
) -> None:
    broken = tmp_path / "broken-c++"
    broken.write_text("#!/bin/sh\necho 'fatal error: no toolchain' >&2\nexit 1\n")
    broken.chmod(0o755)
    models = tmp_path / "models"
    trained.copy_to(models / "origin")
    done = run_train(models, "--memory-dir", trained.memory, "--steps", "3", *SMALL,
                     ECHO_TRAIN_COMPILE="1", CXX=str(broken),
                     TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "inductor"))
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((models / "origin" / "train.json").read_text())
    assert summary["step"] == 3 and summary["compile"] is False
    assert summary["compile_fallback"], summary
    assert (models / "origin" / "origin-nano.gguf").stat().st_size > 0
