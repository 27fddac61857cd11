"""Benchmark of `echo-brain train`: served-format bits per byte vs xz, tokens/s, peak RSS.

    python -m benchmarks.bench_train               # the full run: 8 minutes of training
    python -m benchmarks.bench_train --minutes 1   # a short check that everything works

The figure that counts is the served format's: each held-out reply given its user turn, in the
GGUF's chat template, through llama-cpp-python, against xz -9e given the training text (issue
24: at most 0.95x after 8 minutes). The bare-text figure (the held-out turns as one text) is
reported beside it.

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
GOAL = 0.95  # the served-format figure's goal, as a multiple of xz -9e (issue 24)


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


def xz_size(data: bytes) -> int:
    """Bytes of data under xz -9e (liblzma preset 9e)."""
    return len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))


def xz_conditional(train: bytes, held_out: bytes, alone: int | None = None) -> float:
    """(|xz(train + held-out)| − |xz(train)|) · 8 / |held-out|, xz -9e (liblzma preset 9e).

    alone: |xz(train)| when already known (it is the costly half)."""
    alone = xz_size(train) if alone is None else alone
    return (xz_size(train + held_out) - alone) * 8 / len(held_out)


def replies_text(exchanges: list[tuple[str, str]]) -> bytes:
    """The held-out replies for xz: each followed by a newline, the end a reply's tokens
    also pay for (<|im_end|>)."""
    return "".join(f"{reply}\n" for _, reply in exchanges).encode()


def quality(work: Path, minutes: float, threads: int | None = None, with_xz: bool = True,
            layout: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train nano on the real corpus for `minutes`, then bits per byte of the held-out text:
    bare (the validation turns as one text) and served (each held-out reply given its user
    turn, in the GGUF's chat template), with xz -9e given the training text for both."""
    from core.settings import load_settings
    from origin_model.config import TrainConfig
    from origin_model.data import held_out_exchanges, split_text
    from origin_model.evaluate import gguf_bits_per_byte, gguf_reply_bits_per_byte
    from origin_model.train import train

    memory, out = work / "memory", work / "models" / "origin"
    corpus = write_real_archive(memory)
    settings = load_settings()
    started = time.monotonic()
    summary = train(memory, out, settings,
                    TrainConfig(minutes=minutes, threads=threads, **(layout or {})))
    wall = time.monotonic() - started
    held_out = "".join(split_text(memory, settings, held_out=True))
    train_text = "".join(split_text(memory, settings, held_out=False)).encode()
    exchanges = list(held_out_exchanges(memory, settings))
    gguf = out / "origin-nano.gguf"
    model = gguf_bits_per_byte(gguf, held_out, n_threads=threads)
    served = gguf_reply_bits_per_byte(gguf, exchanges, n_threads=threads)
    xz = served_xz = None
    if with_xz:
        alone = xz_size(train_text)
        xz = xz_conditional(train_text, held_out.encode(), alone)
        left_out = set(served["left_out"])  # longer than the model's context: not scored
        scored = [pair for place, pair in enumerate(exchanges) if place not in left_out]
        replies = replies_text(scored)
        # per byte of the replies themselves, as the model's figure (the newlines are paid for)
        served_xz = xz_conditional(train_text, replies, alone) * len(replies) / served["bytes"]
    return {"corpus": corpus, "summary": summary, "wall_s": wall, "gguf": model, "xz_bpb": xz,
            "served": served, "served_xz_bpb": served_xz, "layout": layout or {},
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


def _figures(doc: dict[str, Any]) -> str:
    """A quality run's steps and tokens."""
    return f"{doc['summary']['step']} steps, {doc['summary']['tokens_seen']:,} tokens"


def table(q: dict[str, dict[str, Any]], s: dict[str, Any] | None, r: dict[str, Any] | None,
          minutes: float) -> str:
    """The figures as a markdown table."""
    new, old = q["default"], q.get("previous")
    served, served_xz = new["served"]["bits_per_byte"], new["served_xz_bpb"]
    goal = "met" if served <= GOAL * served_xz else "NOT met"
    bare = new["gguf"]["bits_per_byte"]
    previous_served = previous_bare = ""
    if old is not None:
        previous_served = (f"previous default ({_layout(old)}): "
                           f"{old['served']['bits_per_byte']:.3f} ({_figures(old)}); ")
        previous_bare = f"previous default: {old['gguf']['bits_per_byte']:.3f}; "
    rows = [
        (f"**served format**: held-out replies given their user turn, in the GGUF's chat "
         f"template, bits per byte after {minutes:g} min (llama-cpp-python)",
         f"**{served:.3f}** = **{served / served_xz:.3f}× xz** ({_figures(new)}; "
         f"{new['served']['exchanges']:.0f} exchanges, {new['served']['bytes']:,.0f} bytes)",
         f"{previous_served}xz -9e given the training text: **{served_xz:.3f}**; "
         f"goal ≤ {GOAL}× xz: {goal}"),
        (f"bare text: the held-out turns as one text, bits per byte after {minutes:g} min",
         f"{bare:.3f}", f"{previous_bare}xz -9e given the training text: {new['xz_bpb']:.3f}"),
    ]
    if s is not None:
        speed_verdict = "met" if s["ratio"] >= 1.5 else "NOT met"
        rows += [
            ("training tokens/s (batch 16 × 256), steps taking turns",
             f"**{s['default']:,.0f}** (ratio **{s['ratio']:.2f}** to plain; ≥ 1.5: "
             f"{speed_verdict})",
             f"plain eager fp32 loop: {s['plain']:,.0f}; eager fp32 step: "
             f"{s['previous']:,.0f} ({s['previous_ratio']:.2f})"),
            ("compilation (first two steps of the default step)", f"{s['compile_s']:.0f} s",
             "counted in the run's minutes above"),
        ]
    if r is not None:
        rows.append((f"peak RSS, nano on the {r['lines']:,}-line benchmark archive",
                     f"**{r['peak_rss_mb']:,.0f} MB**", "goal ≤ 2,048 MB"))
    lines = ["| measure | origin nano, default settings | reference |", "|---|---|---|"]
    return "\n".join(lines + [f"| {a} | {b} | {c} |" for a, b, c in rows])


def _layout(doc: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in doc["layout"].items()) or "defaults"


def report(q: dict[str, dict[str, Any]], s: dict[str, Any] | None, r: dict[str, Any] | None,
           minutes: float, load: float, command: str) -> str:
    """The BENCHMARKS.md section."""
    new = q["default"]
    summary, corpus = new["summary"], new["corpus"]
    served, served_xz = new["served"]["bits_per_byte"], new["served_xz_bpb"]
    together = ("The default and the previous defaults trained at the same time, each "
                "with the same threads, so their difference holds whatever the load."
                if "previous" in q else "The default trained alone.")
    speed = "" if s is None else f"""
- The training step: {s['plan']} (`trainkit/accel.py`): bf16 autocast where the CPU has
  native bf16, the loss and its backward compiled by `torch.compile` where a C++ compiler
  is on PATH, eager fp32 otherwise. Speed: the same model and batches, {s['rounds']:.0f}
  rounds of one step each, medians; {s['threads']:.0f} threads."""
    return f"""
Machine: {machine()}; {load_note(load)}. {together}
Command: `{command}`.

{table(q, s, r, minutes)}

요약 / Summary: {minutes:g}분 학습 뒤 서빙 형식(채팅 템플릿 안에서 사용자 턴이 주어졌을 때
보류된 답변)의 바이트당 비트 {served:.3f}, xz -9e(학습 텍스트가 주어졌을 때) {served_xz:.3f}의
{served / served_xz:.3f}배 (목표 ≤ {GOAL}배). After {minutes:g} minutes of training the
served-format figure is {served:.3f} bits per byte, {served / served_xz:.3f}× xz -9e given the
training text ({served_xz:.3f}; goal ≤ {GOAL}×).

- Served format (what the model is for): each held-out reply, given the user turn before it,
  as a circuit serves the model (`llm/llama_backend.py`): the GGUF's own chat template renders
  the user turn and the generation prompt, llama.cpp tokenizes it, and the reply's tokens plus
  the end-of-turn token are scored in a fresh context (`origin_model/evaluate.py`,
  `gguf_reply_bits_per_byte`); bytes are the reply's. xz -9e compresses the same replies, one a
  line, after the training text. Bare text: the held-out turns as one text in sliding windows.
- Training targets ({_layout(new)}; `origin_model/train.py`, `--targets`): the loss counts
  the replies' tokens (the assistant's turns, markup included), what the model is served
  for; the user turns stay in every window as context; peak learning rate 4e-3. The
  previous defaults counted every token (`--targets all`) at 2e-3. 손실은 답변(어시스턴트
  차례)의 토큰만 세고, 최고 학습률은 4e-3입니다.
- Quality: the nano model ({summary['parameters']:,} parameters), {minutes:g} minutes of
  training, compile time included; step plan: {summary['step_plan']}; warm-up at least 10
  steps (`trainkit/schedule.py`). Corpus: Debian's Korean gettext catalogues
  ({corpus['catalogues']} files: English messages and their human Korean translations as
  alternating turns, each English message once) plus the origin's seed chat:
  {corpus['lines']:,} lines, {corpus['bytes']:,} bytes (sha256 {corpus['sha256']}); held out
  {new['held_out_bytes']:,} bytes (the run's own validation split, never trained on).{speed}
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
    from benchmarks.train_variants import VARIANTS, quality_side_by_side, speed_interleaved

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=8.0, help="training minutes (quality)")
    parser.add_argument("--alone", action="store_true",
                        help="train the default only (no previous defaults beside it)")
    parser.add_argument("--speed-rounds", type=int, default=12, help="0: skip the speed steps")
    parser.add_argument("--rss-steps", type=int, default=20, help="0: skip the RSS run")
    parser.add_argument("--threads", type=int, help="torch threads per run (default: every core)")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit BENCHMARKS.md")
    parser.add_argument("--work", type=Path, help="keep the runs here (default: a temp folder)")
    parser.add_argument("--quality-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--layout", default="{}", help=argparse.SUPPRESS)  # TrainConfig, JSON
    args = parser.parse_args(argv)
    if args.quality_child is not None:  # one variant's quality run (train_variants)
        doc = quality(args.quality_child, args.minutes, args.threads,
                      with_xz=args.quality_child.name == "default",
                      layout=json.loads(args.layout))
        (args.quality_child / "quality.json").write_text(json.dumps(doc))
        return
    load = os.getloadavg()[0]
    names = ("default",) if args.alone else tuple(VARIANTS)
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        work = args.work or Path(tmp)
        done = {n: work / n / "quality.json" for n in names}
        if all(path.is_file() for path in done.values()):  # a rerun of the later parts
            q = {n: json.loads(path.read_text()) for n, path in done.items()}
        else:
            q = quality_side_by_side(work, args.minutes, args.threads, names)
        print({k: (v["served"]["bits_per_byte"], v["served_xz_bpb"], v["gguf"]["bits_per_byte"])
               for k, v in q.items()}, flush=True)
        s = None
        if args.speed_rounds:
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
