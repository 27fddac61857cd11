"""The archive → runs of turns → the base's chat template and tokenizer → token files.

A run is up to CHUNK_TURNS consecutive turns of one part file; it goes to the held-out split
when a stable hash of its place (part path, first turn) says so, so the same archive always
splits the same way. Each split is two flat files read back through numpy.memmap: token ids
(uint32) and target flags (uint8: the assistant's turns). Turns are redacted on reading.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core.memory.archive import discover
from core.settings import Settings
from origin_model.corpus import ArchiveStats, Turn, iter_turns
from trainkit import errors as train_errors
from trainkit.config import VAL_EVERY
from trainkit.files import guarded_write, read_record, tmp_path, write_text, write_with
from tune.chat import ChatTokenizer, Segment

CHUNK_TURNS = 8
FORMAT_VERSION = "tune-1"
SPLITS = ("train", "val")
Progress = Callable[[str], None]


@dataclass
class TuneData:
    """What the token files hold (data/meta.json)."""

    digest: str
    parts: int
    turns: int
    chunks: int
    skipped_chunks: int
    train_tokens: int
    val_tokens: int
    train_targets: int
    val_targets: int


def has_turns(memory_dir: Path, settings: Settings) -> bool:
    """Whether the archive holds at least one turn (checked before anything is written)."""
    return next(iter_turns(memory_dir, settings, ArchiveStats()), None) is not None


def iter_chunks(memory_dir: Path, settings: Settings,
                stats: ArchiveStats) -> Iterator[list[Turn]]:
    """Runs of up to CHUNK_TURNS consecutive turns of one part, in replay order."""
    run: list[Turn] = []
    for turn in iter_turns(memory_dir, settings, stats):
        if run and (turn.part != run[0].part or len(run) >= CHUNK_TURNS):
            yield run
            run = []
        run.append(turn)
    if run:
        yield run


def is_held_out(chunk: list[Turn]) -> bool:
    """The deterministic held-out split (one run in VAL_EVERY)."""
    key = hashlib.blake2b(f"{chunk[0].part}\0{chunk[0].index}".encode(), digest_size=8).digest()
    return int.from_bytes(key, "big") % VAL_EVERY == 0


def chunk_segments(chat: ChatTokenizer, chunk: list[Turn]) -> list[Segment]:
    """One run of turns as template segments."""
    return chat.segments([(turn.role, turn.text) for turn in chunk])


def held_out_segments(memory_dir: Path, settings: Settings,
                      chat: ChatTokenizer) -> Iterator[list[Segment]]:
    """The held-out runs as segments (the benchmark scores them through llama.cpp)."""
    for chunk in iter_chunks(memory_dir, settings, ArchiveStats()):
        if is_held_out(chunk):
            segments = chunk_segments(chat, chunk)
            if segments:
                yield segments


def archive_digest(memory_dir: Path, key: str) -> str:
    """Part files' names, sizes and times, plus what else decides the token files."""
    digest = hashlib.sha256(f"{FORMAT_VERSION}\0{CHUNK_TURNS}\0{key}".encode())
    parts, _ = discover(memory_dir)
    for part in parts:
        stat = part.path.stat()
        digest.update(f"{part.rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def prepare(memory_dir: Path, data: Path, settings: Settings, chat: ChatTokenizer, key: str,
            progress: Progress = lambda _: None) -> TuneData:
    """Build (or reuse) the token files of both splits; raise TrainError when too small."""
    digest = archive_digest(memory_dir, key)
    cached = read_record(data / "meta.json", TuneData)
    if cached is None or cached.digest != digest or not _files_ok(data):
        progress("tokenizing with the model's own template / 모델의 템플릿으로 토큰화 중")
        with guarded_write(data):
            data.mkdir(parents=True, exist_ok=True)
            cached = _write(memory_dir, data, settings, chat, digest)
        write_text(data / "meta.json", json.dumps(asdict(cached), indent=2))
    if cached.turns == 0:
        raise train_errors.no_archive(str(memory_dir))
    if min(cached.train_targets, cached.val_targets) == 0:
        raise train_errors.too_small(cached.val_targets, cached.train_targets, 1)
    if not (data / "bytes.npy").is_file():
        write_with(data / "bytes.npy", lambda tmp: _save_npy(tmp, chat.byte_lengths()))
    return cached


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array)


def _write(memory_dir: Path, data: Path, settings: Settings, chat: ChatTokenizer,
           digest: str) -> TuneData:
    stats = ArchiveStats()
    counts = {"chunks": 0, "skipped": 0, "train": 0, "val": 0, "train_t": 0, "val_t": 0}
    temps = {f"{s}.{kind}": tmp_path(data / f"{s}.{kind}") for s in SPLITS
             for kind in ("ids", "mask")}
    handles = {name: open(path, "wb") for name, path in temps.items()}
    try:
        for chunk in iter_chunks(memory_dir, settings, stats):
            counts["chunks"] += 1
            segments = chunk_segments(chat, chunk)
            if not segments:
                counts["skipped"] += 1
                continue
            ids, flags = chat.encode(segments)
            split = "val" if is_held_out(chunk) else "train"
            np.asarray(ids, dtype=np.uint32).tofile(handles[f"{split}.ids"])
            np.asarray(flags, dtype=np.uint8).tofile(handles[f"{split}.mask"])
            counts[split] += len(ids)
            counts[f"{split}_t"] += sum(flags)
        for handle in handles.values():
            handle.close()
        for name, path in temps.items():
            os.replace(path, data / name)
    finally:
        for handle in handles.values():
            handle.close()
        for path in temps.values():
            path.unlink(missing_ok=True)
    return TuneData(digest, stats.parts, stats.turns, counts["chunks"], counts["skipped"],
                    counts["train"], counts["val"], counts["train_t"], counts["val_t"])


def _files_ok(data: Path) -> bool:
    return all((data / f"{s}.{kind}").is_file() for s in SPLITS for kind in ("ids", "mask"))


class MaskedStream:
    """A split's token ids and target flags through numpy.memmap: random or fixed windows."""

    def __init__(self, data: Path, split: str, context: int) -> None:
        self.ids = np.memmap(data / f"{split}.ids", dtype=np.uint32, mode="r")
        self.mask = np.memmap(data / f"{split}.mask", dtype=np.uint8, mode="r")
        self.context = min(context, max(1, len(self.ids) - 1))

    def _rows(self, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        span = self.context + 1
        ids = np.stack([self.ids[s : s + span] for s in starts]).astype(np.int64)
        mask = np.stack([self.mask[s + 1 : s + span] for s in starts])
        return ids[:, :-1], ids[:, 1:], mask

    def batch(self, rng: np.random.Generator,
              size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """size random windows: inputs, next-token targets, target flags."""
        last = len(self.ids) - self.context - 1
        return self._rows(rng.integers(0, max(0, last), size=size, endpoint=True))

    def fixed_windows(self, max_tokens: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Non-overlapping windows from the start, up to max_tokens positions (validation)."""
        count = max(1, min(max_tokens // self.context, (len(self.ids) - 1) // self.context))
        return self._rows(np.arange(count) * self.context)
