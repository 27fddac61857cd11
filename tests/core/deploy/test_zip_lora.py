"""`echo-brain zip --with-lora`: adapters and their tune.json only, never without the flag."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from core.deploy.zip import ZipError, write_zip

SHIPPED = ("models/lora/self.gguf", "models/lora/tune.json",
           "models/lora/emotion/run-1/adapter.gguf", "models/lora/emotion/run-1/tune.json",
           "models/lora/creation/adapter.gguf", "models/lora/creation/adapter.tune.json")
KEPT = ("models/lora/emotion/run-1/checkpoint.pt", "models/lora/emotion/run-1/metrics.jsonl",
        "models/lora/self.gguf.tmp", "models/lora/checkpoints/step-100.gguf",
        "models/lora/data/tokens.bin", "models/lora/.env", "models/lora/notes.txt",
        "models/SmolLM2-135M-Instruct.Q4_1.gguf", "models/origin/origin-nano.gguf",
        "core/weights.gguf")


def tree(root: Path) -> Path:
    """A project with tuned adapters beside everything a tuning run leaves that must not ship."""
    (root / "memory").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "echo-brain"\nversion = "0.1.0"\n')
    for rel in ("core/x.py", *SHIPPED, *KEPT):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"bytes of " + rel.encode())
    return root


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_adapters_stay_out_without_the_flag(tmp_path: Path) -> None:
    entries = names(write_zip(tree(tmp_path / "src"), tmp_path / "out").path)
    assert not [n for n in entries if n.startswith("models") or n.endswith(".gguf")]


def test_with_lora_adds_the_adapters_and_their_records_only(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    report = write_zip(src, tmp_path / "out", with_lora=True)
    models = [n for n in names(report.path) if n.startswith("models")]
    files = sorted(n for n in models if not n.endswith("/"))
    assert files == sorted(SHIPPED)
    assert {"models/", "models/lora/", "models/lora/emotion/", "models/lora/emotion/run-1/",
            "models/lora/creation/"} <= set(models)
    assert "core/weights.gguf" not in names(report.path)
    with zipfile.ZipFile(report.path) as zf:
        assert zf.read("models/lora/self.gguf") == b"bytes of models/lora/self.gguf"
    again = write_zip(src, tmp_path / "again", with_lora=True)
    assert again.path.read_bytes() == report.path.read_bytes()  # deterministic
    both = names(write_zip(src, tmp_path / "both", with_lora=True, with_origin_model=True).path)
    assert "models/origin/origin-nano.gguf" in both and "models/lora/self.gguf" in both


def test_a_token_inside_a_tune_record_refuses_the_zip(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    token = "lora-origin-token-93be21"
    (src / "models/lora/tune.json").write_text(json.dumps({"note": token}))
    with pytest.raises(ZipError, match="tune.json"):
        write_zip(src, tmp_path / "out", tokens=[token], with_lora=True)
    assert not list((tmp_path / "out").glob("*.zip"))


def test_the_zip_command_takes_with_lora(tmp_path: Path) -> None:
    src = tree(tmp_path / "src")
    args = [sys.executable, "-m", "cli", "zip", "--root", str(src), "--json"]
    plain = subprocess.run([*args, "--out", str(tmp_path / "a")], capture_output=True,
                           text=True, check=True)
    lora = subprocess.run([*args, "--out", str(tmp_path / "b"), "--with-lora"],
                          capture_output=True, text=True, check=True)
    assert not [n for n in names(Path(json.loads(plain.stdout)["path"])) if ".gguf" in n]
    packed = names(Path(json.loads(lora.stdout)["path"]))
    assert "models/lora/emotion/run-1/adapter.gguf" in packed
    assert "models/lora/emotion/run-1/checkpoint.pt" not in packed
