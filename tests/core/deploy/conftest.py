"""Fixtures for the deploy tools: a CLI runner and GGUF header stubs written with gguf."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from cli.deploy import register

Q4_K = gguf.GGMLQuantizationType.Q4_K


@dataclass(frozen=True)
class Arch:
    """The shape of a llama-family model, as its GGUF header says it."""

    filename: str
    layers: int
    ctx: int
    embd: int
    heads: int
    kv_heads: int
    ff: int
    vocab: int
    experts: int = 0


LLAMA3_8B = Arch("Meta-Llama-3-8B-Instruct-Q4_K_M.gguf", 32, 8192, 4096, 32, 8, 14336, 128256)
DEEPSEEK_67B = Arch("deepseek-coder-6.7b-instruct.Q4_K_M.gguf", 32, 16384, 4096, 32, 32, 11008,
                    32256)
MIXTRAL = Arch("mixtral-8x7b-instruct-v0.1.Q4_K_M.gguf", 32, 32768, 4096, 32, 8, 14336, 32000,
               experts=8)


def _tensors(a: Arch) -> list[tuple[str, tuple[int, ...]]]:
    kv = a.embd // a.heads * a.kv_heads
    ffn = (a.experts, a.ff, a.embd) if a.experts else (a.ff, a.embd)
    out = [("token_embd.weight", (a.vocab, a.embd)), ("output.weight", (a.vocab, a.embd))]
    for i in range(a.layers):
        out += [(f"blk.{i}.attn_q.weight", (a.embd, a.embd)),
                (f"blk.{i}.attn_k.weight", (kv, a.embd)),
                (f"blk.{i}.attn_v.weight", (kv, a.embd)),
                (f"blk.{i}.attn_output.weight", (a.embd, a.embd))]
        out += [(f"blk.{i}.ffn_{p}.weight", ffn) for p in ("gate", "up", "down")]
    return out


def write_header(path: Path, a: Arch) -> Path:
    """A GGUF file holding only the header: metadata and Q4_K tensor infos, no tensor data."""
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name(path.stem)
    writer.add_block_count(a.layers)
    writer.add_context_length(a.ctx)
    writer.add_embedding_length(a.embd)
    writer.add_feed_forward_length(a.ff)
    writer.add_head_count(a.heads)
    writer.add_head_count_kv(a.kv_heads)
    writer.add_vocab_size(a.vocab)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    if a.experts:
        writer.add_expert_count(a.experts)
    for name, shape in _tensors(a):
        n_bytes = int(np.prod(shape)) * 144 // 256
        writer.add_tensor_info(name, shape, np.dtype(np.float32), n_bytes, raw_dtype=Q4_K)
    writer.write_header_to_file(path)
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    return path


@pytest.fixture
def pod_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models folder with header stubs of the three pod models, configured as the circuits."""
    folder = tmp_path / "pod_models"
    folder.mkdir()
    for var, arch in (("EMOTION", MIXTRAL), ("CREATION", DEEPSEEK_67B), ("SELF", LLAMA3_8B)):
        write_header(folder / arch.filename, arch)
        monkeypatch.setenv(f"ECHO_{var}_MODEL", arch.filename)
    monkeypatch.setenv("ECHO_MODELS_DIR", str(folder))
    return folder


@dataclass
class CliResult:
    """Exit code and output of one command."""

    exit_code: int
    output: str


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    """Run a deploy command through typer's CliRunner on an app that register() filled."""
    app = typer.Typer()
    register(app)

    def invoke(*args: str) -> CliResult:
        result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return CliResult(result.exit_code, result.output)

    return invoke


@pytest.fixture
def demo_model() -> Path:
    """The real demo GGUF that setup extracts (the test fails when it is not there)."""
    import os

    path = Path(os.environ["ECHO_MODELS_DIR"]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        pytest.fail(f"demo model not extracted at {path} (run scripts/setup.sh)")
    return path
