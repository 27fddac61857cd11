"""`echo-brain zip --with-lora`: the LoRA adapters under models/lora/ and their tune.json.

`echo-brain tune` writes to models/lora/ (its default `--out`), one folder per run or
circuit at any depth. Only the adapters (*.gguf) and their records (tune.json, or
<name>.tune.json beside <name>.gguf) ship: never checkpoints, metrics, token caches or
anything else a tuning run leaves there. Without the flag every *.gguf stays out.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

LORA_DIR = "models/lora"
LORA_FILES = ("*.gguf", "tune.json", "*.tune.json")
SKIPPED_DIRS = {"__pycache__", ".git", "checkpoints", "data"}


def _is_lora_file(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in LORA_FILES)


def lora_entries(root: Path) -> list[str]:
    """Archive paths of every adapter and tune.json under models/lora/, with their folders."""
    base = root / LORA_DIR
    if not base.is_dir() or base.is_symlink() or (root / "models").is_symlink():
        return []
    files: list[str] = []
    for folder, dirs, names in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS
                         and not Path(folder, d).is_symlink())
        rel = Path(folder).relative_to(root).as_posix()
        files += [f"{rel}/{n}" for n in sorted(names)
                  if _is_lora_file(n) and not Path(folder, n).is_symlink()]
    folders = {"models/"}
    for name in files:
        parts = name.split("/")[:-1]
        folders.update("/".join(parts[:i]) + "/" for i in range(2, len(parts) + 1))
    return sorted(folders) + files if files else []


def is_lora_entry(name: str) -> bool:
    """True for an archive path `lora_entries` may add (the check after writing)."""
    if name == "models/":
        return True
    if not name.startswith(f"{LORA_DIR}/"):
        return False
    parts = name.rstrip("/").split("/")
    if any(p in SKIPPED_DIRS for p in parts):
        return False
    return name.endswith("/") or _is_lora_file(parts[-1])
