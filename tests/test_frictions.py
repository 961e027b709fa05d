"""Issue 16's frictions that pure functions settle: the advertised weekly timetable,
dates typed the way coordinators write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.formatting import regular_slots, weekly_pattern
from db.dto import SessionDTO
from tests.catalog_text import english, english_warnings


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


def test_catalogue_texts_in_fewer_languages_and_with_commas() -> None:
    import pytest

    from bot.services.catalog import CatalogError, parse_catalog

    text = """
regions:
  - code: kz-zhambyl
    country: KZ
    kind: region
    name: {ru: Жамбылская область, kk: Жамбыл облысы}
centres:
  - code: taraz-it
    region: kz-zhambyl
    name: {ru: IT-центр, kk: IT-орталық, ky: IT-борбор, en: IT centre}
    city: {ru: Тараз}
    address: {ru: Тараз, ул. Толе би 60, kk: Тараз, Төле би к-сі 60}
    latitude: 42.9
    longitude: 71.39
    timezone: Asia/Almaty
"""
    data = parse_catalog(text, "c.yaml")
    [region] = data.regions
    # Missing languages show the Russian text, and the import says so.
    assert region.name == {
        "kk": "Жамбыл облысы",
        "ky": "Жамбылская область",
        "ru": "Жамбылская область",
        "en": "Жамбылская область",
    }
    [centre] = data.centres
    assert centre.city == dict.fromkeys(("kk", "ky", "ru", "en"), "Тараз")
    assert any(
        "c.yaml:6:" in w and "ky, en" in w for w in english_warnings(data.warnings, "c.yaml")
    ), data.warnings
    assert any(
        "c.yaml:11:" in w and "kk, ky, en" in w for w in english_warnings(data.warnings, "c.yaml")
    ), data.warnings
    # A comma inside the one-line form belongs to the text.
    assert centre.address["ru"] == "Тараз, ул. Толе би 60"
    assert centre.address["kk"] == "Тараз, Төле би к-сі 60"
    # A colon breaks the YAML itself: the error says to use quotes.
    with pytest.raises(CatalogError) as caught:
        parse_catalog(text.replace("ул. Толе би 60", "ул.: Толе би 60"), "c.yaml")
    assert "quotes" in english(caught.value)[0], english(caught.value)
