"""The attendance journal of a group for a month: trainees × class dates, as a table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.services.export import Cell, Table

MARKS = {True: "+", False: "н", None: ""}  # н: absent (нет), the usual paper journal mark


def month_bounds(month: date, tz: str) -> tuple[datetime, datetime]:
    """[first day 00:00, next month's first day 00:00) in the centre's time zone, as UTC."""
    zone = ZoneInfo(tz)
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    nxt = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=zone)
    return start, nxt


def journal_table(
    title: str,
    name_header: str,
    total_header: str,
    sessions: Sequence[tuple[int, datetime]],
    people: Sequence[tuple[str, int, dict[int, bool | None]]],
    tz: str,
    absent: str = MARKS[False],
) -> Table:
    zone = ZoneInfo(tz)
    headers = [name_header] + [at.astimezone(zone).strftime("%d.%m %H:%M") for _, at in sessions]
    headers.append(total_header)
    rows: list[list[Cell]] = []
    for name, _uid, marks in people:
        cells: list[Cell] = [name]
        present = marked = 0
        for sid, _ in sessions:
            mark = marks.get(sid)
            cells.append("+" if mark is True else absent if mark is False else "")
            if mark is not None:
                marked += 1
                present += bool(mark)
        cells.append(f"{present}/{marked}")
        rows.append(cells)
    return Table(title, headers, rows)
