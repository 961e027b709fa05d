"""Typed class times ("Tue 18:30", "12.03 9:00") → a ``Slot`` → UTC start and end."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_LENGTH = timedelta(hours=2)  # of a new class when the group has none yet
# A date typed without a year that is this many days past is taken as next year's;
# a day less far back is simply in the past (and refused as such).
ROLLOVER_AFTER = timedelta(days=183)
# ... and one that was last year within this many days (typed in January for December)
# is last year's, also past, rather than eleven months ahead.
RECENT_PAST = timedelta(days=62)

# ---- typed times ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Slot:
    """A class as staff type it, in the centre's local time: ``10.12 18:30-20:30 201``."""

    day: date
    start: time
    end: time | None
    room: str | None


_SLOT_RE = re.compile(
    r"^\s*(?P<date>\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}(?:[./]\d{2,4})?"
    r"|\d{1,2}\s+[^\W\d_]+\.?(?:\s+\d{4})?)"
    r"\s+(?P<start>\d{1,2}[:.]\d{2})"
    r"(?:\s*[-–—]\s*(?P<end>\d{1,2}:\d{2})|\s+(?P<end2>\d{1,2}:\d{2}))?"
    r"(?:\s+(?P<room>\S.*?))?\s*$"
)


# Month names as coordinators type them: Russian (also what Kyrgyz uses), Kazakh, English;
# a word is a month when it starts with one of these stems («6 декабря», «6 желтоқсан»).
MONTH_STEMS = {
    **{
        stem: n
        for n, stems in enumerate(
            (
                ("январ", "қаңтар", "jan"),
                ("феврал", "ақпан", "feb"),
                ("март", "наурыз", "mar"),
                ("апрел", "сәуір", "apr"),
                ("мая", "май", "мамыр", "may"),
                ("июн", "маусым", "jun"),
                ("июл", "шілде", "jul"),
                ("август", "тамыз", "aug"),
                ("сентябр", "қыркүйек", "sep"),
                ("октябр", "қазан", "oct"),
                ("ноябр", "қараша", "nov"),
                ("декабр", "желтоқсан", "dec"),
            ),
            start=1,
        )
        for stem in stems
    }
}


def month_of(word: str) -> int | None:
    word = word.lower().rstrip(".")
    found = [(len(stem), n) for stem, n in MONTH_STEMS.items() if word.startswith(stem)]
    return max(found)[1] if found else None


def _time(raw: str) -> time:
    hours, minutes = raw.replace(".", ":").split(":")
    return time(int(hours), int(minutes))


def _year_of(day: int, month: int, today: date) -> int:
    """The year a day and month typed without one mean (see parse_slot)."""
    this_year = date(today.year, month, day)  # ValueError for 29.02 out of a leap year
    if today - this_year > ROLLOVER_AFTER:
        return today.year + 1
    try:
        last_year = date(today.year - 1, month, day)
    except ValueError:
        return today.year
    if timedelta(0) < today - last_year <= RECENT_PAST:
        return today.year - 1
    return today.year


class SlotError(ValueError):
    """Typed text that is not a date and time."""


def parse_slot(text: str, today: date) -> Slot:
    """Read 'date start[-end] [room]'.

    Dates: 2026-12-10, 10.12.2026, 10.12.26, 10.12 (or with /), «10 декабря», «10
    желтоқсан», "10 Dec" (a month's name in Russian, Kazakh or English). A date without a year
    is this year's unless that day is more than about six months past (typed in December
    for January): then it is next year's. A day a little past (this year's, or last
    year's within two months) stays in the past, so the caller refuses it rather than
    moving a class a year ahead. Raises SlotError.
    """
    match = _SLOT_RE.match(text)
    if match is None:
        raise SlotError(text)
    try:
        raw_date = match["date"]
        words = raw_date.split()
        if len(words) >= 2:  # «6 декабря», «6 желтоқсан 2026», "6 Dec"
            month = month_of(words[1])
            if month is None:
                raise SlotError(text)
            day = int(words[0])
            year = int(words[2]) if len(words) == 3 else _year_of(day, month, today)
        elif "-" in raw_date:
            year, month, day = (int(x) for x in raw_date.split("-"))
        else:
            parts = [int(x) for x in re.split(r"[./]", raw_date)]
            day, month = parts[0], parts[1]
            if len(parts) == 3:
                year = parts[2] + 2000 if parts[2] < 100 else parts[2]
            else:
                year = _year_of(day, month, today)
        end_raw = match["end"] or match["end2"]
        return Slot(
            date(year, month, day),
            _time(match["start"]),
            _time(end_raw) if end_raw else None,
            (match["room"] or "").strip() or None,
        )
    except ValueError:
        raise SlotError(text) from None


_TIME_ONLY_RE = re.compile(
    r"^\s*(?P<start>\d{1,2}:\d{2})"  # a colon: "9.12" is a date
    r"(?:\s*[-–—]\s*(?P<end>\d{1,2}[:.]\d{2})|\s+(?P<end2>\d{1,2}[:.]\d{2}))?"
    r"(?:\s+(?P<room>\S.*?))?\s*$"
)


def parse_slot_on(text: str, day: date, today: date) -> Slot:
    """Read 'start[-end] [room]' for a day already chosen with a button; a full date
    typed anyway wins. Raises SlotError."""
    match = _TIME_ONLY_RE.match(text)
    if match is None:
        return parse_slot(text, today)
    try:
        end_raw = match["end"] or match["end2"]
        return Slot(
            day,
            _time(match["start"]),
            _time(end_raw) if end_raw else None,
            (match["room"] or "").strip() or None,
        )
    except ValueError:
        raise SlotError(text) from None


def slot_times(slot: Slot, tz: str, length: timedelta) -> tuple[datetime, datetime]:
    """UTC start and end; without an end, the class lasts ``length``."""
    zone = ZoneInfo(tz)
    start = datetime.combine(slot.day, slot.start, tzinfo=zone)
    end = datetime.combine(slot.day, slot.end, tzinfo=zone) if slot.end else start + length
    return start.astimezone(UTC), end.astimezone(UTC)
