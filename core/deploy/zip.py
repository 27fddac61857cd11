"""The deploy zip (SPEC §10): deterministic, self-checked, never a secret or a model.

Rules:
- included: the folders api/ cli/ core/ llm/ origin_model/ trainkit/ tune/ dashboard/
  (every package of the wheel: `echo-brain train` and `tune` run on the pod) manifest/ origin/
  ui/ memory/ docs/ (the README's pages) and the files runpod_launcher.sh
  scripts/llama_build.sh scripts/tokens.sh pyproject.toml uv.lock README.md .env.example
  models.toml Dockerfile (those that exist);
- memory/: its day folders and part files, unless --no-memory; the folder entry
  `memory/` (and its .gitkeep) always. The search index (*.sqlite3, *.db and their
  -wal/-shm/-journal files), the vector graph (*.usearch), insight.json and lock files
  are left out: the boot replay and the recall indexer rebuild them;
- never, at any depth: .git, .gitignore, __pycache__, *.pyc, .env (and .env.* but
  .env.example), memory_backup/, tests/, test_*.py, *.gguf, virtual environments
  (.venv, venv, any folder holding pyvenv.cfg), dist/, build/, *.egg-info, tool
  caches, dev notes (NOTES*, TODO*, editor files, *.log), symlinks (not followed);
- deterministic: sorted entries, 1980-01-01 timestamps, 0644 files, 0755 for *.sh
  and folders, deflate level 9; the same tree gives the same bytes;
- models/: only with --with-origin-model (models/origin/, the exported files) or
  --with-lora (models/lora/**: *.gguf adapters and their tune.json, `zip_lora`);
- refused when an entry contains the configured ECHO_ORIGIN_TOKEN/ECHO_ACCESS_TOKEN
  value (tokens shorter than 8 characters are not searched for).
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from core.deploy.zip_lora import is_lora_entry, lora_entries
from core.errors import ConfigError, ZipError

INCLUDE_DIRS = ("api", "cli", "core", "llm", "origin_model", "trainkit", "tune", "dashboard",
                "manifest", "origin", "ui", "memory", "docs")
INCLUDE_FILES = ("runpod_launcher.sh", "scripts/llama_build.sh", "scripts/tokens.sh",
                 "pyproject.toml", "uv.lock", "README.md", ".env.example", "models.toml",
                 "Dockerfile")
NEVER_DIRS = {".git", "__pycache__", "memory_backup", "tests", ".venv", "venv", "dist", "build",
              "node_modules", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", ".nox",
              ".idea", ".vscode", ".cache", ".tools", ".ipynb_checkpoints"}
NEVER_FILES = (".gitignore", ".gitattributes", ".env", ".env.*", "*.pyc", "*.pyo", "test_*.py",
               "*_test.py", "conftest.py", "*.gguf", "*.egg-info", "*.log", "*.swp", "*.swo", "*~",
               ".DS_Store", "Thumbs.db", "NOTES*", "TODO*", "notes*.md", "todo*.md", "*.orig",
               "*.rej", "*.zip")
MEMORY_GENERATED = ("*.sqlite3", "*.sqlite", "*.db", "*-wal", "*-shm", "*-journal",
                    "insight.json", "insight.json.*", "*.lock", "*.tmp", "*.usearch")
ALLOWED = (".env.example",)
# --with-origin-model: the exported origin model (never its checkpoint or token files)
ORIGIN_MODEL_DIR = "models/origin"
ORIGIN_MODEL_FILES = ("origin-*.gguf", "origin-*.pth", "origin-*.safetensors",
                      "tokenizer.model", "train.json", "metrics.jsonl")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
MIN_TOKEN_SCAN = 8



@dataclass(frozen=True)
class ZipReport:
    """What was written."""

    path: Path
    size: int
    files: int
    entries: tuple[str, ...]


def find_root(start: Path | None = None) -> Path:
    """The project root: the nearest folder holding pyproject.toml, else beside the code."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return Path(__file__).resolve().parents[2]


