"""Benchmark of `echo-brain train`: held-out bits per byte vs xz, tokens/s vs eager, peak RSS.

    python -m benchmarks.bench_train               # the full run: 10 minutes of training
    python -m benchmarks.bench_train --minutes 1   # a short check that everything works

Quality is measured on real bilingual text available offline: Debian's Korean translations
(gettext catalogues in /usr/share/locale/ko/LC_MESSAGES, English messages and their Korean
translations written by people) turned into an archive of conversations, one turn in English
(the origin), the next its Korean translation, plus the origin's seed conversation. The held-out
turns are the training run's own validation split: never trained on.
"""

from __future__ import annotations

import argparse
import gettext
import hashlib
import json
import lzma
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, load_note, machine, write_section

LOCALE = Path("/usr/share/locale/ko/LC_MESSAGES")
SEEDS = (REPO.parent / "shared" / "seeds", Path("/work/shared/seeds"))
PART_LINES = 395
TITLE = "Origin model training / 오리진 모델 학습"


def catalogue_pairs() -> list[tuple[str, str]]:
    """(English, Korean) message pairs of the Korean gettext catalogues, in file order.

    Each English message is kept once: catalogues repeat each other (gtk20 and gtk30, ...),
    and a verbatim copy of a training turn among the held-out ones measures nothing.
    """
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for path in sorted(LOCALE.glob("*.mo")):
        if path.is_symlink():
            continue
        with open(path, "rb") as handle:
            catalog: dict[Any, str] = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
        for key, korean in catalog.items():
            english = key[0] if isinstance(key, tuple) else key
            if english and korean and (not isinstance(key, tuple) or key[1] == 0):
                if english not in seen:
                    seen.add(english)
                    pairs.append((english, korean))
    return pairs


def write_real_archive(memory: Path) -> dict[str, Any]:
    """The bilingual corpus as an archive: English turn by the origin, Korean turn in reply."""
    lines: list[str] = []
    for english, korean in catalogue_pairs():
        lines += ["나의 말:", *english.splitlines(), "ChatGPT의 말:", *korean.splitlines()]
    for folder in SEEDS:
        if (folder / "003_2e23d4197dcd224a.txt").is_file():
            lines += (folder / "003_2e23d4197dcd224a.txt").read_text(encoding="utf-8").splitlines()
            break
    lines = [line for line in lines if line.strip()]
    for index in range(0, len(lines), PART_LINES):
        day = memory / f"day{1 + index // (PART_LINES * 40):04d}"
        day.mkdir(parents=True, exist_ok=True)
        part = (index // PART_LINES) % 40 + 1
        (day / f"part{part}.txt").write_text("\n".join(lines[index : index + PART_LINES]) + "\n",
                                             encoding="utf-8")
    text = "\n".join(lines).encode()
    return {"lines": len(lines), "bytes": len(text),
            "sha256": hashlib.sha256(text).hexdigest()[:16],
            "catalogues": len([p for p in LOCALE.glob("*.mo") if not p.is_symlink()])}


def xz_conditional(train: bytes, held_out: bytes) -> float:
    """(|xz(train + held-out)| − |xz(train)|) · 8 / |held-out|, xz -9e (liblzma preset 9e)."""
    preset = 9 | lzma.PRESET_EXTREME
    both = len(lzma.compress(train + held_out, preset=preset))
    alone = len(lzma.compress(train, preset=preset))
    return (both - alone) * 8 / len(held_out)


def quality(work: Path, minutes: float, threads: int | None = None,
            with_xz: bool = True) -> dict[str, Any]:
    """Train nano on the real corpus for `minutes`, then bits per byte of the held-out text."""
    from core.settings import load_settings
    from origin_model.config import TrainConfig
    from origin_model.data import split_text
    from origin_model.evaluate import gguf_bits_per_byte
    from origin_model.train import train

    memory, out = work / "memory", work / "models" / "origin"
    corpus = write_real_archive(memory)
    settings = load_settings()
    started = time.monotonic()
    summary = train(memory, out, settings, TrainConfig(minutes=minutes, threads=threads))
    wall = time.monotonic() - started
    held_out = "".join(split_text(memory, settings, held_out=True))
    train_text = "".join(split_text(memory, settings, held_out=False)).encode()
    model = gguf_bits_per_byte(out / "origin-nano.gguf", held_out, n_threads=threads)
    xz = xz_conditional(train_text, held_out.encode()) if with_xz else None
    return {"corpus": corpus, "summary": summary, "wall_s": wall, "gguf": model, "xz_bpb": xz,
            "held_out_bytes": len(held_out.encode()), "train_bytes": len(train_text)}


def peak_rss(work: Path, steps: int) -> dict[str, Any]:
    """Peak RSS of `echo-brain train` (nano) on the 300k-line benchmark archive."""
    from benchmarks.gen_archive import generate

    memory = work / "bench_memory"
    lines = generate(memory)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECHO_")}
    env.update({"ECHO_MODELS_DIR": str(work / "rss_models"), "PYTHONPATH": str(REPO)})
    cmd = [sys.executable, "-m", "cli", "train", "--memory-dir", str(memory), "--steps",
           str(steps), "--json"]
    began = time.monotonic()
    done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"train failed on the benchmark archive:\n{done.stderr[-3000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"lines": lines, "peak_rss_mb": usage.ru_maxrss / 1024, "wall_s":
            time.monotonic() - began,
            "command": f"echo-brain train --memory-dir <archive> --steps {steps} --json"}


