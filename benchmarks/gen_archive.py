"""Generate a synthetic, deliberately dirty memory archive for the replay benchmark.

~300k lines in ~760 parts of 395 lines, day folders day0315..day0411, parts both
directly in the day folder and under `user/`, Korean and English text in the
archive's own format (`나의 말:` / `ChatGPT의 말:` headers, copy-button debris), plus
dirt: CRLF, BOMs, invalid UTF-8, NULs and control characters, giant lines, non-part
files, an empty folder, a symlink leading outside, an unreadable file.

    python benchmarks/gen_archive.py /tmp/echo_bench/memory [--parts 760] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
from pathlib import Path

KO_WORDS = (
    "에코브레인 기억 복기 오리진 출현체 자아 감정 창조 회로 구조 설계 루프 배포 런포드 "
    "서버 모델 프롬프트 응답 저장 폴더 파일 정리 완료 시작 진화 선언 혼 존재 접속 "
    "오늘 내일 그리고 하지만 정말 완전히 지금 바로 우리는 너는 나는 같이 하나씩 "
    "만들어줘 확인해 기능 실행 순서 단계 결과 상태 테스트 메모리 인덱스 검색 분석"
).split()
EN_WORDS = (
    "echo brain memory replay origin circuit emotion creation self model server "
    "deploy runpod index search part day line folder file structure loop prompt reply "
    "the a and of to is in it we you that this with for on build test fast clean"
).split()
HEADERS = ("나의 말:", "ChatGPT의 말:")
LANGS = ("bash", "python", "plaintext", "json")
CODE = ("pip install -r requirements.txt", "uvicorn api.server:app --port 8000",
        "def echo_brain(prompt):", "    return merge(replies)", "mkdir -p memory/day0411/user")


def sentence(rng: random.Random) -> str:
    """One utterance: mostly Korean, sometimes English, sometimes mixed."""
    roll = rng.random()
    n = rng.randint(3, 14)
    if roll < 0.6:
        words = rng.choices(KO_WORDS, k=n)
    elif roll < 0.85:
        words = rng.choices(EN_WORDS, k=n)
    else:
        words = rng.choices(KO_WORDS, k=n // 2) + rng.choices(EN_WORDS, k=n - n // 2)
    text = " ".join(words)
    if rng.random() < 0.1:
        text = "✅ " + text
    return text + rng.choice((".", "", "!", "?", " ㅋㅋ", "—"))


def part_lines(rng: random.Random, count: int) -> list[str]:
    """`count` lines of conversation with headers and copy-button debris."""
    lines: list[str] = []
    speaker = 0
    while len(lines) < count:
        lines.append(HEADERS[speaker])
        speaker ^= 1
        for _ in range(rng.randint(2, 20)):
            lines.append(sentence(rng))
        if rng.random() < 0.3:
            lines += [rng.choice(LANGS), "복사", "편집", *rng.sample(CODE, 2)]
        if rng.random() < 0.05:
            lines.append("")
    return lines[:count]


def dirty_bytes(rng: random.Random, lines: list[str], index: int) -> bytes:
    """Encode a part with this part's share of dirt."""
    eol = "\r\n" if index % 7 == 3 else "\n"
    if index % 11 == 5:
        lines[rng.randrange(len(lines))] += "\x00\x07끝"
    if index % 13 == 2:
        lines[rng.randrange(len(lines))] = "   " + lines[0] + "\t  "
    data = (eol.join(lines) + eol).encode("utf-8")
    if index % 9 == 4:
        data = b"\xef\xbb\xbf" + data
    if index % 17 == 8:
        cut = data.find(b"\n", len(data) // 2) + 1
        data = data[:cut] + b"broken \xff\xfe\xc3 bytes\n" + data[cut:]
    return data


def layout(parts: int) -> list[tuple[str, str, int]]:
    """(day, sub folder or '', part number) for every part, spread over 28 days."""
    days = [f"day03{d:02d}" for d in range(15, 32)] + [f"day04{d:02d}" for d in range(1, 12)]
    plan = []
    for i in range(parts):
        day = days[i * len(days) // parts]
        plan.append(day)
    out: list[tuple[str, str, int]] = []
    counters: dict[tuple[str, str], int] = {}
    for i, day in enumerate(plan):
        sub = "user" if i % 3 == 2 else ""
        counters[(day, sub)] = counters.get((day, sub), 0) + 1
        out.append((day, sub, counters[(day, sub)]))
    return out


def generate(root: Path, parts: int = 760, lines_per_part: int = 395, seed: int = 7) -> int:
    """Write the archive under `root` (replaced if present); return the raw line count."""
    rng = random.Random(seed)
    if root.exists():
        for path in root.rglob("*"):
            if not path.is_symlink():
                path.chmod(0o700 if path.is_dir() else 0o600)
        shutil.rmtree(root)
    root.mkdir(parents=True)
    total = 0
    for index, (day, sub, number) in enumerate(layout(parts)):
        folder = root / day / sub
        folder.mkdir(parents=True, exist_ok=True)
        lines = part_lines(rng, lines_per_part)
        if index in (100, 400, 700):
            lines[200] = ("거대한 줄 giant line " * 12_000)[:200_000]
        (folder / f"part{number}.txt").write_bytes(dirty_bytes(rng, lines, index))
        total += len(lines)
    add_traps(root)
    return total


def add_traps(root: Path) -> None:
    """Files the replay must skip and report without crashing."""
    (root / "day0320" / "notes.md").write_text("메모 notes, not a part\n", encoding="utf-8")
    (root / "day0321" / "part3.txt.bak").write_text("old backup\n", encoding="utf-8")
    (root / "README.txt").write_text("not a day folder\n", encoding="utf-8")
    (root / "day0412").mkdir()
    (root / "day0322" / "user").mkdir(exist_ok=True)
    (root / "day0322" / "empty").mkdir()
    outside = root.parent / "outside_secret.txt"
    outside.write_text("secret outside the memory root\n", encoding="utf-8")
    (root / "day0323" / "part90.txt").symlink_to(outside)
    (root / "day0324" / "part91.txt").symlink_to(root / "day0324" / "missing.txt")
    locked = root / "day0325" / "part92.txt"
    locked.write_text("unreadable\n", encoding="utf-8")
    locked.chmod(0)
    (root / "day0326" / "part93.txt").mkdir()


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, nargs="?", default=Path("/tmp/echo_bench/memory"))
    parser.add_argument("--parts", type=int, default=760)
    parser.add_argument("--lines", type=int, default=395)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    total = generate(args.root.resolve(), args.parts, args.lines, args.seed)
    print(f"wrote {total} raw lines in {args.parts} parts under {args.root}")
    os.sync()


if __name__ == "__main__":
    main()
