"""VRAM budget of the configured circuits from their GGUF headers.

Per circuit (each circuit loads its own copy of its model, so a file used by
two circuits counts twice):

- weights: the tensor bytes the header declares (sum of every tensor's n_bytes);
- KV cache, f16: 2 (K and V) x layers x n_ctx x kv_heads x head_dim x 2 bytes
  (with key_length/value_length when the header gives them);
- compute overhead, an estimate: a fixed 512 MiB (CUDA context, cuBLAS workspace,
  llama.cpp scratch) plus the f32 attention scores of one 512-token micro-batch
  (head_count x n_ctx x 512 x 4 bytes), llama.cpp's largest compute buffer
  without flash attention. For Llama-3-8B at 8192 that is 0.5 + 0.5 GiB.

When the sum does not fit, layers are offloaded: one layer costs
(weights + KV) / layers; the smallest circuits stay whole on the GPU and the
next one gets the layers that still fit (`ECHO_N_GPU_LAYERS` per circuit), and
one global `ECHO_N_GPU_LAYERS` value that fits when applied to all is suggested.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.deploy.gguf_header import GGUFInfo, read_gguf_info
from core.deploy.models import CircuitModel
from core.errors import ConfigError

GIB = 1 << 30
MIB = 1 << 20
FIXED_OVERHEAD = 512 * MIB
MICRO_BATCH = 512


@dataclass(frozen=True)
class Gpu:
    """One GPU as nvidia-smi reports it."""

    name: str
    total_bytes: int
    used_bytes: int


@dataclass
class CircuitBudget:
    """One circuit's share of the GPU memory."""

    circuit: str
    kind: str
    model: str
    architecture: str = ""
    quantization: str = ""
    layers: int = 0
    context_length: int = 0
    head_count: int = 0
    head_count_kv: int = 0
    head_dim: int = 0
    weights_bytes: int = 0
    kv_bytes: int = 0
    overhead_bytes: int = 0
    n_gpu_layers: int | None = None  # suggestion: -1 all, 0 none, None = takes no VRAM
    error: str = ""

    @property
    def total_bytes(self) -> int:
        """Weights + KV cache + overhead."""
        return self.weights_bytes + self.kv_bytes + self.overhead_bytes

    @property
    def per_layer_bytes(self) -> float:
        """What one offloaded layer costs (weights and KV spread over the layers)."""
        return (self.weights_bytes + self.kv_bytes) / self.layers if self.layers else 0.0


