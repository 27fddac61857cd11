"""The archive → chat turns → tokenizer → flat token files, streamed back with numpy.memmap.

Two passes over the archive, each part file read and dropped: the corpus is never held in
memory as Python objects. A turn goes to the validation split when a stable hash of its place
(part path, ordinal) says so: the same archive always gives the same split.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core.settings import Settings
from origin_model.config import CONTEXT, IM_START_ID, VOCAB_SIZE
from origin_model.corpus import ArchiveStats, Turn, iter_turns
from origin_model.tokenizer import ChatEncoder, load_tokenizer, train_tokenizer, turn_text
from trainkit import errors
from trainkit.config import VAL_EVERY
from trainkit.files import guarded_write, read_record, tmp_path, write_text

FORMAT_VERSION = "chatml-1"
ENCODE_CHUNK = 2048
IGNORE = -100  # a target the loss leaves out (torch's cross_entropy ignore_index)
Progress = Callable[[str], None]


@dataclass
class DataInfo:
    """What the token files hold (data/meta.json)."""

    digest: str
    tokenizer_sha: str
    vocab_size: int
    parts: int
    lines: int
    turns: int
    train_tokens: int
    val_tokens: int
    train_bytes: int
    val_bytes: int


def is_held_out(turn: Turn) -> bool:
    """The deterministic validation split."""
    key = hashlib.blake2b(f"{turn.part}\0{turn.index}".encode(), digest_size=8).digest()
    return int.from_bytes(key, "big") % VAL_EVERY == 0


def split_text(memory_dir: Path, settings: Settings, held_out: bool) -> Iterator[str]:
    """The chat-formatted text of one split, turn by turn (benchmarks compare it with xz)."""
    for turn in iter_turns(memory_dir, settings, ArchiveStats()):
        if is_held_out(turn) == held_out:
            yield turn_text(turn.role, turn.text, turn.first)


def held_out_exchanges(memory_dir: Path, settings: Settings) -> Iterator[tuple[str, str]]:
    """(user turn, reply) pairs whose reply is held out: the served-format figure's test set.

    The reply must directly follow the user turn in the same part; the user turn itself may
    be a training turn (the model saw the question, never this answer).
    """
    previous: Turn | None = None
    for turn in iter_turns(memory_dir, settings, ArchiveStats()):
        if (turn.role == "assistant" and previous is not None and previous.role == "user"
                and previous.part == turn.part and is_held_out(turn)):
            yield previous.text, turn.text
        previous = turn


def file_sha(path: Path) -> str:
    """sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _scan(memory_dir: Path, settings: Settings, sentences: Path) -> tuple[str, ArchiveStats]:
    """Pass 1: the archive's digest, and the training split's lines for the tokenizer."""
    stats = ArchiveStats()
    digest = hashlib.sha256(FORMAT_VERSION.encode())
    with guarded_write(sentences), open(sentences, "w", encoding="utf-8") as out:
        for turn in iter_turns(memory_dir, settings, stats):
            held = is_held_out(turn)
            digest.update(f"{int(held)}{turn_text(turn.role, turn.text, turn.first)}".encode())
            if not held:
                out.write(f"{turn.role}\n{turn.text}\n")
    return digest.hexdigest(), stats


def _encode(
    memory_dir: Path, settings: Settings, encoder: ChatEncoder, train: Path, val: Path
) -> tuple[int, int, int, int]:
    """Pass 2: both token files (uint16), written in chunks; (tokens, bytes) of each split."""
    counts = [0, 0, 0, 0]  # train tokens, val tokens, train bytes, val bytes
    pending: tuple[list[tuple[str, str, bool]], list[tuple[str, str, bool]]] = ([], [])

    def flush(handles: tuple[object, object], split: int) -> None:
        ids = np.asarray(encoder.encode(pending[split]), dtype=np.uint16)
        ids.tofile(handles[split])  # type: ignore[arg-type]
        counts[split] += len(ids)
        pending[split].clear()

    with open(train, "wb") as train_out, open(val, "wb") as val_out:
        handles = (train_out, val_out)
        for turn in iter_turns(memory_dir, settings, ArchiveStats()):
            split = int(is_held_out(turn))
            pending[split].append((turn.role, turn.text, turn.first))
            counts[2 + split] += len(turn_text(turn.role, turn.text, turn.first).encode())
            if len(pending[split]) >= ENCODE_CHUNK:
                flush(handles, split)
        flush(handles, 0)
        flush(handles, 1)
    return counts[0], counts[1], counts[2], counts[3]


