"""Builds the three circuits from settings: the only place that knows every backend kind.

Each llama circuit runs its model in a worker process (`llm.process_backend`) with a thread
count that fits the machine, and warms its static prompt prefixes before it says ready.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from core.context import static_prefix
from core.identity import Manifest
from core.merge import SYNTHESIS_INSTRUCTION
from core.settings import CIRCUIT_NAMES, DEMO_MODEL_FILE, Settings
from llm.backend import Backend, BackendError
from llm.circuit import Circuit
from llm.personas import PERSONAS


def is_remote(spec: str) -> bool:
    """True for an OpenAI-compatible base URL (`http://host:port/v1#model`)."""
    return spec.startswith(("http://", "https://"))


def is_local_model(spec: str) -> bool:
    """True when the circuit runs a GGUF here (not `echo`, not remote)."""
    return spec != "echo" and not is_remote(spec)


def model_path(settings: Settings, spec: str) -> Path:
    """The GGUF path a spec names ('' = the demo model), relative to ECHO_MODELS_DIR."""
    path = Path(spec or DEMO_MODEL_FILE).expanduser()
    return path if path.is_absolute() else settings.models_dir / path


def adapter_path(settings: Settings, circuit: str) -> Path | None:
    """The circuit's LoRA adapter (ECHO_<CIRCUIT>_LORA), relative to ECHO_MODELS_DIR; None."""
    spec = settings.lora_spec(circuit)
    if not spec:
        return None
    path = Path(spec).expanduser()
    return path if path.is_absolute() else settings.models_dir / path


def configured_adapter(settings: Settings, circuit: str) -> dict[str, object] | None:
    """The adapter a circuit is set to load, for /ready before (or instead of) loading it."""
    path = adapter_path(settings, circuit)
    if path is None:
        return None
    return {"file": path.name, "scale": settings.lora_scale(circuit)}


def _checked_adapter(settings: Settings, circuit: str, spec: str) -> Path | None:
    """The adapter path, refused (BackendError naming the variable) where it cannot apply."""
    path = adapter_path(settings, circuit)
    if path is None:
        return None
    var = f"ECHO_{circuit.upper()}_LORA"
    if not is_local_model(spec):
        raise BackendError(
            f"{var} applies to a local .gguf model, not {spec!r}: unset it or serve a GGUF "
            f"/ {var}는 로컬 .gguf 모델에만 쓸 수 있습니다"
        )
    if not path.is_file():
        raise BackendError(
            f"LoRA adapter not found: {path} (fix {var}; a relative path is under "
            f"ECHO_MODELS_DIR) / LoRA 어댑터 파일이 없습니다"
        )
    return path


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask, not the host's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def thread_plan(settings: Settings, cores: int | None = None) -> int:
    """Threads per local circuit: ECHO_N_THREADS, else the cores shared by the local circuits.

    The three circuits answer at the same time, so each gets its share of the cores and
    they never oversubscribe them (BENCHMARKS.md has the measurements behind this).
    On a GPU pod the same split applies: with every layer offloaded the CPU threads only
    feed the GPU, and a share per circuit keeps them from contending.
    """
    if settings.n_threads is not None:
        return settings.n_threads
    local = sum(is_local_model(settings.model_spec(name)) for name in CIRCUIT_NAMES)
    return max(1, (cores or cpu_count()) // max(1, local))


def prefixes_for(name: str, settings: Settings, manifests: Sequence[Manifest]) -> list[str]:
    """The static system prefixes a circuit warms at load (the synthesis adds a second)."""
    persona = PERSONAS[name]
    texts = [static_prefix(persona, manifests)]
    if name == "self" and settings.merge == "synthesize":
        texts.append(static_prefix(persona + "\n\n" + SYNTHESIS_INSTRUCTION, manifests))
    return texts


def backend_factory(
    settings: Settings, circuit: str, manifests: Sequence[Manifest] = ()
) -> Callable[[], Backend]:
    """A function that builds the circuit's backend (called on the loader thread)."""
    spec = settings.model_spec(circuit)

    def build() -> Backend:
        lora = _checked_adapter(settings, circuit, spec)
        if spec == "echo":
            from llm.echo_backend import EchoBackend

            return EchoBackend(circuit)
        if is_remote(spec):
            from llm.remote_backend import RemoteBackend

            return RemoteBackend.from_spec(spec, timeout_s=settings.circuit_timeout_s,
                                           api_key=settings.api_key(circuit))
        path = model_path(settings, spec)
        if path.suffix.lower() != ".gguf":
            raise BackendError(
                f"ECHO_{circuit.upper()}_MODEL must be a .gguf file, 'echo' or an http(s) URL, "
                f"got {path.name!r} / .gguf 파일, 'echo' 또는 URL이어야 합니다"
            )
        if not path.is_file():
            raise BackendError(
                f"model file not found: {path} "
                f"(set ECHO_{circuit.upper()}_MODEL or run `echo-brain fetch-models`) "
                "/ 모델 파일이 없습니다"
            )
        from llm.config import LlamaConfig
        from llm.process_backend import ProcessBackend

        threads = thread_plan(settings)
        config = LlamaConfig(
            model_path=str(path),
            n_ctx=settings.n_ctx,
            n_gpu_layers=settings.n_gpu_layers,
            n_threads=threads,
            n_threads_batch=threads,
            prefixes=prefixes_for(circuit, settings, manifests),
            lora_path=str(lora) if lora is not None else None,
            lora_scale=settings.lora_scale(circuit),
            cache_dir=str(settings.prefix_cache_dir) if settings.cache_max_mb else None,
            cache_max_bytes=settings.cache_max_mb << 20,
        )
        return ProcessBackend(config)

    return build


def build_circuits(settings: Settings, manifests: Sequence[Manifest] = ()) -> dict[str, Circuit]:
    """The three circuits, not yet loaded."""
    return {
        name: Circuit(
            name,
            PERSONAS[name],
            backend_factory(settings, name, manifests),
            queue_size=settings.queue_size,
            timeout_s=settings.circuit_timeout_s,
            adapter=configured_adapter(settings, name),
            origin_only=settings.origin_only(name),
        )
        for name in CIRCUIT_NAMES
    }