@dataclass
class VramPlan:
    """The budget of every circuit against the GPU memory."""

    n_ctx: int
    gpu_bytes: int | None
    gpu_source: str
    circuits: list[CircuitBudget] = field(default_factory=list)
    suggested_n_gpu_layers: int | None = None

    @property
    def total_bytes(self) -> int:
        """The sum over the circuits."""
        return sum(c.total_bytes for c in self.circuits)

    @property
    def fits(self) -> bool | None:
        """Whether everything fits (None when the GPU memory is unknown)."""
        return None if self.gpu_bytes is None else self.total_bytes <= self.gpu_bytes

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready document."""
        circuits = [asdict(c) | {"total_bytes": c.total_bytes} for c in self.circuits]
        return {
            "n_ctx": self.n_ctx, "gpu_bytes": self.gpu_bytes, "gpu_source": self.gpu_source,
            "total_bytes": self.total_bytes, "fits": self.fits,
            "suggested_n_gpu_layers": self.suggested_n_gpu_layers, "circuits": circuits,
        }


def kv_cache_bytes(layers: int, n_ctx: int, kv_heads: int, key_len: int, value_len: int) -> int:
    """f16 KV cache: layers x n_ctx x kv_heads x (key_len + value_len) x 2 bytes."""
    return layers * n_ctx * kv_heads * (key_len + value_len) * 2


def overhead_bytes(head_count: int, n_ctx: int) -> int:
    """Compute overhead estimate: fixed 512 MiB + one micro-batch of f32 attention scores."""
    return FIXED_OVERHEAD + head_count * n_ctx * MICRO_BATCH * 4


def detect_gpus() -> list[Gpu]:
    """GPUs from nvidia-smi; an empty list when there is none or it fails."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    query = "--query-gpu=name,memory.total,memory.used"
    try:
        out = subprocess.run([exe, query, "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=15, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            gpus.append(Gpu(parts[0], int(parts[1]) * MIB, int(parts[2]) * MIB))
    return gpus


def budget_for(circuit: CircuitModel, n_ctx: int, info: GGUFInfo | None) -> CircuitBudget:
    """One circuit's weights, KV cache and overhead (echo and remote take no VRAM)."""
    model = circuit.path.name if circuit.path else circuit.spec
    budget = CircuitBudget(circuit.circuit, circuit.kind, model)
    if info is None:
        return budget
    budget.architecture, budget.quantization = info.architecture, info.file_type
    budget.layers, budget.context_length = info.block_count, info.context_length
    budget.head_count, budget.head_count_kv = info.head_count, info.head_count_kv
    budget.head_dim = info.key_length
    budget.weights_bytes = info.weights_bytes
    budget.kv_bytes = kv_cache_bytes(info.block_count, n_ctx, info.head_count_kv,
                                     info.key_length, info.value_length)
    budget.overhead_bytes = overhead_bytes(info.head_count, n_ctx)
    return budget


def _layers_fitting(budget: CircuitBudget, free: float) -> int:
    if budget.total_bytes <= free:
        return budget.layers
    if not budget.per_layer_bytes or free <= budget.overhead_bytes:
        return 0
    return min(budget.layers, int((free - budget.overhead_bytes) // budget.per_layer_bytes))


def _cost_with_global(budgets: list[CircuitBudget], k: int) -> float:
    if k == 0:
        return 0.0
    return sum(min(k, b.layers) * b.per_layer_bytes + b.overhead_bytes for b in budgets)


def suggest_offload(plan: VramPlan) -> None:
    """Fill per-circuit and global ECHO_N_GPU_LAYERS suggestions into the plan."""
    on_gpu = [c for c in plan.circuits if c.layers and not c.error]
    if plan.gpu_bytes is None or not on_gpu:
        return
    free = float(plan.gpu_bytes)
    for budget in sorted(on_gpu, key=lambda b: b.total_bytes):
        n = _layers_fitting(budget, free)
        budget.n_gpu_layers = -1 if n == budget.layers else n
        if n:
            free -= n * budget.per_layer_bytes + budget.overhead_bytes
    most = max(b.layers for b in on_gpu)
    k = max((k for k in range(most + 1) if _cost_with_global(on_gpu, k) <= plan.gpu_bytes),
            default=0)
    plan.suggested_n_gpu_layers = -1 if k == most else k


def build_plan(
    circuits: list[CircuitModel], n_ctx: int, gpu_gb: float | None = None,
    gpus: list[Gpu] | None = None,
) -> VramPlan:
    """The VRAM plan: --gpu-gb (GiB) wins, else the detected GPUs' total memory."""
    if gpu_gb is not None:
        gpu_bytes: int | None = int(gpu_gb * GIB)
        source = "--gpu-gb"
    else:
        gpus = detect_gpus() if gpus is None else gpus
        gpu_bytes = sum(g.total_bytes for g in gpus) if gpus else None
        source = "nvidia-smi" if gpus else "none"
    plan = VramPlan(n_ctx=n_ctx, gpu_bytes=gpu_bytes, gpu_source=source)
    cache: dict[Path, GGUFInfo] = {}
    for circuit in circuits:
        info, error = None, ""
        if circuit.needs_file and circuit.path is not None:
            try:
                info = cache.get(circuit.path) or read_gguf_info(circuit.path)
                cache[circuit.path] = info
            except ConfigError as exc:
                error = exc.message
        budget = budget_for(circuit, n_ctx, info)
        budget.error = error
        plan.circuits.append(budget)
    suggest_offload(plan)
    return plan
