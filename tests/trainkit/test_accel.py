"""The training step's plan: bf16 where the CPU has it, compile where a compiler is, fallbacks."""

from __future__ import annotations

import pytest
import torch

from trainkit import accel
from trainkit.accel import StepLoss, native_bf16_cpu, plan_step

CPU = torch.device("cpu")


def test_bf16_follows_the_cpu_flags() -> None:
    assert native_bf16_cpu({"avx2", "avx512f", "avx512_bf16"})
    assert native_bf16_cpu({"avx2", "amx_tile", "amx_bf16"})
    assert not native_bf16_cpu({"avx2", "fma", "avx512f"})  # AVX-512 without bf16: fp32
    assert not native_bf16_cpu(set())


def test_without_bf16_or_a_compiler_the_step_is_eager_fp32(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(accel, "native_bf16_cpu", lambda flags=None: False)
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    plan = plan_step(CPU)
    assert (plan.bf16, plan.compile) == (False, False)
    assert "no native bf16" in plan.reason and "no C++ compiler" in plan.reason


def test_the_variables_override_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_TRAIN_BF16", "0")
    monkeypatch.setenv("ECHO_TRAIN_COMPILE", "0")
    plan = plan_step(CPU)
    assert (plan.bf16, plan.compile) == (False, False) and "ECHO_TRAIN_BF16" in plan.reason
    monkeypatch.setenv("ECHO_TRAIN_BF16", "1")
    assert plan_step(CPU).bf16 is True


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch._dynamo's own, at import
def test_giving_up_the_compiled_loss_keeps_the_same_numbers() -> None:
    from origin_model.config import ModelConfig
    from origin_model.model import Transformer

    torch.manual_seed(0)
    model = Transformer(ModelConfig(vocab_size=64, dim=32, n_layers=1, n_heads=1,
                                    hidden_dim=64, context=16))
    ids = torch.randint(0, 64, (2, 16))
    loss = StepLoss(model, compile_it=False)
    assert not loss.is_compiled and torch.equal(loss(ids, ids), model.loss(ids, ids))
    compiled = StepLoss(model, compile_it=True)
    compiled.give_up(RuntimeError("C++ compile error\nmore"))
    assert not compiled.is_compiled and compiled.fallback == "RuntimeError: C++ compile error"
    assert torch.equal(compiled(ids, ids), model.loss(ids, ids))

