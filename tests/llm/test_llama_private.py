"""llama-cpp-python's private attributes: reached only through llm/llama_private.py, and each
one checked here against the pinned version on the real demo model."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import llama_cpp
import pytest

from core.settings import DEMO_MODEL_FILE
from llm import llama_private as private
from tests.conftest import models_dir

REPO = Path(__file__).resolve().parents[2]
PRIVATE = re.compile(r"\.(_ctx|_model|_stack|_input_ids|_requires_eval|_batch|_candidates)\b")


def test_the_checked_version_is_the_pinned_and_installed_one() -> None:
    pins = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"llama-cpp-python=={private.CHECKED_VERSION}" in pins
    assert llama_cpp.__version__ == private.CHECKED_VERSION == "0.3.36"


def test_no_other_module_touches_them() -> None:
    found = [f"{path.relative_to(REPO)}:{n}"
             for pkg in ("api", "core", "llm", "cli", "benchmarks", "tune", "origin_model")
             for path in sorted((REPO / pkg).rglob("*.py")) if path.name != "llama_private.py"
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if PRIVATE.search(line.replace("self._", "self."))]
    assert found == []


@pytest.fixture
def llama() -> llama_cpp.Llama:
    demo = models_dir() / DEMO_MODEL_FILE
    if not demo.is_file():
        pytest.fail(f"demo model missing at {demo}: run scripts/setup.sh")
    return llama_cpp.Llama(model_path=str(demo), n_ctx=256, n_threads=1, verbose=False)


def test_every_accessor_works_on_the_real_model(llama: llama_cpp.Llama) -> None:
    assert private.context_handle(llama) and private.model_handle(llama)
    tokens = llama.tokenize(b"hello there, how are you")
    llama.eval(tokens)
    assert private.live_tokens(llama) == tokens
    assert private.token_text(llama, llama.token_eos())  # e.g. '<|im_end|>'
    private.drop_cells(llama, 2)
    llama.n_tokens = 2
    private.logits_stale(llama)
    assert private.live_tokens(llama) == tokens[:2] and llama._requires_eval is True
    closed: list[bool] = []
    private.on_close(llama, lambda: closed.append(True))
    llama.close()
    assert closed == [True]
