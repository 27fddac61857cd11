"""Dates of remembered lines, and the time a prompt asks about.

A day folder names a month and a day (`dayMMDD`), not a year. A line's year is the latest
year that puts `MMDD` on or before the day its part file was last written (a part is
written on its day or later, never before): `day1231` in a part last written on
2027-01-02 is 2026-12-31. ECHO_MEMORY_YEAR fixes the year instead (an archive copied in
later, whose files' times say nothing).

`time_window(prompt, today)`: the span a prompt points at ("yesterday", "last week",
"지난주", "작년", ...), for recall to favour lines said then; None when it names no time,
or when it names a date of its own ("recently, in May 2022", "2023년 5월에 최근"): its
"recently" is then counted from that date, not from today, and which lines that means is
not known, so no line is favoured.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

_DAY_RE = re.compile(r"day(\d\d)(\d\d)")
_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|"
           "december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
# a date the prompt names itself: a year, a month with its day, "2023년", "5월 10일"
_OWN_DATE = re.compile(
    rf"\b(?:19|20)\d\d\b|\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b|"
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\b|\d{{2,4}}\s*년|"
    r"\d{1,2}\s*월\s*\d{1,2}\s*일", re.IGNORECASE)


def line_date(day: str, mtime_ns: int, year: int | None = None) -> date | None:
    """The date of a day folder's lines (None when the folder is not a real date)."""
    match = _DAY_RE.fullmatch(day)
    if match is None:
        return None
    month, dom = int(match.group(1)), int(match.group(2))
    written = datetime.fromtimestamp(mtime_ns / 1e9).date()
    for candidate in ([year] if year else [written.year, written.year - 1]):
        try:
            found = date(candidate, month, dom)
        except ValueError:
            continue
        if year or found <= written:
            return found
    return None


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _spans(today: date) -> list[tuple[re.Pattern[str], tuple[date, date]]]:
    week = _week_start(today)
    month = _month_start(today)
    last_month = _month_start(month - timedelta(days=1))
    spans = [
        (r"그저께|그제|day before yesterday", (today - timedelta(2), today - timedelta(2))),
        (r"어제|yesterday", (today - timedelta(1), today - timedelta(1))),
        (r"오늘|today|this morning|tonight|오늘 아침", (today, today)),
        (r"지난\s*주|저번\s*주|last week", (week - timedelta(7), week - timedelta(1))),
        (r"이번\s*주|this week", (week, today)),
        (r"지난\s*달|저번\s*달|last month", (last_month, month - timedelta(1))),
        (r"이번\s*달|this month", (month, today)),
        (r"작년|지난\s*해|last year", (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))),
        (r"올해|this year", (date(today.year, 1, 1), today)),
        (r"최근|요즘|요새|recently|lately|these days|last time|지난번|저번에",
         (today - timedelta(30), today)),
    ]
    return [(re.compile(p, re.IGNORECASE), span) for p, span in spans]


def time_window(prompt: str, today: date) -> tuple[date, date] | None:
    """The first span of time the prompt names, as (first day, last day) inclusive."""
    for pattern, span in _spans(today):
        if pattern.search(prompt):
            return None if _OWN_DATE.search(prompt) else span
    return None