def prepare(
    memory_dir: Path, out_dir: Path, settings: Settings, *, keep_tokenizer: bool,
    progress: Progress = lambda _: None, context: int = CONTEXT, vocab_size: int = VOCAB_SIZE,
) -> DataInfo:
    """Build (or reuse) data/tokenizer.model, data/train.bin and data/val.bin; raise TrainError."""
    data = out_dir / "data"
    with guarded_write(data):
        data.mkdir(parents=True, exist_ok=True)
    sentences = tmp_path(data / "sentences.txt")
    try:
        progress("reading the archive / 아카이브 읽는 중")
        digest, stats = _scan(memory_dir, settings, sentences)
        if stats.turns == 0:
            raise errors.no_archive(str(memory_dir))
        tokenizer = data / "tokenizer.model"
        cached = read_record(data / "meta.json", DataInfo)
        if not tokenizer.is_file() or not (keep_tokenizer or (cached and cached.digest == digest)):
            progress("training the tokenizer / 토크나이저 학습 중")
            with guarded_write(tokenizer):
                train_tokenizer(sentences, tokenizer, vocab_size)
    finally:
        sentences.unlink(missing_ok=True)
    sha = file_sha(tokenizer)
    if cached and cached.digest == digest and cached.tokenizer_sha == sha and _bins_ok(data):
        info = cached
    else:
        progress("tokenizing / 토큰화 중")
        info = _write_bins(memory_dir, settings, data, tokenizer, digest, sha, stats)
    need = context + 1
    if info.val_tokens < need or info.train_tokens < need:
        raise errors.too_small(info.val_tokens, info.train_tokens, need)
    return info


def _write_bins(
    memory_dir: Path, settings: Settings, data: Path, tokenizer: Path, digest: str, sha: str,
    stats: ArchiveStats,
) -> DataInfo:
    train, val = tmp_path(data / "train.bin"), tmp_path(data / "val.bin")
    sp = load_tokenizer(tokenizer)
    try:
        with guarded_write(data / "train.bin"):
            counts = _encode(memory_dir, settings, ChatEncoder(sp), train, val)
            os.replace(train, data / "train.bin")
            os.replace(val, data / "val.bin")
    finally:
        train.unlink(missing_ok=True)
        val.unlink(missing_ok=True)
    info = DataInfo(digest, sha, sp.get_piece_size(), stats.parts, stats.lines, stats.turns,
                    *counts)
    write_text(data / "meta.json", json.dumps(asdict(info), indent=2))
    return info


def _bins_ok(data: Path) -> bool:
    return (data / "train.bin").is_file() and (data / "val.bin").is_file()


class TokenStream:
    """A flat uint16 token file read through numpy.memmap: random windows, or fixed ones."""

    def __init__(self, path: Path, context: int) -> None:
        self.tokens = np.memmap(path, dtype=np.uint16, mode="r")
        self.context = context

    def __len__(self) -> int:
        return len(self.tokens)

    def batch(self, rng: np.random.Generator, batch_size: int,
              keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """batch_size random windows: inputs and next-token targets, int64 (B, context).

        keep: which tokens count as targets (see `reply_tokens`); the others get IGNORE."""
        last = len(self.tokens) - self.context - 1
        starts = rng.integers(0, last, size=batch_size, endpoint=True)
        rows = np.stack([self.tokens[s : s + self.context + 1] for s in starts]).astype(np.int64)
        targets = rows[:, 1:].copy()
        if keep is not None:
            targets[~np.stack([keep[s + 1 : s + self.context + 1] for s in starts])] = IGNORE
        return rows[:, :-1], targets

    def reply_tokens(self, role_id: int) -> np.ndarray:
        """Which tokens belong to a turn whose role begins with role_id (markup included)."""
        tokens = np.asarray(self.tokens)
        opens = tokens == IM_START_ID
        at = np.flatnonzero(opens)
        roles = tokens[np.minimum(at + 1, len(tokens) - 1)] == role_id
        turn = np.cumsum(opens, dtype=np.int32) - 1  # the turn each token is in; -1 before
        return np.where(turn >= 0, roles[np.maximum(turn, 0)], False)

    def fixed_windows(self, max_tokens: int,
                      keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Non-overlapping windows from the start, up to max_tokens targets (the val set);
        keep as in `batch`."""
        count = max(1, min(max_tokens // self.context, (len(self.tokens) - 1) // self.context))
        span = count * self.context
        rows = np.asarray(self.tokens[: span + 1], dtype=np.int64)
        targets = rows[1:].copy()
        if keep is not None:
            targets[~keep[1 : span + 1]] = IGNORE
        return rows[:-1].reshape(count, self.context), targets.reshape(count, self.context)

