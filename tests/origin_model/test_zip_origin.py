"""`echo-brain zip` leaves the origin model out unless asked (with_origin_model)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from core.deploy.zip import write_zip

EXPORTED = ("origin-nano.gguf", "origin-nano.pth", "origin-nano.safetensors", "tokenizer.model",
            "train.json", "metrics.jsonl")
PRIVATE = ("checkpoint.pt", "data/train.bin", "data/val.bin", "data/tokenizer.model")


def tree(root: Path) -> Path:
    """A project with an exported origin model and its private training files."""
    (root / "core").mkdir(parents=True)
    (root / "core" / "x.py").write_text("X = 1\n")
    (root / "memory").mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "echo-brain"\nversion = "0.1.0"\n')
    origin = root / "models" / "origin"
    (origin / "data").mkdir(parents=True)
    for name in (*EXPORTED, *PRIVATE):
        (origin / name).write_bytes(b"model bytes " + name.encode())
    (root / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"demo")
    return root


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_the_origin_model_stays_out_by_default(tmp_path: Path) -> None:
    entries = names(write_zip(tree(tmp_path / "src"), tmp_path / "out").path)
    assert not [n for n in entries if n.startswith("models")]


def test_with_origin_model_adds_the_exported_files_only(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    report = write_zip(src, tmp_path / "out", with_origin_model=True)
    models = [n for n in names(report.path) if n.startswith("models")]
    assert models == ["models/", "models/origin/", *sorted(f"models/origin/{n}" for n in EXPORTED)]
    again = write_zip(src, tmp_path / "again", with_origin_model=True)
    assert again.path.read_bytes() == report.path.read_bytes()


def test_the_zip_command_takes_with_origin_model(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    src = tree(tmp_path / "src")
    args = [sys.executable, "-m", "cli", "zip", "--root", str(src), "--json"]
    plain = subprocess.run([*args, "--out", str(tmp_path / "a")], capture_output=True,
                           text=True, check=True)
    withm = subprocess.run([*args, "--out", str(tmp_path / "b"), "--with-origin-model"],
                           capture_output=True, text=True, check=True)
    assert not [n for n in names(Path(json.loads(plain.stdout)["path"])) if "origin-nano" in n]
    packed = names(Path(json.loads(withm.stdout)["path"]))
    assert "models/origin/origin-nano.gguf" in packed
    assert "models/origin/checkpoint.pt" not in packed
