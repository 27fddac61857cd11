"""Diagnostics, the origin's `factory_ct_scan`: what this machine and configuration hold."""

from __future__ import annotations

import platform
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from core.circuits import adapter_path
from core.deploy.cpu import AMX_FIX, cpu_flags, read_build_info
from core.deploy.gguf_header import GGUFInfo, read_gguf_info
from core.deploy.models import CircuitModel, find_manifest, load_models_manifest, resolve_circuits
from core.deploy.plan import VramPlan, build_plan, detect_gpus
from core.errors import ConfigError
from core.settings import Settings, load_settings
from llm.adapter import check_adapter
from llm.backend import BackendError
from llm.prefix_cache import cache_stats

Level = Literal["ok", "warn", "fail"]
DAY_RE = re.compile(r"^day\d+$")
PART_RE = re.compile(r"^part\d+\.txt$")


@dataclass
class Check:
    """One line of the scan: what was looked at, the verdict and the detail."""

    section: str
    name: str
    level: Level
    detail: str


@dataclass
class ScanReport:
    """Every check, the circuits' header facts and the VRAM plan."""

    checks: list[Check] = field(default_factory=list)
    plan: VramPlan | None = None

    def add(self, section: str, name: str, level: Level, detail: str) -> None:
        """Record one check."""
        self.checks.append(Check(section, name, level, detail))

    @property
    def blocking(self) -> bool:
        """True when a check failed (the scan then exits 1)."""
        return any(c.level == "fail" for c in self.checks)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready document."""
        return {
            "ok": not self.blocking,
            "checks": [asdict(c) for c in self.checks],
            "plan": self.plan.to_dict() if self.plan else None,
        }


def _scan_runtime(report: ScanReport) -> None:
    report.add("runtime", "python", "ok", f"{platform.python_version()} ({platform.machine()})")
    try:
        import llama_cpp
    except Exception as exc:  # a broken native build raises more than ImportError
        report.add("runtime", "llama-cpp-python", "fail", f"cannot import: {exc}")
        return
    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    report.add("runtime", "llama-cpp-python", "ok",
               f"{llama_cpp.__version__}, GPU offload {'supported' if gpu else 'not supported'}")
    _scan_build(report)
    gpus = detect_gpus()
    if not gpus:
        report.add("runtime", "gpu", "ok", "none (nvidia-smi absent or no GPU): CPU inference")
    for i, g in enumerate(gpus):
        report.add("runtime", f"gpu{i}", "ok" if gpu else "warn",
                   f"{g.name}, {g.total_bytes / 2**30:.1f} GiB, {g.used_bytes / 2**30:.1f} GiB used"
                   + ("" if gpu else "; llama-cpp-python has no GPU offload: rebuild with CUDA"))


def _scan_build(report: ScanReport) -> None:
    """The CPU features llama.cpp was built with and uses; an AMX build is blocking."""
    try:
        build = read_build_info()
    except Exception as exc:  # a broken native build raises more than ImportError
        report.add("runtime", "llama.cpp build", "warn", f"no system info: {exc}")
        return
    report.add("runtime", "llama.cpp build", "ok", ", ".join(build.enabled) or build.system_info)
    amx_cpu = sorted(f for f in cpu_flags() if f.startswith("amx"))
    if build.has_amx:
        where = ", ".join(p.name for p in build.amx_libraries) or "AMX features on"
        report.add("runtime", "AMX", "fail",
                   f"llama.cpp was built with AMX kernels ({where}); they crash on "
                   f"Sapphire-Rapids-class VMs: {AMX_FIX}")
    else:
        cpu = f"this CPU has {' '.join(amx_cpu)}, unused" if amx_cpu else "this CPU has none"
        report.add("runtime", "AMX", "ok", f"built without AMX kernels ({cpu})")


def _model_detail(info: GGUFInfo) -> str:
    params = f"{info.parameters / 1e9:.2f} B params" if info.parameters else "params ?"
    return (f"{info.architecture}, {info.file_type} ({info.quantization}), {params}, "
            f"ctx {info.context_length}, {info.file_size / 1e9:.2f} GB")


def _scan_circuits(report: ScanReport, settings: Settings) -> None:
    try:
        manifest = load_models_manifest(find_manifest())
        report.add("config", "models.toml", "ok",
                   f"{manifest.path} ({len(manifest.entries)} models)")
    except ConfigError as exc:
        manifest = None
        report.add("config", "models.toml", "warn", exc.message)
    circuits = resolve_circuits(settings, manifest)
    for c in circuits:
        if not c.needs_file or c.path is None:
            report.add("circuits", c.circuit, "ok", f"{c.kind}: {c.spec} (no local file)")
            _scan_adapter(report, settings, c)
            continue
        label = f"{c.kind}: {c.path}"
        try:
            info = read_gguf_info(c.path)
        except ConfigError as exc:
            report.add("circuits", c.circuit, "fail", f"{label}: {exc.message}")
            continue
        if info.truncated:
            report.add("circuits", c.circuit, "fail",
                       f"{label}: truncated ({info.file_size} of {info.data_end} bytes)")
            continue
        report.add("circuits", c.circuit, "ok", f"{label}: {_model_detail(info)}")
        _scan_adapter(report, settings, c)
        if settings.n_ctx > info.context_length > 0:
            report.add("circuits", f"{c.circuit} n_ctx", "warn",
                       f"ECHO_N_CTX {settings.n_ctx} > trained context {info.context_length}")
    _scan_prefix_cache(report, settings)
    report.plan = build_plan(circuits, settings.n_ctx)
    if report.plan.fits is False:
        report.add("vram", "plan", "warn", "the models do not fit the GPU: see the plan "
                   f"(ECHO_N_GPU_LAYERS={report.plan.suggested_n_gpu_layers})")


def _scan_adapter(report: ScanReport, settings: Settings, c: CircuitModel) -> None:
    """The circuit's LoRA adapter: a real adapter, made for this very model (fingerprint)."""
    path = adapter_path(settings, c.circuit)
    if path is None:
        return
    name, var = f"{c.circuit} lora", f"ECHO_{c.circuit.upper()}_LORA"
    if not c.needs_file or c.path is None:
        report.add("circuits", name, "fail", f"{var} applies to a local .gguf model, not {c.spec}")
        return
    try:
        doc = check_adapter(path, c.path, settings.lora_scale(c.circuit))
    except BackendError as exc:
        report.add("circuits", name, "fail", f"{var}: {exc}")
        return
    shape = f"{path}: rank {doc['rank']}, alpha {doc['alpha']}, scale {doc['scale']:g}"
    if doc["warning"]:
        report.add("circuits", name, "warn", f"{shape}; {doc['warning']}")
        return
    report.add("circuits", name, "ok", f"{shape}; base {doc['base_fingerprint'][:12]} "
               f"= {c.path.name} {doc['model_fingerprint'][:12]} (matches / 일치)")
