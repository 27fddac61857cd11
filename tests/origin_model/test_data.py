"""Archive → turns → tokenizer → token files: split, redaction, cache, memmap, speakers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.settings import load_settings
from origin_model.corpus import ArchiveStats, iter_turns
from origin_model.data import TokenStream, is_held_out, prepare
from origin_model.tokenizer import load_tokenizer
from tests.origin_model.archive import make_archive

SECRET = "origin-secret-token-7f3a9c"


def decoded(out: Path, split: str) -> str:
    """A token file decoded back to text."""
    sp = load_tokenizer(out / "data" / "tokenizer.model")
    return str(sp.decode(np.fromfile(out / "data" / f"{split}.bin", np.uint16).tolist()))


def numbered_archive(root: Path, turns: int = 400) -> Path:
    """Turns that each carry a unique marker, in both layouts, with a token in some."""
    for folder in (root / "day0201", root / "day0202" / "user"):
        folder.mkdir(parents=True)
    lines = []
    for i in range(turns):
        lines += ["나의 말:" if i % 2 == 0 else "ChatGPT의 말:",
                  f"marker{i:04d}q 오늘의 기억 {i} and the memory of day {i} 😀"]
        if i % 50 == 7:
            lines.append(f"my token is {SECRET} keep it")
    (root / "day0201" / "part1.txt").write_text("\n".join(lines[:400]) + "\n", encoding="utf-8")
    (root / "day0201" / "part2.txt").write_text("\n".join(lines[400:]) + "\n", encoding="utf-8")
    (root / "day0202" / "user" / "part1.txt").write_text(
        "나의 말:\n안녕 에코\n에코의 말:\n안녕하세요, 오리진.\n", encoding="utf-8")
    return root


def test_split_is_deterministic_and_held_out_turns_are_never_trained_on(tmp_path: Path) -> None:
    memory = numbered_archive(tmp_path / "memory")
    settings = load_settings()
    info = prepare(memory, tmp_path / "out", settings, keep_tokenizer=False, context=32)
    train, val = decoded(tmp_path / "out", "train"), decoded(tmp_path / "out", "val")
    held = {t.text.split()[0] for t in iter_turns(memory, settings, ArchiveStats())
            if is_held_out(t) and t.text.startswith("marker")}
    assert held and all(m in val and m not in train for m in held)
    assert sum(f"marker{i:04d}q" in train for i in range(400)) == 400 - len(held)
    again = prepare(memory, tmp_path / "again", settings, keep_tokenizer=False, context=32)
    assert again.digest == info.digest and again.val_tokens == info.val_tokens


def test_tokens_are_redacted_before_the_tokenizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECHO_ORIGIN_TOKEN", SECRET)
    memory = numbered_archive(tmp_path / "memory")
    prepare(memory, tmp_path / "out", load_settings(), keep_tokenizer=False, context=32)
    text = decoded(tmp_path / "out", "train") + decoded(tmp_path / "out", "val")
    assert SECRET not in text and "my token is *** keep it" in text
    for path in (tmp_path / "out").rglob("*"):
        assert not path.is_file() or SECRET.encode() not in path.read_bytes(), path


def test_speakers_become_chat_roles_in_both_layouts(tmp_path: Path) -> None:
    memory = numbered_archive(tmp_path / "memory")
    turns = list(iter_turns(memory, load_settings(), ArchiveStats()))
    assert [t.role for t in turns[:2]] == ["user", "assistant"]
    user_part = [t for t in turns if t.part == "day0202/user/part1.txt"]
    assert [(t.role, t.text) for t in user_part] == [("user", "안녕 에코"),
                                                     ("assistant", "안녕하세요, 오리진.")]
    assert user_part[0].first and not user_part[1].first


def test_tokenizer_is_cached_while_the_archive_is_unchanged(tmp_path: Path) -> None:
    memory = make_archive(tmp_path / "memory", parts=2)
    settings, out = load_settings(), tmp_path / "out"
    prepare(memory, out, settings, keep_tokenizer=False)
    tokenizer = out / "data" / "tokenizer.model"
    first = tokenizer.stat().st_mtime_ns
    prepare(memory, out, settings, keep_tokenizer=False)
    assert tokenizer.stat().st_mtime_ns == first
    with open(memory / "day0102" / "part1.txt", "a", encoding="utf-8") as handle:
        handle.write("나의 말:\n새로운 기억이 생겼어 a new memory\n")
    prepare(memory, out, settings, keep_tokenizer=False)
    assert tokenizer.stat().st_mtime_ns != first


def test_the_stream_reads_through_memmap(tmp_path: Path) -> None:
    path = tmp_path / "tokens.bin"
    np.arange(1000, dtype=np.uint16).tofile(path)
    stream = TokenStream(path, context=16)
    assert isinstance(stream.tokens, np.memmap)
    x, y = stream.batch(np.random.default_rng(0), 4)
    assert x.shape == (4, 16) and (y == x + 1).all()
    vx, vy = stream.fixed_windows(64)
    assert vx.shape == (4, 16) and vx[1, 0] == 16 and (vy == vx + 1).all()
