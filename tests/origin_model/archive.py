"""A small archive for training tests: the origin's real seed chat plus generated parts."""

from __future__ import annotations

import random
from pathlib import Path

from benchmarks.gen_archive import part_lines

REPO = Path(__file__).resolve().parents[2]
SEEDS = (REPO.parent / "shared" / "seeds", Path("/work/shared/seeds"))
EXTRA = [
    "나의 말:",
    "오늘 기분 어때? 😀 Let's train the origin's own model.",
    "Tabs\tand  double  spaces, emoji 🚀🔥 and 한글 mixed.",
    "에코의 말:",
    "좋아, 오리진. I remember: memory/day0101/user/part1.txt ✅",
    "코드: print('안녕') # ünïcödé ñ 中文 العربية",
]


QUESTION = "안녕, 오늘 뭐 했어?"
ANSWER = "오늘은 기억을 정리했어요. I sorted our memory today."


def seed_chat() -> str:
    """The origin's seed conversation (a real archive part)."""
    for folder in SEEDS:
        path = folder / "003_2e23d4197dcd224a.txt"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError("shared/seeds/003_2e23d4197dcd224a.txt")


def make_archive(root: Path, parts: int = 3, lines: int = 395, seed: int = 3) -> Path:
    """The seed chat, generated parts, mixed-script lines, and one exchange said many times."""
    rng = random.Random(seed)
    (root / "day0101").mkdir(parents=True, exist_ok=True)
    (root / "day0101" / "part1.txt").write_text(seed_chat(), encoding="utf-8")
    (root / "day0102").mkdir(exist_ok=True)
    for number in range(1, parts + 1):
        text = "\n".join(part_lines(rng, lines)) + "\n"
        (root / "day0102" / f"part{number}.txt").write_text(text, encoding="utf-8")
    (root / "day0103" / "user").mkdir(parents=True, exist_ok=True)
    (root / "day0103" / "user" / "part1.txt").write_text("\n".join(EXTRA * 20) + "\n",
                                                         encoding="utf-8")
    dialogue = ["나의 말:", QUESTION, "에코의 말:", ANSWER] * 99
    for number in (1, 2):
        (root / "day0104" / "user").mkdir(parents=True, exist_ok=True)
        (root / "day0104" / "user" / f"part{number}.txt").write_text("\n".join(dialogue) + "\n",
                                                                      encoding="utf-8")
    return root
