"""Issue 16's frictions that pure functions settle: the advertised weekly timetable,
dates typed the way coordinators write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.formatting import regular_slots, weekly_pattern
from db.dto import SessionDTO


def _session(n: int, start: datetime, hours: float = 2) -> SessionDTO:
    return SessionDTO(
        id=n,
        code=None,
        group_id=1,
        starts_at=start,
        ends_at=start + timedelta(hours=hours),
        room=None,
        cancelled=False,
    )


def test_a_make_up_class_does_not_change_the_weekly_timetable() -> None:
    # Tue, Thu, Sat at 18:30 in Bishkek (UTC+6) for three weeks, plus one Sunday make-up.
    first_tuesday = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
    sessions = [
        _session(i * 3 + j, first_tuesday + timedelta(weeks=i, days=d))
        for i in range(3)
        for j, d in enumerate((0, 2, 4))
    ]
    sessions.append(_session(99, datetime(2026, 12, 6, 5, 0, tzinfo=UTC)))  # Sunday 11:00
    assert weekly_pattern(sessions, "Asia/Bishkek", "en") == "Tue, Thu, Sat 18:30–20:30"
    assert [s[0] for s in regular_slots(sessions, "Asia/Bishkek")] == [1, 3, 5]
    # A first week with nothing repeating yet shows what there is.
    assert weekly_pattern(sessions[:2], "Asia/Bishkek", "ru") == "вт, чт 18:30–20:30"


def test_class_dates_typed_with_month_names() -> None:
    from datetime import date, time

    import pytest

    from handlers.staff.schedule.parsing import SlotError, parse_slot, parse_slot_on

    today = date(2026, 12, 1)
    for text in (
        "6 декабря 18:30",
        "6.12 18:30",
        "6 желтоқсан 18:30",
        "6 декабрь 18:30",
        "6 Dec 18:30",
        "6 December 2026 18:30",
        "6 желтоқсанда 18.30",
    ):
        slot = parse_slot(text, today)
        assert (slot.day, slot.start) == (date(2026, 12, 6), time(18, 30)), text
    slot = parse_slot("6 января 9:00-10:30 305", today)  # January: next year's
    assert (slot.day, slot.end, slot.room) == (date(2027, 1, 6), time(10, 30), "305")
    with pytest.raises(SlotError):
        parse_slot("6 потом 18:30", today)
    # A day chosen with a button: the time and the room are enough.
    slot = parse_slot_on("18:30-20:00 201", date(2026, 12, 8), today)
    assert (slot.day, slot.start, slot.end, slot.room) == (
        date(2026, 12, 8),
        time(18, 30),
        time(20, 0),
        "201",
    )
    assert parse_slot_on("9.12 10:00", date(2026, 12, 8), today).day == date(2026, 12, 9)


def test_weekly_days_in_all_four_languages() -> None:
    from bot.services.catalog import parse_catalog

    def days(listed: str) -> list[int]:
        text = f"""
groups:
  - code: g1
    weekly:
      - days: [{listed}]
        start: "18:30"
        end: "20:00"
        from: 2026-12-07
        until: 2026-12-13
"""
        [group] = parse_catalog(text, "t.yaml").groups
        return sorted({s.day.weekday() for s in group.sessions})

    assert days("mon, wed, fri") == [0, 2, 4]
    assert days("пн, ср, пт") == [0, 2, 4]  # Russian
    assert days("дс, сс, жм") == [0, 1, 4]  # Kazakh: дүйсенбі, сейсенбі, жұма
    assert days("дш, шш, иш") == [0, 1, 5]  # Kyrgyz: дүйшөмбү, шейшемби, ишемби
    assert days("Вт, Чт") == [1, 3]
