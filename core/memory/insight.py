"""insight.json: what the replay absorbed, summarized for people and for /api/insight."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from core.fsio import atomic_write
from core.identity import load_manifests
from core.memory.archive import Skipped, order_days
from core.memory.index import DB_NAME, MemoryIndex
from core.memory.lines import ECHO_HEADER, ORIGIN_HEADER
from core.memory.read import TERM_SAMPLE
from core.memory.rows import INDEX_CHARS

INSIGHT_NAME = "insight.json"
TOP_TERMS = 30


def build_insight(
    index: MemoryIndex,
    memory_dir: Path,
    manifest_dir: Path,
    skipped: list[Skipped],
    run: dict[str, int],
) -> dict[str, Any]:
    """The insight document from the index's part table, the skips and the manifests."""
    rows = sorted(index.known_parts().values(), key=lambda r: (int(r.day[3:]), r.day, r.path))
    days = order_days(row.day for row in rows)
    lines_per_day: dict[str, int] = dict.fromkeys(days, 0)
    terms: Counter[str] = Counter()
    speakers: Counter[str] = Counter()
    headers = 0
    for row in rows:
        lines_per_day[row.day] += row.lines
        headers += row.headers
        stats = json.loads(row.stats)
        terms.update(stats.get("terms", {}))
        speakers.update(stats.get("speakers", {}))
    manifests = load_manifests(manifest_dir)
    prefix = memory_dir.name
    return {
        "days": len(days),
        "parts": len(rows),
        "lines": sum(lines_per_day.values()),
        "first_day": days[0] if days else None,
        "last_day": days[-1] if days else None,
        "lines_per_day": lines_per_day,
        "top_terms": [{"term": t, "count": n} for t, n in terms.most_common(TOP_TERMS)],
        "top_terms_note": f"counted on 1 line in {TERM_SAMPLE} / {TERM_SAMPLE}줄에 한 줄씩 셈",
        "skipped": [
            {"path": f"{prefix}/{s.path}", "reason": s.reason}
            for s in sorted(skipped, key=lambda s: s.path)
        ],
        "duration_s": 0.0,
        **run,
        "speakers": dict(speakers.most_common()),
        "headers": {
            "mode": "folded",
            "count": headers,
            "note": "Speaker header lines (e.g. 나의 말:, ChatGPT의 말:) are not kept as lines: "
            "each line carries the speaker of the last header above it. / 화자 머리줄은 줄로 "
            "세지 않고, 각 줄이 바로 위 머리줄의 화자를 가집니다.",
            "append_headers": [ORIGIN_HEADER, ECHO_HEADER],
        },
        "manifests": [
            {"name": m.name, "chars": len(m.text), "title": m.text.split("\n", 1)[0][:200]}
            for m in manifests
        ],
        "identity": {
            "name": "Echo Brain / 에코브레인",
            "declarations": [m.name for m in manifests],
            "circuits": ["emotion", "creation", "self"],
        },
        "index": {"file": DB_NAME, "tokenizer": "trigram", "indexed_chars_per_line": INDEX_CHARS},
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_insight(memory_dir: Path, insight: dict[str, Any]) -> Path:
    """Write memory/insight.json atomically: temporary file, fsync, rename, fsync the folder."""
    target = memory_dir / INSIGHT_NAME
    atomic_write(target, json.dumps(insight, ensure_ascii=False, indent=2).encode("utf-8"))
    return target


def refresh_insight(index: MemoryIndex, memory_dir: Path) -> None:
    """Recount an existing insight.json from the index (after a forget: its terms go too)."""
    target = memory_dir / INSIGHT_NAME
    try:
        insight = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # none yet: the next replay writes it
    rows = index.known_parts().values()
    lines_per_day: Counter[str] = Counter()
    terms: Counter[str] = Counter()
    speakers: Counter[str] = Counter()
    for row in rows:
        lines_per_day[row.day] += row.lines
        stats = json.loads(row.stats)
        terms.update(stats.get("terms", {}))
        speakers.update(stats.get("speakers", {}))
    insight.update(
        lines=sum(lines_per_day.values()),
        lines_per_day={d: lines_per_day[d] for d in order_days(lines_per_day)},
        top_terms=[{"term": t, "count": n} for t, n in terms.most_common(TOP_TERMS)],
        speakers=dict(speakers.most_common()),
    )
    write_insight(memory_dir, insight)


def note_recall_skipped(memory_dir: Path, skipped: list[dict[str, str]]) -> bool:
    """Put the parts the recall indexer skips (`{"path", "reason"}`) into insight.json as
    `recall_skipped`; False when there is no insight.json yet (the replay writes it)."""
    target = memory_dir / INSIGHT_NAME
    try:
        insight = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if insight.get("recall_skipped", []) != skipped:
        insight["recall_skipped"] = skipped
        write_insight(memory_dir, insight)
    return True