def _scan_prefix_cache(report: ScanReport, settings: Settings) -> None:
    """The evaluated-prefix cache: where, how many files, how full."""
    if not settings.cache_max_mb:
        report.add("cache", "prefix cache", "ok", "off (ECHO_CACHE_MAX_MB=0)")
        return
    stats = cache_stats(settings.prefix_cache_dir)
    newest = stats["newest"]
    used = "never used" if newest is None else time.strftime(
        "last used %Y-%m-%d %H:%M", time.localtime(newest))
    report.add("cache", "prefix cache", "ok",
               f"{stats['path']}: {stats['files']} files, {stats['bytes'] / 2**20:.1f} of "
               f"{settings.cache_max_mb} MB (ECHO_CACHE_MAX_MB), {used}")


def count_lines(path: Path) -> int:
    """Newline count, read in 1 MiB chunks (cheap)."""
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def memory_stats(root: Path) -> dict[str, int]:
    """Day folders, part files (depth 1 or 2), lines and bytes of the archive."""
    stats = {"days": 0, "parts": 0, "lines": 0, "bytes": 0}
    if not root.is_dir():
        return stats
    for day in sorted(p for p in root.iterdir() if p.is_dir() and DAY_RE.match(p.name)):
        parts = [p for p in day.iterdir() if p.is_file() and PART_RE.match(p.name)]
        parts += [p for sub in day.iterdir() if sub.is_dir()
                  for p in sub.iterdir() if p.is_file() and PART_RE.match(p.name)]
        stats["days"] += bool(parts)
        stats["parts"] += len(parts)
        for part in parts:
            stats["lines"] += count_lines(part)
            stats["bytes"] += part.stat().st_size
    return stats


def _scan_data(report: ScanReport, settings: Settings) -> None:
    try:
        s = memory_stats(settings.memory_dir)
        level: Level = "ok" if settings.memory_dir.is_dir() else "warn"
        report.add("memory", "archive", level,
                   f"{settings.memory_dir}: {s['days']} days, {s['parts']} parts, "
                   f"{s['lines']} lines, {s['bytes'] / 1e6:.1f} MB")
    except OSError as exc:
        report.add("memory", "archive", "warn", f"{settings.memory_dir}: {exc}")
    folder = settings.manifest_dir
    manifests = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    report.add("memory", "manifests", "ok" if manifests else "warn",
               f"{settings.manifest_dir}: {', '.join(p.name for p in manifests) or 'none'}")
    for var, secret in (("ECHO_ORIGIN_TOKEN", settings.origin_token),
                        ("ECHO_ACCESS_TOKEN", settings.access_token)):
        report.add("tokens", var, "ok", "set" if secret is not None else "unset")


def run_scan(settings: Settings | None = None) -> ScanReport:
    """Every check; bad settings are a blocking problem, not an exception."""
    report = ScanReport()
    _scan_runtime(report)
    if settings is None:
        try:
            settings = load_settings()
        except ConfigError as exc:
            report.add("config", "settings", "fail", exc.message)
            return report
    report.add("config", "settings", "ok",
               f"models dir {settings.models_dir}, n_ctx {settings.n_ctx}")
    _scan_circuits(report, settings)
    _scan_data(report, settings)
    return report