def table(q: dict[str, dict[str, Any]], s: dict[str, Any], r: dict[str, Any] | None,
          minutes: float) -> str:
    """The figures as a markdown table."""
    new, old = q["default"], q["previous"]
    new_bpb, old_bpb = new["gguf"]["bits_per_byte"], old["gguf"]["bits_per_byte"]
    verdict = "met" if new_bpb <= old_bpb else "NOT met"
    speed_verdict = "met" if s["ratio"] >= 1.5 else "NOT met"
    xz = f"; xz -9e conditional: {new['xz_bpb']:.3f}" if new.get("xz_bpb") else ""
    rows = [
        (f"held-out bits per byte after {minutes:g} min (GGUF through llama-cpp-python)",
         f"**{new_bpb:.3f}** ({new['summary']['step']} steps, "
         f"{new['summary']['tokens_seen']:,} tokens)",
         f"previous default: {old_bpb:.3f} ({old['summary']['step']} steps, "
         f"{old['summary']['tokens_seen']:,} tokens); no worse: {verdict}{xz}"),
        ("training tokens/s (batch 16 × 256), steps taking turns",
         f"**{s['default']:,.0f}** (ratio **{s['ratio']:.2f}** to plain; ≥ 1.5: "
         f"{speed_verdict})",
         f"plain eager fp32 loop: {s['plain']:,.0f}; previous default: {s['previous']:,.0f} "
         f"({s['previous_ratio']:.2f})"),
        ("compilation (first two steps of the new default)", f"{s['compile_s']:.0f} s",
         "counted in the run's minutes above"),
    ]
    if r is not None:
        rows.append((f"peak RSS, nano on the {r['lines']:,}-line benchmark archive",
                     f"**{r['peak_rss_mb']:,.0f} MB**", "goal ≤ 2,048 MB"))
    lines = ["| measure | origin nano, new default | reference |", "|---|---|---|"]
    return "\n".join(lines + [f"| {a} | {b} | {c} |" for a, b, c in rows])


