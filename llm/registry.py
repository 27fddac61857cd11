"""Builds the three circuits from settings: the only place that knows every backend kind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.settings import CIRCUIT_NAMES, DEMO_MODEL_FILE, Settings
from llm.backend import Backend, BackendError
from llm.circuit import Circuit
from llm.personas import PERSONAS


def is_remote(spec: str) -> bool:
    """True for an OpenAI-compatible base URL (`http://host:port/v1#model`)."""
    return spec.startswith(("http://", "https://"))


def model_path(settings: Settings, spec: str) -> Path:
    """The GGUF path a spec names ('' = the demo model), relative to ECHO_MODELS_DIR."""
    path = Path(spec or DEMO_MODEL_FILE).expanduser()
    return path if path.is_absolute() else settings.models_dir / path


def backend_factory(settings: Settings, circuit: str) -> Callable[[], Backend]:
    """A function that builds the circuit's backend (called on the loader thread)."""
    spec = settings.model_spec(circuit)

    def build() -> Backend:
        if spec == "echo":
            from llm.echo_backend import EchoBackend

            return EchoBackend(circuit)
        if is_remote(spec):
            from llm.remote_backend import RemoteBackend

            return RemoteBackend.from_spec(spec, timeout_s=settings.circuit_timeout_s)
        path = model_path(settings, spec)
        if path.suffix.lower() != ".gguf":
            raise BackendError(
                f"ECHO_{circuit.upper()}_MODEL must be a .gguf file, 'echo' or an http(s) URL, "
                f"got {path.name!r} / .gguf 파일, 'echo' 또는 URL이어야 합니다"
            )
        from llm.llama_backend import LlamaBackend

        return LlamaBackend(
            path,
            n_ctx=settings.n_ctx,
            n_gpu_layers=settings.n_gpu_layers,
            n_threads=settings.n_threads,
        )

    return build


def build_circuits(settings: Settings) -> dict[str, Circuit]:
    """The three circuits, not yet loaded."""
    return {
        name: Circuit(
            name,
            PERSONAS[name],
            backend_factory(settings, name),
            queue_size=settings.queue_size,
            timeout_s=settings.circuit_timeout_s,
        )
        for name in CIRCUIT_NAMES
    }
