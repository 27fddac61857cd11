"""The models manifest (`models.toml`) and which model file each circuit uses."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.errors import ConfigError
from core.settings import CIRCUIT_NAMES, DEMO_MODEL_FILE, Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFEST_NAME = "models.toml"
APPROX_TOLERANCE = 0.10  # a file within ±10 % of `size_approx` counts as that model

CircuitKind = Literal["demo", "gguf", "echo", "remote"]


@dataclass(frozen=True)
class ModelEntry:
    """One downloadable model file named by the manifest."""

    circuit: str
    name: str
    filename: str
    repo_id: str = ""
    revision: str = "main"
    size: int | None = None
    size_approx: int | None = None
    wheel: str = ""
    sha256: str = ""

    @property
    def expected_size(self) -> int | None:
        """The exact size when recorded, else the approximate one."""
        return self.size if self.size is not None else self.size_approx

    def size_matches(self, actual: int) -> bool:
        """Exact comparison when an exact size is recorded, else within ±10 %."""
        if self.size is not None:
            return actual == self.size
        if self.size_approx is not None:
            return abs(actual - self.size_approx) <= APPROX_TOLERANCE * self.size_approx
        return actual > 0


@dataclass(frozen=True)
class ModelsManifest:
    """Every entry of `models.toml`."""

    path: Path
    entries: tuple[ModelEntry, ...]

    def by_filename(self, filename: str) -> ModelEntry | None:
        """The entry whose filename is this file's base name."""
        base = Path(filename).name
        return next((e for e in self.entries if e.filename == base), None)

    def for_circuit(self, circuit: str) -> ModelEntry | None:
        """The pod default of a circuit ('demo' for the demo model)."""
        return next((e for e in self.entries if e.circuit == circuit), None)


@dataclass(frozen=True)
class CircuitModel:
    """What one circuit is configured to run, resolved against the models folder."""

    circuit: str
    kind: CircuitKind
    spec: str
    path: Path | None
    entry: ModelEntry | None

    @property
    def needs_file(self) -> bool:
        """True for circuits that load a local GGUF file."""
        return self.kind in ("demo", "gguf")


def find_manifest(root: Path | None = None) -> Path:
    """`models.toml` in `root`, else in the working directory, else beside the code."""
    candidates = [root / MANIFEST_NAME] if root else []
    candidates += [Path.cwd() / MANIFEST_NAME, REPO_ROOT / MANIFEST_NAME]
    return next((p for p in candidates if p.is_file()), candidates[-1])


def _bad_manifest(path: Path, detail: str) -> ConfigError:
    return ConfigError(
        f"Bad models manifest {path}: {detail}. Fix the file (see the comments at its top).",
        f"모델 목록 파일 {path}이(가) 잘못되었습니다: {detail}. 파일 맨 위 설명을 보고 고치세요.",
    )


def _entry(path: Path, raw: dict[str, Any], index: int) -> ModelEntry:
    for key in ("circuit", "filename"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise _bad_manifest(path, f"[[model]] #{index + 1} needs a '{key}' string")
    if not raw.get("repo_id") and not raw.get("wheel"):
        raise _bad_manifest(path, f"[[model]] #{index + 1} needs 'repo_id' or 'wheel'")
    for key in ("size", "size_approx"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, int) or value <= 0):
            raise _bad_manifest(path, f"[[model]] #{index + 1}: '{key}' must be a positive int")
    if Path(raw["filename"]).name != raw["filename"]:
        raise _bad_manifest(path, f"[[model]] #{index + 1}: 'filename' must be a bare file name")
    return ModelEntry(
        circuit=raw["circuit"],
        name=str(raw.get("name", raw["filename"])),
        filename=raw["filename"],
        repo_id=str(raw.get("repo_id", "")),
        revision=str(raw.get("revision", "main")),
        size=raw.get("size"),
        size_approx=raw.get("size_approx"),
        wheel=str(raw.get("wheel", "")),
        sha256=str(raw.get("sha256", "")),
    )


def load_models_manifest(path: Path | None = None) -> ModelsManifest:
    """Read and validate `models.toml` (tomllib); a bad file raises ConfigError."""
    path = path or find_manifest()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"Models manifest not found: {path}. Run from the project folder or pass --manifest.",
            f"모델 목록 파일이 없습니다: {path}. 프로젝트 폴더에서 실행하거나 --manifest를 주세요.",
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _bad_manifest(path, str(exc)) from None
    models = data.get("model", [])
    if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
        raise _bad_manifest(path, "expected [[model]] tables")
    entries = tuple(_entry(path, raw, i) for i, raw in enumerate(models))
    names = [e.filename for e in entries]
    if len(set(names)) != len(names):
        raise _bad_manifest(path, "a filename is listed twice")
    return ModelsManifest(path=path, entries=entries)


def circuit_kind(spec: str) -> CircuitKind:
    """Classify a model string as ECHO_*_MODEL accepts it."""
    if not spec:
        return "demo"
    if spec == "echo":
        return "echo"
    if spec.startswith(("http://", "https://")):
        return "remote"
    return "gguf"


def resolve_circuits(settings: Settings, manifest: ModelsManifest | None) -> list[CircuitModel]:
    """Each circuit's kind, local file (if any) and manifest entry (if any)."""
    resolved = []
    for circuit in CIRCUIT_NAMES:
        spec = settings.model_spec(circuit)
        kind = circuit_kind(spec)
        path: Path | None = None
        entry: ModelEntry | None = None
        if kind == "demo":
            path = settings.models_dir / DEMO_MODEL_FILE
        elif kind == "gguf":
            path = settings.models_dir / spec
        if path is not None and manifest is not None:
            entry = manifest.by_filename(path.name)
        resolved.append(CircuitModel(circuit, kind, spec, path, entry))
    return resolved