def report(q: dict[str, dict[str, Any]], s: dict[str, Any], r: dict[str, Any] | None,
           minutes: float, load: float, command: str) -> str:
    """The BENCHMARKS.md section."""
    summary, corpus = q["default"]["summary"], q["default"]["corpus"]
    return f"""
Machine: {machine()}; {load_note(load)}. The two quality runs ran at the same time (one
thread each) and the speed steps took turns, so their ratios hold whatever the load.
Command: `{command}`.

{table(q, s, r, minutes)}

요약: 새 기본 단계는 일반 루프의 {s['ratio']:.2f}배, {minutes:g}분 뒤 보류 데이터
{q['default']['gguf']['bits_per_byte']:.3f} bpb(이전 기본값
{q['previous']['gguf']['bits_per_byte']:.3f}).

- The new default step: {s['plan']} (`trainkit/accel.py`): bf16 autocast where the CPU
  has native bf16 (torch's probe, else avx512_bf16 / amx_bf16 in /proc/cpuinfo), the loss
  and its backward compiled by `torch.compile` where a C++ compiler is on PATH, eager fp32
  otherwise; a compile that fails falls back to the eager step. `ECHO_TRAIN_BF16=0/1` and
  `ECHO_TRAIN_COMPILE=0/1` override. The previous default is the eager fp32 step.
- Quality: the nano model ({summary['parameters']:,} parameters), {minutes:g} minutes of
  training for each variant, compile time included. Corpus: Debian's Korean gettext
  catalogues ({corpus['catalogues']} files: English messages and their human Korean
  translations as alternating turns) plus the origin's seed chat: {corpus['lines']:,} lines,
  {corpus['bytes']:,} bytes (sha256 {corpus['sha256']}); held out
  {q['default']['held_out_bytes']:,} bytes (the run's own validation split, never trained on).
- Speed: the same model and batches; {s['rounds']:.0f} rounds of one step each, medians;
  {s['threads']:.0f} threads. Sequences are already packed (random windows of one token
  stream, no padding); the optimizer (AdamW on foreach kernels) is under 2 % of a step.
{_rss_note(r)}
""".strip()


def _rss_note(r: dict[str, Any] | None) -> str:
    if r is None:
        return "- Peak RSS: not measured in this run (`--rss-steps 0`)."
    return (f"- Peak RSS: `{r['command']}` on `benchmarks/gen_archive.py`'s archive, as a child "
            f"process (reading, tokenizer training, tokenizing, training, export: "
            f"{r['wall_s']:.0f} s in all), ru_maxrss of the children.")


def main(argv: list[str] | None = None) -> None:
    """Run the measurements and write the BENCHMARKS.md section."""
    from benchmarks.train_variants import quality_side_by_side, speed_interleaved

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training minutes (quality)")
    parser.add_argument("--speed-rounds", type=int, default=12)
    parser.add_argument("--rss-steps", type=int, default=20, help="0: skip the RSS run")
    parser.add_argument("--threads", type=int, help="torch threads per run (default: every core)")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit BENCHMARKS.md")
    parser.add_argument("--work", type=Path, help="keep the runs here (default: a temp folder)")
    parser.add_argument("--quality-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quality_child is not None:  # one variant's quality run (train_variants)
        doc = quality(args.quality_child, args.minutes, args.threads,
                      with_xz=args.quality_child.name == "default")
        (args.quality_child / "quality.json").write_text(json.dumps(doc))
        return
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        work = args.work or Path(tmp)
        done = {n: work / n / "quality.json" for n in ("default", "previous")}
        if all(path.is_file() for path in done.values()):  # a rerun of the later parts
            q = {n: json.loads(path.read_text()) for n, path in done.items()}
        else:
            q = quality_side_by_side(work, args.minutes, args.threads)
        print({k: v["gguf"]["bits_per_byte"] for k, v in q.items()}, flush=True)
        s = speed_interleaved(work / "default" / "models" / "origin", args.speed_rounds,
                              args.threads)
        print(f"speed: {s}", flush=True)
        r = peak_rss(work, args.rss_steps) if args.rss_steps else None
        print(f"peak RSS: {r and r['peak_rss_mb']} MB", flush=True)
    command = "python -m benchmarks.bench_train " + " ".join(argv or sys.argv[1:])
    body = report(q, s, r, args.minutes, load, command.strip())
    print(body)
    if not args.no_write:
        write_section(TITLE, body)


if __name__ == "__main__":
    main()