def project_version(root: Path) -> str:
    """The version from pyproject.toml."""
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
        return str(data["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"Cannot read the version from {root / 'pyproject.toml'}: {exc}.",
            f"{root / 'pyproject.toml'}에서 버전을 읽을 수 없습니다: {exc}.",
        ) from None


def is_forbidden(name: str) -> bool:
    """True for an archive path (a/b/c, folders end with '/') that must never ship."""
    parts = name.rstrip("/").split("/")
    if any(p in NEVER_DIRS or p.endswith(".egg-info") for p in parts[:-1]):
        return True
    last = parts[-1]
    if name.endswith("/"):
        return last in NEVER_DIRS or last.endswith(".egg-info")
    if last in ALLOWED:
        return False
    if parts[0] == "memory" and any(fnmatch.fnmatchcase(last, p) for p in MEMORY_GENERATED):
        return True
    return any(fnmatch.fnmatchcase(last, p) for p in NEVER_FILES)


def _walk(root: Path, top: str, with_contents: bool) -> list[str]:
    names = [f"{top}/"]
    base = root / top
    for folder, dirs, files in os.walk(base):
        rel = Path(folder).relative_to(root).as_posix()
        dirs[:] = sorted(d for d in dirs if not (Path(folder, d).is_symlink()
                                                 or (Path(folder, d) / "pyvenv.cfg").exists()
                                                 or is_forbidden(f"{rel}/{d}/")))
        for f in files:
            name = f"{rel}/{f}"
            if Path(folder, f).is_symlink() or is_forbidden(name):
                continue
            if with_contents or (top == "memory" and f == ".gitkeep" and rel == "memory"):
                names.append(name)
    return names


def origin_model_entries(root: Path) -> list[str]:
    """The exported origin model's files under models/origin/ (plain files only)."""
    folder = root / ORIGIN_MODEL_DIR
    if not folder.is_dir() or folder.is_symlink() or (root / "models").is_symlink():
        return []
    names = [f"{ORIGIN_MODEL_DIR}/{p.name}" for p in folder.iterdir()
             if p.is_file() and not p.is_symlink()
             and any(fnmatch.fnmatchcase(p.name, pat) for pat in ORIGIN_MODEL_FILES)]
    return ["models/", f"{ORIGIN_MODEL_DIR}/", *names] if names else []


def _is_origin_model(name: str) -> bool:
    folder, _, last = name.rpartition("/")
    if name in ("models/", f"{ORIGIN_MODEL_DIR}/"):
        return True
    return folder == ORIGIN_MODEL_DIR and any(fnmatch.fnmatchcase(last, p)
                                              for p in ORIGIN_MODEL_FILES)


def intended_entries(root: Path, include_memory: bool = True,
                     with_origin_model: bool = False, with_lora: bool = False) -> list[str]:
    """Every archive path to write, sorted (folders end with '/')."""
    names: list[str] = origin_model_entries(root) if with_origin_model else []
    names += lora_entries(root) if with_lora else []
    for top in INCLUDE_DIRS:
        path = root / top
        if top == "memory" or (path.is_dir() and not path.is_symlink()):
            names += _walk(root, top, include_memory or top != "memory")
    names += [f for f in INCLUDE_FILES if (root / f).is_file() and not (root / f).is_symlink()]
    return sorted(set(names))


def _zipinfo(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.create_system = 3  # Unix, so external_attr holds the mode
    if name.endswith("/"):
        info.external_attr = (0o40755 << 16) | 0x10
        info.compress_type = zipfile.ZIP_STORED
    else:
        mode = 0o755 if name.endswith(".sh") else 0o644
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _secrets(tokens: list[str]) -> list[bytes]:
    return [t.encode() for t in tokens if t and len(t) >= MIN_TOKEN_SCAN]


def write_zip(root: Path, out_dir: Path, include_memory: bool = True,
              tokens: list[str] | None = None, with_origin_model: bool = False,
              with_lora: bool = False) -> ZipReport:
    """Write dist/echo-brain-<version>.zip atomically, then check it; raise ZipError."""
    names = intended_entries(root, include_memory, with_origin_model, with_lora)
    secrets = _secrets(tokens or [])
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"echo-brain-{project_version(root)}.zip"
    tmp = target.with_name(target.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            for name in names:
                data = b"" if name.endswith("/") else (root / name).read_bytes()
                if any(s in data for s in secrets):
                    raise ZipError(
                        f"{name} contains a configured token value: remove it, then zip again.",
                        f"{name}에 설정된 토큰 값이 들어 있습니다: 지우고 다시 압축하세요.",
                    )
                zf.writestr(_zipinfo(name), data, compress_type=None if name.endswith("/")
                            else zipfile.ZIP_DEFLATED, compresslevel=9)
        check_zip(tmp, names, allow_origin_model=with_origin_model, allow_lora=with_lora)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    files = sum(not n.endswith("/") for n in names)
    return ZipReport(target, target.stat().st_size, files, tuple(names))


def check_zip(path: Path, expected: list[str], allow_origin_model: bool = False,
              allow_lora: bool = False) -> None:
    """Reopen the zip: CRCs good, exactly the intended entries, nothing forbidden."""
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile) as exc:
        raise ZipError(f"The zip does not reopen: {exc}.",
                       f"압축 파일을 다시 열 수 없습니다: {exc}.") from None
    problem = ""
    if bad is not None:
        problem = f"bad CRC in {bad}"
    elif names != expected:
        problem = "the entries differ from the intended list"
    elif forbidden := [n for n in names if is_forbidden(n)
                       and not (allow_origin_model and _is_origin_model(n))
                       and not (allow_lora and is_lora_entry(n))]:
        problem = f"forbidden entries {forbidden[:5]}"
    if problem:
        raise ZipError(f"The zip check failed: {problem}.", f"압축 파일 검사 실패: {problem}.")
