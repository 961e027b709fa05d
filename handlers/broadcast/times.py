"""Times for a scheduled broadcast: typed (parsed), shown, and the quick choices."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

# ---- times -------------------------------------------------------------------------------

_WHEN_RE = re.compile(
    r"^\s*(?:(?P<date>\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}(?:[./]\d{2,4})?)\s+)?"
    r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})\s*$"
)


def parse_when(text: str, today: date) -> datetime:
    """A local date and time as staff type it: ``25.12 10:00``, ``25.12.2026 10:00``,
    ``2026-12-25 10:00`` or just ``10:00`` (today). A date without a year is the next such
    day. Returns a naive local datetime; raises ValueError."""
    match = _WHEN_RE.match(text)
    try:
        if match is None:
            raise ValueError
        raw = match["date"]
        if raw is None:
            day = today
        elif "-" in raw:
            year, month, dom = (int(x) for x in raw.split("-"))
            day = date(year, month, dom)
        else:
            parts = [int(x) for x in re.split(r"[./]", raw)]
            if len(parts) == 3:
                day = date(parts[2] + 2000 if parts[2] < 100 else parts[2], parts[1], parts[0])
            else:
                day = date(today.year, parts[1], parts[0])
                if day < today:
                    day = date(today.year + 1, parts[1], parts[0])
        return datetime.combine(day, time(int(match["hour"]), int(match["minute"])))
    except ValueError:
        raise ValueError(f"not a date and time: {text!r}") from None


def fmt_when(moment: datetime, tz: str, locale: str) -> str:
    local = moment.astimezone(ZoneInfo(tz))
    return f"{format_date(local, 'd MMMM yyyy', locale=locale)}, {format_time(local, 'HH:mm')}"


def quick_times(now: datetime, tz: str) -> list[tuple[str, datetime]]:
    """Times to pick with one tap, in the centre's zone: in two hours (on the hour),
    tomorrow 09:00, tomorrow 18:00."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    soon = (local + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    tomorrow = local.date() + timedelta(days=1)
    picks = [("broadcast-pick-today", soon)] if soon.date() == local.date() else []
    picks += [
        ("broadcast-pick-tomorrow", datetime.combine(tomorrow, time(9, 0), tzinfo=zone)),
        ("broadcast-pick-tomorrow", datetime.combine(tomorrow, time(18, 0), tzinfo=zone)),
    ]
    return [(key, moment.astimezone(UTC)) for key, moment in picks]
