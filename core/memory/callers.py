"""Whose words are whose: each caller's turns in their own tree, and who may recall them.

- The origin: `memory/dayMMDD/user/partN.txt` under `나의 말:` (core/memory/store.py).
- A guest: `memory/guests/<name>/dayMMDD/partN.txt` under `손님 <name>의 말:`, mirrored to
  `memory_backup/guests/<name>/`, with an index of its own (`.echo_index.sqlite3` in that
  tree). The origin's replay, recall and training never read it (archive.GUESTS).
- Anonymous callers (no gate set): nothing is saved unless ECHO_SAVE_ANONYMOUS, and then
  in `memory/guests/anonymous/`; no anonymous caller ever recalls that tree (they are not
  one person).

Recall by caller: a guest gets its own earlier lines (ECHO_GUEST_RECALL), never another
guest's, never the origin's (unless ECHO_SHARE_MEMORY shares his). The origin's own lines
come first; guests' lines only when asked (`include=guests`, ECHO_RECALL_GUESTS), labelled
with the guest's name, in slots of their own after his.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.memory.archive import GUESTS
from core.memory.index import MemoryIndex
from core.memory.lines import guest_header
from core.memory.store import MemoryStore, SaveResult, Tree
from core.origin import ANONYMOUS, Caller
from core.settings import GUEST_NAME_RE, Settings

log = logging.getLogger(__name__)

NOT_SAVED_ANONYMOUS = (
    "turns of anonymous callers are not saved (ECHO_SAVE_ANONYMOUS=false) / "
    "익명 호출자의 대화는 저장하지 않습니다 (ECHO_SAVE_ANONYMOUS=false)"
)


@dataclass(frozen=True)
class GuestLine:
    """A remembered line of a guest's tree, labelled with the guest's name."""

    day: str
    part: int
    line: int
    speaker: str | None
    text: str
    guest: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form (no path: a guest's tree is not the origin's archive)."""
        return asdict(self)


def guest_tree(settings: Settings, name: str) -> Tree:
    """Where a guest's turns go."""
    return Tree(
        Path(settings.memory_dir) / GUESTS / name,
        Path(settings.memory_backup_dir) / GUESTS / name,
        folder="",
        header=guest_header(name),
        public=False,
    )


class CallerMemory:
    """Saves each caller's turns in that caller's tree; recalls a guest's own lines."""

    def __init__(self, settings: Settings, origin: MemoryStore) -> None:
        self.settings = settings
        self.origin = origin
        self._guests: dict[str, MemoryStore] = {}
        self._lock = threading.Lock()

    def store_for(self, caller: Caller) -> MemoryStore | None:
        """The store a caller's turns go to (None: this caller's turns are not saved)."""
        if caller.is_origin:
            return self.origin
        if caller.name == ANONYMOUS and not self.settings.save_anonymous:
            return None
        return self._guest_store(caller.name)

    def _guest_store(self, name: str) -> MemoryStore:
        if name != ANONYMOUS and not GUEST_NAME_RE.fullmatch(name):
            raise ValueError(f"not a guest name: {name!r}")
        with self._lock:
            store = self._guests.get(name)
            if store is None:
                tree = guest_tree(self.settings, name)
                store = MemoryStore(self.settings, MemoryIndex(tree.memory_dir), tree)
                self._guests[name] = store
            return store

    def save_turn(
        self, prompt: str, reply: str, *, idempotency_key: str | None = None,
        caller: Caller,
    ) -> SaveResult:
        """Append a turn to the caller's own tree (or say why it was not saved)."""
        store = self.store_for(caller)
        if store is None:
            return SaveResult(False, error=NOT_SAVED_ANONYMOUS)
        return store.save_turn(prompt, reply, idempotency_key=idempotency_key, scope=caller.name)

    def guest_names(self) -> list[str]:
        """Guests with a tree on disk, by name."""
        root = Path(self.settings.memory_dir) / GUESTS
        try:
            return sorted(p.name for p in root.iterdir()
                          if p.is_dir() and not p.is_symlink()
                          and (p.name == ANONYMOUS or GUEST_NAME_RE.fullmatch(p.name)))
        except OSError:
            return []

    def lines_of(self, names: list[str], prompt: str, k: int) -> list[GuestLine]:
        """The best lines of these guests' trees for a prompt, each labelled with its guest."""
        found: list[tuple[int, int, GuestLine]] = []
        for name in names:
            if not (Path(self.settings.memory_dir) / GUESTS / name).is_dir():
                continue
            try:
                hits = self._guest_store(name).index.context_for(prompt, k)
            except Exception as exc:  # a guest's index must never stop an answer
                log.warning("guest recall failed: %s", type(exc).__name__)
                continue
            for rank, hit in enumerate(hits):
                line = GuestLine(hit.day, hit.part, hit.line, hit.speaker, hit.text, name)
                found.append((rank, len(found), line))
        found.sort(key=lambda t: (t[0], t[1]))  # round-robin by rank across guests
        return [line for _, _, line in found[:k]]

    def close(self) -> None:
        """Close every guest index."""
        with self._lock:
            for store in self._guests.values():
                store.index.close()
            self._guests.clear()
