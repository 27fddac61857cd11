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
from statistics import median
from typing import Any

from benchmarks.common import REPO, machine, write_section

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


def quality(work: Path, minutes: float) -> dict[str, Any]:
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
    summary = train(memory, out, settings, TrainConfig(minutes=minutes))
    wall = time.monotonic() - started
    held_out = "".join(split_text(memory, settings, held_out=True))
    train_text = "".join(split_text(memory, settings, held_out=False)).encode()
    model = gguf_bits_per_byte(out / "origin-nano.gguf", held_out)
    return {"corpus": corpus, "summary": summary, "wall_s": wall, "gguf": model,
            "xz_bpb": xz_conditional(train_text, held_out.encode()),
            "held_out_bytes": len(held_out.encode()), "train_bytes": len(train_text)}


def speed(out: Path, steps: int) -> dict[str, float]:
    """Training tokens/s: our step (foreach AdamW, bf16 where native) vs a plain eager loop."""
    import numpy as np
    import torch

    from origin_model.config import TrainConfig, model_config
    from origin_model.data import TokenStream
    from origin_model.model import Transformer
    from origin_model.train import make_optimizer, pick_device, train_step, use_bf16

    device, config = pick_device(), TrainConfig()
    stream = TokenStream(out / "data" / "train.bin", 256)
    rng = np.random.default_rng(0)
    batches = [stream.batch(rng, config.batch_size) for _ in range(steps + 2)]
    vocab = int(json.loads((out / "data" / "meta.json").read_text())["vocab_size"])

    def timed(step: Any) -> float:
        times = []
        for batch in batches:
            began = time.perf_counter()
            step(batch)
            times.append(time.perf_counter() - began)
        return config.batch_size * 256 / median(times[2:])

    torch.manual_seed(0)
    plain = Transformer(model_config("nano", vocab)).to(device)
    plain_opt = torch.optim.AdamW(plain.parameters(), lr=config.lr)

    def plain_step(batch: tuple[np.ndarray, np.ndarray]) -> None:
        loss = plain.loss(torch.from_numpy(batch[0]), torch.from_numpy(batch[1]))
        loss.backward()
        plain_opt.step()
        plain_opt.zero_grad()

    torch.manual_seed(0)
    ours = Transformer(model_config("nano", vocab)).to(device)
    ours_opt, bf16 = make_optimizer(ours, config), use_bf16(device)
    eager = timed(plain_step)
    mine = timed(lambda b: train_step(ours, ours_opt, b, device, bf16, config.grad_clip))
    mine_bf16 = timed(lambda b: train_step(ours, ours_opt, b, device, True, config.grad_clip))
    return {"eager": eager, "ours": mine, "ours_bf16": mine_bf16, "ratio": mine / eager,
            "bf16": float(bf16), "threads": float(torch.get_num_threads())}


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


def table(q: dict[str, Any], s: dict[str, float], r: dict[str, Any]) -> str:
    """The three figures as a markdown table."""
    rows = [
        ("held-out bits per byte (GGUF through llama-cpp-python)",
         f"**{q['gguf']['bits_per_byte']:.3f}**", f"xz -9e conditional: **{q['xz_bpb']:.3f}**"),
        ("training tokens/s (batch 16 × 256)",
         f"**{s['ours']:,.0f}** (with bf16 autocast: {s['ours_bf16']:,.0f})",
         f"plain eager loop: {s['eager']:,.0f} (ratio **{s['ratio']:.2f}**)"),
        (f"peak RSS, nano on the {r['lines']:,}-line benchmark archive",
         f"**{r['peak_rss_mb']:,.0f} MB**", "goal ≤ 2,048 MB"),
    ]
    lines = ["| measure | origin nano | reference |", "|---|---|---|"]
    return "\n".join(lines + [f"| {a} | {b} | {c} |" for a, b, c in rows])


def report(q: dict[str, Any], s: dict[str, float], r: dict[str, Any], minutes: float) -> str:
    """The BENCHMARKS.md section."""
    summary, corpus = q["summary"], q["corpus"]
    verdict = "beats" if q["gguf"]["bits_per_byte"] < q["xz_bpb"] else "does not beat"
    precision = "bf16 autocast (AMX)" if s["bf16"] else "fp32"
    return f"""
Machine: {machine()}. Command: `python -m benchmarks.bench_train --minutes {minutes:g}`.

{table(q, s, r)}

- Quality: the nano model ({summary['parameters']:,} parameters) {verdict} xz after
  {minutes:g} minutes of training ({summary['step']} steps, {summary['tokens_seen']:,} tokens,
  final validation loss {summary['val_loss']}). Corpus: Debian's Korean gettext catalogues
  ({corpus['catalogues']} files: English messages and their human Korean translations as
  alternating turns) plus the origin's seed chat: {corpus['lines']:,} lines, {corpus['bytes']:,}
  bytes (sha256 {corpus['sha256']}); held out {q['held_out_bytes']:,} bytes (the run's own
  validation split, never trained on), xz given the {q['train_bytes']:,} training bytes first.
- Speed: our step uses an AdamW on torch's foreach kernels (torch.optim pulls in torch._dynamo),
  gradient clipping, {precision} and {s['threads']:.0f} threads; the plain loop is the same
  model and batch with torch.optim.AdamW in fp32.
- Peak RSS: `{r['command']}` on `benchmarks/gen_archive.py`'s archive, as a child process
  (reading, tokenizer training, tokenizing, training, export: {r['wall_s']:.0f} s in all),
  ru_maxrss of the children.
""".strip()


def main(argv: list[str] | None = None) -> None:
    """Run the three measurements and write the BENCHMARKS.md section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training minutes (quality)")
    parser.add_argument("--speed-steps", type=int, default=20)
    parser.add_argument("--rss-steps", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit BENCHMARKS.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        work = Path(tmp)
        q = quality(work, args.minutes)
        print(f"quality: {q['gguf']['bits_per_byte']:.3f} bpb vs xz {q['xz_bpb']:.3f}", flush=True)
        s = speed(work / "models" / "origin", args.speed_steps)
        print(f"speed: {s}", flush=True)
        r = peak_rss(work, args.rss_steps)
        print(f"peak RSS: {r['peak_rss_mb']:.0f} MB", flush=True)
    body = report(q, s, r, args.minutes)
    print(body)
    if not args.no_write:
        write_section(TITLE, body)


if __name__ == "__main__":
    main()
