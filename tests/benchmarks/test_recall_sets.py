"""The recall benchmark's logic: metrics, set construction, line mapping, today's path.

The catalogues here are tiny .mo files written by the test, holding real translations
from Debian's Korean catalogues (Linux-PAM, libc, shadow, coreutils).
"""

from __future__ import annotations

import struct
from pathlib import Path

from benchmarks.legacy_recall import LegacyRecall
from benchmarks.recall_archive import PART_LINES, Turn, write_archive
from benchmarks.recall_report import PathResult, first_rank, summarise, union_recall
from benchmarks.recall_sets import (
    build_korean_sets,
    build_korean_train_set,
    normalise,
    paraphrase_pairs,
)
from core.memory.index import DB_NAME
from core.memory.replay import replay_archive

CATALOGUES = {
    "Linux-PAM": {
        "Permission denied": "권한 부여 거부",
        "You have new mail.": "새로운 메일이 있습니다.",
        "Authentication failure": "인증 실패",
    },
    "shadow": {
        "You have new mail.": "새 메일이 도착하였습니다.",
        "Authentication failure": "인증 실패.",
        "Bad system call": "잘못된 시스템 콜",
    },
    "libc": {
        "Permission denied": "허가 거부",
        "Bad system call": "시스템 콜이 잘못됨",
        "No such file or directory": "그런 파일이나 디렉터리가 없습니다",
    },
}


def write_mo(path: Path, messages: dict[str, str]) -> None:
    """A GNU .mo file (little endian, no hash table) holding `messages`."""
    items = sorted({"": "Content-Type: text/plain; charset=UTF-8\n", **messages}.items())
    ids = [k.encode() for k, _ in items]
    strs = [v.encode() for _, v in items]
    n = len(items)
    head = 7 * 4
    data_start = head + 16 * n
    blob = b""
    id_table, str_table = [], []
    for raw in ids:
        id_table.append((len(raw), data_start + len(blob)))
        blob += raw + b"\0"
    for raw in strs:
        str_table.append((len(raw), data_start + len(blob)))
        blob += raw + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, n, head, head + 8 * n, 0, 0)
    out += b"".join(struct.pack("<2I", *e) for e in id_table + str_table)
    path.write_bytes(out + blob)


def locale(tmp_path: Path) -> Path:
    folder = tmp_path / "locale"
    folder.mkdir()
    for name, messages in CATALOGUES.items():
        write_mo(folder / f"{name}.mo", messages)
    return folder


def test_metrics_count_any_relevant_line_at_its_rank() -> None:
    a, b, c = ("day0001", 1, 2), ("day0001", 1, 4), ("day0002", 3, 9)
    assert first_rank([c, b, a], {a, b}) == 2
    assert first_rank([c], {a}) is None
    figures = summarise([1, 6, None, 11])
    assert figures == {"recall@5": 0.25, "recall@10": 0.5, "mrr@10": (1 + 1 / 6) / 4}
    one, two = PathResult(ranks=[1, None, None]), PathResult(ranks=[None, 3, 12])
    assert union_recall({"x": one, "y": two}, ("x", "y")) == 2 / 3


def test_normalise_drops_format_directives_mnemonics_and_punctuation() -> None:
    assert normalise("%s: 명령어를 찾을 수 없음\n") == normalise("명령어를  찾을 수 없음.")
    assert normalise("파일(_F)") == "파일"
    assert normalise("%1$s %-10.3lu {name}") == ""


def test_pairs_keep_only_different_translations_of_one_message(tmp_path: Path) -> None:
    from benchmarks.recall_sets import read_catalogues

    by_english, names = read_catalogues(locale(tmp_path))
    assert names == ["Linux-PAM", "libc", "shadow"]
    pairs = {english: (query, others) for english, query, others in paraphrase_pairs(by_english)}
    # "인증 실패" vs "인증 실패.": the same after normalisation; single-catalogue messages: no pair
    assert set(pairs) == {"Permission denied", "You have new mail.", "Bad system call"}
    assert pairs["Permission denied"] == ("권한 부여 거부", ["허가 거부"])


def test_archive_holds_no_query_and_maps_relevant_lines_exactly(tmp_path: Path) -> None:
    korean, cross = build_korean_sets(tmp_path / "work", 100, 10, locale(tmp_path))
    files = {p.relative_to(korean.memory): p.read_text() for p in korean.memory.rglob("*.txt")}
    archive = "\n".join(files.values())
    assert korean.queries and cross.queries
    for query in korean.queries:
        assert query.text not in archive.split("\n")
        for day, part, line in query.relevant:
            text = (korean.memory / day / f"part{part}.txt").read_text().split("\n")[line - 1]
            assert text in {"허가 거부", "새 메일이 도착하였습니다.", "새로운 메일이 있습니다.",
                            "시스템 콜이 잘못됨", "잘못된 시스템 콜", "권한 부여 거부"}
    assert {q.text for q in cross.queries} <= {"No such file or directory", "You have new mail.",
                                               "Bad system call"}


def test_the_training_pairs_are_not_the_benchmarks_and_their_archive_holds_none_of_its(
    tmp_path: Path,
) -> None:
    folder = locale(tmp_path)
    korean, _ = build_korean_sets(tmp_path / "work", 100, 1, folder)
    train = build_korean_train_set(tmp_path / "work", 100, 1, folder)
    assert train.memory != korean.memory and len(train.queries) == 2
    test_texts = {q.text for q in korean.queries}
    test_texts |= {korean_line(korean.memory, ref) for q in korean.queries for ref in q.relevant}
    assert not test_texts & {q.text for q in train.queries}
    archive = {line for p in train.memory.rglob("part*.txt") for line in p.read_text().split("\n")}
    assert not test_texts & archive
    for query in train.queries:
        assert query.text not in archive and query.relevant


