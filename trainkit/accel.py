"""How the training step runs on this machine: bf16 autocast where the CPU has native bf16,
`torch.compile` where a C++ compiler is present, eager fp32 otherwise.

Chosen by held-out bits per byte after a fixed number of minutes, compile time included
(BENCHMARKS.md, "Origin model training"): on a 2-core AMD EPYC (Zen 4, avx512_bf16) the
compiled bf16 step ran 1.8x the plain eager fp32 loop. Each choice is a mechanism, not a
guess about the machine: bf16 needs the CPU's bf16 instructions (torch's own probe, else
/proc/cpuinfo's avx512_bf16 / amx_bf16), compile needs a C++ compiler on PATH, and a
compile that fails at the first step falls back to the eager step for the rest of the run.
`ECHO_TRAIN_BF16` and `ECHO_TRAIN_COMPILE` (0 or 1) override either.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

import torch

from core.deploy.cpu import cpu_flags

log = logging.getLogger(__name__)

BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
COMPILERS = ("c++", "g++", "clang++")
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def native_bf16_cpu(flags: set[str] | None = None) -> bool:
    """True when this CPU computes bf16 natively (AVX512-BF16 or AMX-BF16)."""
    if flags is not None:
        return bool(flags & BF16_FLAGS)
    probes = [getattr(torch.cpu, name, None)
              for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if all(probe is not None for probe in probes):
        return any(bool(probe()) for probe in probes if probe is not None)
    return bool(cpu_flags() & BF16_FLAGS)


def cxx_compiler() -> str | None:
    """The C++ compiler torch.compile's CPU backend would use (CXX, else the usual names)."""
    wanted = os.environ.get("CXX")
    for name in ((wanted,) if wanted else COMPILERS):
        found = shutil.which(name)
        if found:
            return found
    return None


def _override(name: str) -> bool | None:
    value = os.environ.get(name)
    return None if value not in ("0", "1") else value == "1"


@dataclass(frozen=True)
class StepPlan:
    """The precision and the compilation of the training step, and why."""

    bf16: bool
    compile: bool
    reason: str


def plan_step(device: torch.device) -> StepPlan:
    """What this machine supports, unless ECHO_TRAIN_BF16 / ECHO_TRAIN_COMPILE say otherwise."""
    if device.type == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
        compiler = None  # compile on GPUs is not measured here
    else:
        bf16 = native_bf16_cpu()
        compiler = cxx_compiler()
    reasons = ["bf16: native" if bf16 else "fp32: no native bf16",
               f"compile: {compiler}" if compiler else "eager: no C++ compiler"]
    forced_bf16, forced_compile = _override("ECHO_TRAIN_BF16"), _override("ECHO_TRAIN_COMPILE")
    if forced_bf16 is not None:
        bf16, reasons[0] = forced_bf16, f"bf16={int(forced_bf16)}: ECHO_TRAIN_BF16"
    use_compile = compiler is not None
    if forced_compile is not None:
        use_compile = forced_compile
        reasons[1] = f"compile={int(forced_compile)}: ECHO_TRAIN_COMPILE"
    return StepPlan(bf16, use_compile, "; ".join(reasons))


class StepLoss:
    """The model's loss, compiled when the plan says so; eager for good once compiling fails."""

    def __init__(self, model: torch.nn.Module, compile_it: bool) -> None:
        self.eager: Loss = model.loss  # type: ignore[assignment]
        self.compiled: Loss | None = torch.compile(self.eager) if compile_it else None
        self.fallback: str | None = None  # why the compiled step was given up

    @property
    def is_compiled(self) -> bool:
        """True while the compiled loss is in use."""
        return self.compiled is not None

    def give_up(self, exc: BaseException) -> None:
        """Compiling failed (a missing header, a broken toolchain): eager from now on."""
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        self.compiled = None
        self.fallback = f"{type(exc).__name__}: {first}"
        log.warning("torch.compile failed, training eagerly: %s", self.fallback)

    def __call__(self, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss = self.compiled or self.eager
        return loss(ids, targets)
