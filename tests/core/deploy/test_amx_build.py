"""The llama.cpp build never carries AMX kernels, on any CPU (AMD included).

The installed library is checked for the AMX matmul symbol itself, the detector is shown to
find that symbol when it is there, and every build path takes its flags from the one script
that turns AMX off.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from core.deploy.cpu import AMX_SYMBOL, libraries_with, parse_features, read_build_info

REPO = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPO / "scripts" / "llama_build.sh"


def _profile(profile: str) -> dict[str, str]:
    out = subprocess.run(
        ["bash", "-c", f'source "{BUILD_SCRIPT}" && llama_build_env {profile} && '
         'printf "%s\\n%s\\n%s\\n" "$CMAKE_ARGS" "$CFLAGS" "$CXXFLAGS" && '
         'llama_build_key 0.3.36 "$CMAKE_ARGS"'],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    return {"cmake_args": out[0], "cflags": out[1], "cxxflags": out[2], "key": out[3]}


def test_the_installed_library_has_no_amx_kernels() -> None:
    info = read_build_info()
    assert info.amx_libraries == [], info.amx_libraries
    assert not info.has_amx, info.system_info
    assert "AVX2" in info.enabled or "NEON" in info.enabled, info.system_info


def test_the_detector_finds_the_amx_symbol_when_a_library_has_it(tmp_path: Path) -> None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("a C compiler is required (setup needs one to build llama-cpp-python)")
    src = tmp_path / "amx.c"
    src.write_text(f"void {AMX_SYMBOL.decode()}(void) {{}}\nvoid other(void) {{}}\n")
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(tmp_path / "libfake.so"), str(src)],
                   check=True)
    (tmp_path / "clean.so").write_bytes(b"\x7fELF" + b"\0" * 4096)
    assert libraries_with(AMX_SYMBOL, tmp_path) == [tmp_path / "libfake.so"]


def test_system_info_features_are_parsed() -> None:
    text = "CPU : SSE3 = 1 | AVX2 = 1 | AMX_INT8 = 0 | LLAMAFILE = 1 | "
    assert parse_features(text) == {"SSE3": True, "AVX2": True, "AMX_INT8": False,
                                     "LLAMAFILE": True}


@pytest.mark.parametrize("profile", ["native", "portable", "cuda"])
def test_every_profile_turns_amx_off_for_c_and_cpp(profile: str) -> None:
    flags = _profile(profile)
    for flag in ("-mno-amx-tile", "-mno-amx-int8", "-mno-amx-bf16"):
        assert flag in flags["cflags"].split() and flag in flags["cxxflags"].split()
    for define in ("-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF"):
        assert define in flags["cmake_args"].split()
    if profile != "native":  # images and volumes may start on another host
        assert "-DGGML_NATIVE=OFF" in flags["cmake_args"].split()


def test_the_wheel_cache_key_changes_with_the_flags() -> None:
    keys = {p: _profile(p)["key"] for p in ("native", "portable", "cuda")}
    assert len(set(keys.values())) == 3
    same = subprocess.run(
        ["bash", "-c", f'source "{BUILD_SCRIPT}" && llama_build_env native && '
         'CFLAGS="" llama_build_key 0.3.36 "$CMAKE_ARGS"'],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert same != keys["native"]  # the same CMAKE_ARGS with other compiler flags


def test_every_build_path_uses_the_shared_flags() -> None:
    setup = (REPO / "scripts" / "setup.sh").read_text()
    launcher = (REPO / "runpod_launcher.sh").read_text()
    docker = (REPO / "Dockerfile").read_text()
    assert "source scripts/llama_build.sh" in setup and "llama_build_key" in setup
    assert "--no-install-package llama-cpp-python" in setup  # never uv's cached build
    assert 'source "$APP_DIR/scripts/llama_build.sh"' in launcher and "build cuda" in launcher
    assert "--no-cache-dir" in launcher and "--no-binary llama-cpp-python" in launcher
    assert ". scripts/llama_build.sh && llama_build_env cuda" in docker
    assert "--no-cache" in docker and "GGML_NATIVE=ON" not in docker
    assert docker.count("--no-install-package llama-cpp-python") == 2


def test_scan_reports_the_build_and_fails_an_amx_build(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.deploy import scan
    from core.deploy.cpu import BuildInfo

    report = scan.run_scan()
    checks = {c.name: c for c in report.checks}
    assert checks["llama.cpp build"].level == "ok" and "AVX" in checks["llama.cpp build"].detail
    assert checks["AMX"].level == "ok" and "without AMX" in checks["AMX"].detail

    amx = BuildInfo("CPU : AVX2 = 1 | AMX_INT8 = 1 |", {"AVX2": True, "AMX_INT8": True})
    monkeypatch.setattr(scan, "read_build_info", lambda: amx)
    report = scan.run_scan()
    check = next(c for c in report.checks if c.name == "AMX")
    assert check.level == "fail" and report.blocking
    assert "scripts/setup.sh" in check.detail and "AMX 없이" in check.detail
