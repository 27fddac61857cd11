"""The VRAM plan: KV-cache formula, header stubs of the pod models, the real demo model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from core.deploy.gguf_header import read_gguf_info
from core.deploy.models import resolve_circuits
from core.deploy.plan import GIB, MIB, build_plan, kv_cache_bytes, overhead_bytes
from core.settings import load_settings
from tests.core.deploy.conftest import DEEPSEEK_67B, LLAMA3_8B, MIXTRAL, write_header


def test_kv_formula_matches_the_known_figures() -> None:
    assert kv_cache_bytes(32, 8192, 8, 128, 128) == 1 * GIB  # Llama-3-8B
    assert kv_cache_bytes(32, 8192, 32, 128, 128) == 4 * GIB  # DeepSeek-Coder-6.7B
    assert kv_cache_bytes(32, 4096, 8, 128, 128) == GIB // 2


def test_overhead_estimate_is_fixed_plus_attention_scores() -> None:
    # 512 MiB + 32 heads x 8192 x 512 tokens x 4 bytes (= 512 MiB)
    assert overhead_bytes(32, 8192) == 1 * GIB
    assert overhead_bytes(9, 4096) == 512 * MIB + 9 * 4096 * 512 * 4


@pytest.mark.parametrize(("arch", "kv_gib"), [(LLAMA3_8B, 1), (DEEPSEEK_67B, 4), (MIXTRAL, 1)])
def test_header_metadata_gives_the_kv_cache(tmp_path: Path, arch, kv_gib: int) -> None:
    info = read_gguf_info(write_header(tmp_path / arch.filename, arch))
    assert (info.block_count, info.head_count_kv, info.key_length) == (32, arch.kv_heads, 128)
    assert info.architecture == "llama" and info.file_type == "Q4_K_M"
    assert info.context_length == arch.ctx and info.expert_count == arch.experts
    kv = kv_cache_bytes(info.block_count, 8192, info.head_count_kv, info.key_length,
                        info.value_length)
    assert kv == kv_gib * GIB
    # weights come from the declared tensor infos, not from the (tiny) stub's file size
    assert info.file_size < 1_000_000 < info.weights_bytes and info.truncated


def test_weights_of_the_stubs_are_the_real_models_sizes(pod_models: Path) -> None:
    gb = {p.name: read_gguf_info(p).weights_bytes / 1e9 for p in pod_models.iterdir()}
    assert 25 < gb[MIXTRAL.filename] < 28  # ~26.4 GB
    assert 3.5 < gb[DEEPSEEK_67B.filename] < 4.3  # ~4.1 GB
    assert 4.2 < gb[LLAMA3_8B.filename] < 5.0  # ~4.9 GB


@pytest.mark.parametrize(("n_ctx", "kv"), [(4096, {"emotion": 0.5, "creation": 2, "self": 0.5}),
                                           (8192, {"emotion": 1, "creation": 4, "self": 1})])
def test_plan_48_gib_fits_the_pod_models(pod_models: Path, cli: Callable, n_ctx: int,
                                         kv: dict[str, float]) -> None:
    result = cli("plan", "--gpu-gb", "48", "--n-ctx", str(n_ctx), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["fits"] is True and doc["gpu_bytes"] == 48 * GIB and doc["n_ctx"] == n_ctx
    circuits = {c["circuit"]: c for c in doc["circuits"]}
    for name, gib in kv.items():
        c = circuits[name]
        assert c["kv_bytes"] == gib * GIB
        assert c["overhead_bytes"] == overhead_bytes(32, n_ctx)
        assert c["total_bytes"] == c["weights_bytes"] + c["kv_bytes"] + c["overhead_bytes"]
        assert c["n_gpu_layers"] == -1 and c["layers"] == 32
    assert doc["suggested_n_gpu_layers"] == -1
    assert doc["total_bytes"] == sum(c["total_bytes"] for c in doc["circuits"])
    assert 35 * GIB < doc["total_bytes"] < 48 * GIB


def test_plan_on_a_small_gpu_suggests_offloading(pod_models: Path, cli: Callable) -> None:
    doc = json.loads(cli("plan", "--gpu-gb", "24", "--n-ctx", "8192", "--json").output)
    assert doc["fits"] is False
    circuits = {c["circuit"]: c for c in doc["circuits"]}
    # the two small circuits stay whole on the GPU, Mixtral gets the layers that still fit
    assert circuits["self"]["n_gpu_layers"] == -1 and circuits["creation"]["n_gpu_layers"] == -1
    assert 0 < circuits["emotion"]["n_gpu_layers"] < 32
    used = sum(c["total_bytes"] for c in (circuits["self"], circuits["creation"]))
    mixtral = circuits["emotion"]
    per_layer = (mixtral["weights_bytes"] + mixtral["kv_bytes"]) / 32
    assert used + mixtral["overhead_bytes"] + mixtral["n_gpu_layers"] * per_layer <= 24 * GIB
    assert 0 < doc["suggested_n_gpu_layers"] < 32
    table = cli("plan", "--gpu-gb", "24", "--n-ctx", "8192")
    assert "does not fit" in table.output and "ECHO_N_GPU_LAYERS=" in table.output


def test_echo_and_remote_circuits_take_no_vram(pod_models: Path, monkeypatch, cli) -> None:
    monkeypatch.setenv("ECHO_EMOTION_MODEL", "echo")
    monkeypatch.setenv("ECHO_CREATION_MODEL", "http://10.0.0.5:8000/v1#mixtral")
    plan = build_plan(resolve_circuits(load_settings(), None), 8192, gpu_gb=48)
    by = {c.circuit: c for c in plan.circuits}
    assert by["emotion"].total_bytes == 0 and by["creation"].total_bytes == 0
    assert by["emotion"].n_gpu_layers is None and by["self"].kv_bytes == GIB


def test_plan_reports_a_missing_model_and_exits_1(pod_models: Path, monkeypatch, cli) -> None:
    monkeypatch.setenv("ECHO_SELF_MODEL", "nowhere.gguf")
    result = cli("plan", "--gpu-gb", "48")
    assert result.exit_code == 1 and "not found" in result.output


def test_plan_without_gpu_says_so(cli, monkeypatch, pod_models: Path) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no nvidia-smi
    result = cli("plan")
    assert result.exit_code == 0 and "no GPU detected" in result.output


def test_plan_on_the_real_demo_model(demo_model: Path, cli: Callable) -> None:
    result = cli("plan", "--gpu-gb", "8", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    for c in doc["circuits"]:  # the demo model serves all three circuits
        assert c["model"] == demo_model.name and c["layers"] == 30
        assert c["head_count_kv"] == 3 and c["head_dim"] == 64
        assert c["weights_bytes"] == read_gguf_info(demo_model).weights_bytes
        assert c["kv_bytes"] == kv_cache_bytes(30, 4096, 3, 64, 64)
    assert doc["fits"] is True
    table = cli("plan", "--gpu-gb", "8")
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in table.output and "fits" in table.output
