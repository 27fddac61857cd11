"""Bad input: a bilingual error, exit 2, nothing half-written, previous model intact."""

from __future__ import annotations

import resource
import subprocess
from pathlib import Path

import pytest

from tests.origin_model.conftest import SMALL, STEPS, TrainedRun, run_train, train_cmd, train_env
from tests.origin_model.test_train_cli import digests, leftovers

HANGUL = range(0xAC00, 0xD7A4)


def bilingual(text: str) -> bool:
    """English and Korean both present."""
    return any(c.isascii() and c.isalpha() for c in text) and any(ord(c) in HANGUL for c in text)


def assert_refused(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit 2, a bilingual message holding fragments, and no traceback."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert bilingual(done.stderr) and "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr


def test_no_archive(tmp_path: Path) -> None:
    (tmp_path / "memory").mkdir()
    done = run_train(tmp_path / "models", "--memory-dir", tmp_path / "memory", "--steps", "1")
    assert_refused(done, "No archive", "아카이브")
    assert not list((tmp_path / "models").rglob("*.gguf"))


def test_archive_too_small_for_a_validation_split(tmp_path: Path) -> None:
    day = tmp_path / "memory" / "day0101"
    day.mkdir(parents=True)
    (day / "part1.txt").write_text("나의 말:\n안녕\nChatGPT의 말:\n안녕하세요\n", encoding="utf-8")
    done = run_train(tmp_path / "models", "--memory-dir", tmp_path / "memory", "--steps", "1")
    assert_refused(done, "too small", "검증")
    assert not list((tmp_path / "models").rglob("*.gguf"))
    assert not list((tmp_path / "models").rglob("*.tmp"))


def test_torch_missing(tmp_path: Path) -> None:
    shim = tmp_path / "shim" / "torch"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('No module named torch')\n")
    models = tmp_path / "models"
    env = train_env(models)
    env["PYTHONPATH"] = f"{tmp_path / 'shim'}:{env['PYTHONPATH']}"
    done = subprocess.run(train_cmd("--steps", "1"), cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert_refused(done, "torch", "bash scripts/setup.sh --train", "설치")
    assert not models.exists()


@pytest.mark.parametrize("args", [["--steps", "3", "--minutes", "1"], ["--size", "huge"]])
def test_bad_options(tmp_path: Path, args: list[str]) -> None:
    assert_refused(run_train(tmp_path / "models", *args), "--")


def test_resume_with_another_size(trained: TrainedRun, tmp_path: Path) -> None:
    models = tmp_path / "models"
    trained.copy_to(models / "origin")
    done = run_train(models, "--memory-dir", trained.memory, "--steps", "20", "--resume",
                     "--size", "small", *SMALL)
    assert_refused(done, "--size nano")


def test_disk_full_keeps_the_previous_model(trained: TrainedRun, tmp_path: Path) -> None:
    models = tmp_path / "models"
    out = trained.copy_to(models / "origin")
    before = digests(out)

    def small_disk() -> None:  # writes past 1 MB fail with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    done = subprocess.run(train_cmd("--memory-dir", trained.memory, "--steps", str(STEPS + 2),
                                    "--resume", *SMALL),
                          cwd=tmp_path, env=train_env(models), capture_output=True, text=True,
                          timeout=600, check=False, preexec_fn=small_disk)
    assert_refused(done, "disk", "디스크")
    assert digests(out) == before
    assert not leftovers(out)