def korean_line(memory: Path, ref: tuple[str, int, int]) -> str:
    day, part, line = ref
    return (memory / day / f"part{part}.txt").read_text().split("\n")[line - 1]


def test_turns_never_split_and_parts_stay_within_the_limit(tmp_path: Path) -> None:
    turns = [Turn("day0101", "Caroline의 말:" if i % 2 else "Melanie의 말:",
                  tuple(f"line {i}.{j}" for j in range(1 + i % 7)), i) for i in range(300)]
    written = write_archive(tmp_path / "memory", turns)
    for part in (tmp_path / "memory" / "day0101").glob("part*.txt"):
        lines = part.read_text().split("\n")[:-1]
        assert len(lines) <= PART_LINES and lines[0].endswith("의 말:")
    for i in (0, 150, 299):
        refs = written.refs[i]
        assert [written.texts[r] for r in refs] == [f"line {i}.{j}" for j in range(1 + i % 7)]
    first = tmp_path / "memory" / "day0101" / "part1.txt"
    stamp = first.stat().st_mtime_ns
    again = write_archive(tmp_path / "memory", turns)
    assert again.reused and again.refs == written.refs
    fewer = write_archive(tmp_path / "memory", turns[:100])
    assert not fewer.reused and first.stat().st_mtime_ns == stamp
    assert len(list((tmp_path / "memory").rglob("part*.txt"))) == fewer.parts < written.parts


def test_a_dated_session_is_filed_under_its_day_and_the_engine_reads_its_year(
    tmp_path: Path,
) -> None:
    from benchmarks.recall_locomo import session_time
    from benchmarks.recall_paths import CLOCK
    from core.memory.recall.when import line_date

    may_2023 = session_time("1:56 pm on 8 May, 2023")
    may_2024 = session_time("12:19 am on  8 May, 2024")
    june = session_time("7:55 pm on 9 June, 2023")
    turns = [Turn("day0508", "Caroline의 말:", ("the first session",), 1, may_2023),
             Turn("day0609", "Melanie의 말:", ("a June session",), 2, june),
             Turn("day0508", "Caroline의 말:", ("a year later, same day",), 3, may_2024)]
    memory = tmp_path / "memory"
    written = write_archive(memory, turns)
    assert [written.refs[key][0][:2] for key in (1, 2, 3)] == [
        ("day0508", 1), ("day0609", 1), ("day0508", 2)]  # the day's next part, not part 1 again
    dates = {p.relative_to(memory).as_posix(): line_date(p.parent.name, p.stat().st_mtime_ns)
             for p in memory.glob("day*/part*.txt")}
    assert {k: str(v) for k, v in dates.items()} == {
        "day0508/part1.txt": "2023-05-08", "day0609/part1.txt": "2023-06-09",
        "day0508/part2.txt": "2024-05-08"}
    assert write_archive(memory, turns).reused  # the times are kept: nothing to re-index
    try:
        CLOCK.asked = may_2024.date()
        assert str(CLOCK.today()) == "2024-05-08"
    finally:
        CLOCK.asked = None


def test_todays_path_finds_a_line_through_the_replays_index(tmp_path: Path) -> None:
    turns = [Turn("day0101", "나의 말:", ("오늘은 서버 배포를 끝냈다",), "a"),
             Turn("day0101", "ChatGPT의 말:", ("축하해요, 배포 로그를 확인해볼까요?",), "b"),
             Turn("day0102", "나의 말:", ("내일은 메모리 인덱스를 정리하자",), "c")]
    written = write_archive(tmp_path / "memory", turns)
    (tmp_path / "manifest").mkdir()
    replay_archive(tmp_path / "memory", tmp_path / "manifest")
    legacy = LegacyRecall(tmp_path / "memory" / DB_NAME)
    try:
        hits = legacy.recall("메모리 인덱스는 어떻게 됐지?", 10)
        assert hits[0] == tuple(written.refs["c"][0])
        assert legacy.recall("??", 10) == []
    finally:
        legacy.close()


def test_the_previous_paths_copy_holds_the_same_parts_and_starts_from_the_index(
    tmp_path: Path,
) -> None:
    from benchmarks.recall_paths import alone_copy

    memory = tmp_path / "memory"
    write_archive(memory, [Turn("day0001", "나의 말:", ("첫 줄",), 1),
                           Turn("day0002", "나의 말:", ("둘째 줄",), 2)])
    replay_archive(memory, tmp_path / "manifest")
    (memory / ".echo_recall.sqlite3").touch()  # an enriched archive (an empty database here)
    copy = alone_copy(memory)
    parts = sorted(p.relative_to(memory) for p in memory.glob("day*/part*.txt"))
    assert parts and sorted(p.relative_to(copy) for p in copy.glob("day*/part*.txt")) == parts
    for rel in parts:
        assert (copy / rel).read_bytes() == (memory / rel).read_bytes()
        assert (copy / rel).stat().st_mtime_ns == (memory / rel).stat().st_mtime_ns
    assert (copy / DB_NAME).is_file()  # the index came along: the replay reuses it
    (copy / "day0009").mkdir()
    (copy / "day0009" / "part1.txt").write_text("stale", encoding="utf-8")
    alone_copy(memory)
    assert not (copy / "day0009" / "part1.txt").exists()  # a part gone from the archive goes
