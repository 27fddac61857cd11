"""insight.json: what the replay absorbed, summarized for people and for /api/insight."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from core.archive import ECHO_HEADER, ORIGIN_HEADER, Skipped, iter_days
from core.archive_read import TERM_SAMPLE
from core.identity import load_manifests
from core.memory_index import DB_NAME, MemoryIndex
from core.memory_rows import INDEX_CHARS

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
    days = iter_days(rows)  # type: ignore[arg-type]
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
    temp = memory_dir / f".{INSIGHT_NAME}.{os.getpid()}.tmp"
    data = json.dumps(insight, ensure_ascii=False, indent=2).encode("utf-8")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, target)
    dir_fd = os.open(memory_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return target
