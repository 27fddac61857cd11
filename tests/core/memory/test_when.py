"""Dates of remembered lines and the time a prompt names; recall favours lines said then."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

from core.memory.index import MemoryIndex
from core.memory.recall.enrich import enrich_all
from core.memory.recall.fusion import Recaller
from core.memory.recall.when import line_date, time_window
from core.memory.replay import replay_archive

REPO = Path(__file__).resolve().parents[3]


def ns(day: str) -> int:
    return int(datetime.fromisoformat(day).timestamp() * 1e9)


def test_a_day_folder_takes_the_latest_year_on_or_before_its_file_time() -> None:
    assert line_date("day0320", ns("2026-12-03")) == date(2026, 3, 20)
    assert line_date("day1231", ns("2027-01-02")) == date(2026, 12, 31)  # written after
    assert line_date("day0229", ns("2026-03-01")) is None or line_date(
        "day0229", ns("2026-03-01")) == date(2024, 2, 29)
    assert line_date("day1231", ns("2027-01-02"), year=2020) == date(2020, 12, 31)
    assert line_date("day1399", ns("2026-01-01")) is None
    assert line_date("notaday", ns("2026-01-01")) is None


def test_time_window_names_the_span() -> None:
    today = date(2026, 12, 3)  # a Thursday
    assert time_window("지난주에 뭐 먹었지?", today) == (date(2026, 11, 23), date(2026, 11, 29))
    assert time_window("what did I eat last week?", today) == (date(2026, 11, 23),
                                                               date(2026, 11, 29))
    assert time_window("어제 본 영화", today) == (date(2026, 12, 2), date(2026, 12, 2))
    assert time_window("작년 여름", today) == (date(2025, 1, 1), date(2025, 12, 31))
    assert time_window("last month", today) == (date(2026, 11, 1), date(2026, 11, 30))
    assert time_window("what is my cat called?", today) is None


def test_a_prompt_that_names_its_own_date_is_not_read_from_today() -> None:
    today = date(2026, 12, 3)
    for prompt in ("What cake did Joanna make recently in May 2022?",
                   "What did Maria do last weekend before April 10, 2023?",
                   "What did he watch recently, on 6 October?",
                   "2023년에 최근 본 영화", "5월 10일 지난주에 뭐 했지?"):
        assert time_window(prompt, today) is None, prompt
    # a number that is no date leaves the span alone
    assert time_window("I ran 5 km last week", today) == (date(2026, 11, 23), date(2026, 11, 29))
    assert time_window("작년에 산 책 3권", today) == (date(2025, 1, 1), date(2025, 12, 31))


def test_recall_favours_lines_said_in_the_span_the_prompt_names(tmp_path: Path) -> None:
    memory = tmp_path / "memory"
    for day, food, when in (("day1125", "김치찌개", "2026-11-25"),
                            ("day1010", "된장찌개", "2026-10-10")):
        folder = memory / day
        folder.mkdir(parents=True)
        part = folder / "part1.txt"
        part.write_text(f"나의 말:\n저녁으로 {food}를 먹었어\n", encoding="utf-8")
        os.utime(part, ns=(ns(when), ns(when)))
    replay_archive(memory, REPO / "manifest")
    enrich_all(memory)
    recaller = Recaller(MemoryIndex(memory))
    recaller.today = lambda: date(2026, 12, 3)
    try:
        plain = recaller.recall("저녁으로 찌개를 먹었어", 2)
        assert [h.date for h in plain] and {h.date for h in plain} == {"2026-11-25",
                                                                      "2026-10-10"}
        week = recaller.recall("지난주 저녁으로 찌개를 먹었어", 2)
        assert week[0].text == "저녁으로 김치찌개를 먹었어" and week[0].date == "2026-11-25"
        month = recaller.recall("10월... 아니 작년? 아니, last month 말고 지난달 전에", 2)
        assert month  # a prompt with several spans takes the first and still answers
    finally:
        recaller.close()
        recaller.index.close()
