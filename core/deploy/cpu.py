"""What the installed llama.cpp was built with, and whether it carries ggml's AMX kernels.

ggml's AMX matmul (`ggml_backend_amx_mul_mat`) dies with a general protection fault on
Sapphire-Rapids-class VMs (llama.cpp issue #20824), so Echo Brain builds without it
(scripts/llama_build.sh) and `echo-brain scan` flags a build that has it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

AMX_SYMBOL = b"ggml_backend_amx_mul_mat"
AMX_FIX = (
    "rebuild llama-cpp-python without AMX: `rm -rf ~/.cache/echo-brain/llama-wheels "
    ".venv/.llama-build-key && bash scripts/setup.sh` (flags in scripts/llama_build.sh) / "
    "AMX 없이 다시 빌드하세요"
)
FEATURE_RE = re.compile(r"([A-Z][A-Z0-9_]*)\s*=\s*(\d+)")


@dataclass
class BuildInfo:
    """llama_print_system_info() read as features, plus the libraries with AMX kernels."""

    system_info: str
    features: dict[str, bool] = field(default_factory=dict)
    amx_libraries: list[Path] = field(default_factory=list)

    @property
    def enabled(self) -> list[str]:
        """Features compiled in and used, by name."""
        return sorted(name for name, on in self.features.items() if on)

    @property
    def has_amx(self) -> bool:
        """True when any AMX feature is on or a library holds the AMX matmul."""
        return bool(self.amx_libraries) or any(
            on for name, on in self.features.items() if name.startswith("AMX")
        )


def parse_features(system_info: str) -> dict[str, bool]:
    """`SSE3 = 1 | AVX2 = 1 | AMX_INT8 = 0 | …` → {"SSE3": True, …}."""
    return {name: value != "0" for name, value in FEATURE_RE.findall(system_info)}


def libraries_with(symbol: bytes, folder: Path) -> list[Path]:
    """Shared libraries under `folder` whose bytes contain `symbol` (read in chunks)."""
    found = []
    for lib in sorted(folder.rglob("*.so*")):
        if lib.is_file() and _contains(lib, symbol):
            found.append(lib)
    return found


def _contains(path: Path, needle: bytes) -> bool:
    tail = b""
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            if needle in tail + chunk:
                return True
            tail = chunk[-len(needle) :]
    return False


def read_build_info() -> BuildInfo:
    """Ask the installed llama-cpp-python (raises ImportError when it is missing)."""
    import llama_cpp

    raw = llama_cpp.llama_print_system_info()
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    package = Path(llama_cpp.__file__).parent
    return BuildInfo(text.strip(), parse_features(text), libraries_with(AMX_SYMBOL, package))


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """This CPU's feature flags (empty where /proc/cpuinfo is absent)."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith(("flags", "Features")):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()
