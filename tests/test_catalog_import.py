"""Catalogue import: the YAML format, its error messages, and the idempotent upsert."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.services.catalog import (
    CatalogData,
    CatalogError,
    ImportReport,
    apply_catalog,
    import_catalog,
    parse_catalog,
)
from bot.services.catalog.model import MAX_CLASSES
from db.database import Database
from db.models import Centre, ClassSession, Course, District, Group, Question, Region
from tests.catalog_text import english

DEMO = Path(__file__).resolve().parent.parent / "catalog" / "demo.yaml"
LOCALES = ("kk", "ky", "ru", "en")


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the only line of ``text`` that is ``needle`` (leading spaces
    aside) or, failing that, the only one containing it."""
    lines = list(enumerate(text.splitlines(), 1))
    hits = [i for i, line in lines if line.strip() == needle]
    hits = hits or [i for i, line in lines if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


def errors_of(text: str, filename: str = "bad.yaml") -> list[str]:
    with pytest.raises(CatalogError) as info:
        parse_catalog(text, filename)
    return english(info.value)


@cache
def demo_text() -> str:
    return DEMO.read_text(encoding="utf-8")


@cache
def demo_data() -> CatalogData:
    return parse_catalog(demo_text(), "demo.yaml")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3")
    await database.migrate()
    yield database
    await database.dispose()


async def count(db: Database, model: type[object]) -> int:
    async with db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def all_counts(db: Database) -> dict[str, int]:
    kinds = {
        "regions": Region,
        "districts": District,
        "centres": Centre,
        "courses": Course,
        "groups": Group,
        "sessions": ClassSession,
        "questions": Question,
    }
    return {kind: await count(db, model) for kind, model in kinds.items()}


def loc(text: str) -> str:
    return "{" + ", ".join(f"{x}: {text}" for x in LOCALES) + "}"


SMALL = textwrap.dedent(
    f"""\
    regions:
      - code: kg-bishkek
        country: KG
        kind: city
        name: {loc("Bishkek")}
        districts:
          - code: kg-bishkek-lenin
            name: {loc("Lenin")}
    centres:
      - code: c1
        region: kg-bishkek
        name: {loc("Centre")}
        city: {loc("Bishkek")}
        address: {loc("Street")}
        latitude: 42.87
        longitude: 74.57
        timezone: Asia/Bishkek
    courses:
      - code: web
        centre: c1
        title: {loc("Web")}
        description: {loc("About")}
        languages: [ky, ru]
        duration_weeks: 36
        start_date: 2027-01-11
        enrolment_open: true
        free_of_charge: true
    groups:
      - code: web-1
        course: web
        name: {loc("Group 1")}
        capacity: 20
        weekly:
          days: [mon, wed]
          start: "18:30"
          end: "20:30"
          room: "201"
          from: 2027-01-11
          until: 2027-01-24
        sessions:
          - date: 2027-01-16
            start: "10:00"
            end: "12:00"
    """
)


# ------------------------------------------------------------------------ parsing


def test_demo_catalogue_parses_with_expected_content() -> None:
    data = demo_data()
    assert len(data.regions) == 7
    assert len(data.districts) == 47
    assert len(data.centres) == 7
    assert len(data.courses) == 11
    assert len(data.groups) == 18
    assert len(data.sessions) == 1210

    regions = {r.code: r for r in data.regions}
    assert regions["kg-bishkek"].kind == "city"
    assert {r.kind for c, r in regions.items() if c != "kg-bishkek"} == {"region"}
    zhambyl = {d.code for d in regions["kz-zhambyl"].districts}
    for name in (
        "taraz", "baizak", "zhambyl", "zhualy", "korday", "merke",
        "moiynkum", "sarysu", "ryskulov", "talas", "shu",
    ):  # fmt: skip
        assert f"kz-zhambyl-{name}" in zhambyl
    assert len(zhambyl) == 11

    taraz = [k for k in data.courses if k.centre == "taraz-it"]
    assert len(taraz) == 5
    assert {k.languages for k in taraz} == {("kk", "ru")}
    assert all(k.free_of_charge and k.start_date == date(2026, 12, 7) for k in taraz)
    taraz_groups = [g for g in data.groups if g.course in {k.code for k in taraz}]
    assert len(taraz_groups) == 10
    assert sum(g.capacity or 0 for g in taraz_groups) == 50
    kg = [k for k in data.courses if k.centre != "taraz-it"]
    assert all(k.modules == 12 and "ISDEL" in k.certificate["en"] for k in kg)

    # Kazakhstan is on UTC+5 since March 2024; the demo's zone must say so.
    centre = next(c for c in data.centres if c.code == "taraz-it")
    start = datetime(2026, 12, 7, 10, tzinfo=ZoneInfo(centre.timezone))
    assert start.utcoffset() == timedelta(hours=5)

    for text in (
        *(r.name for r in data.regions),
        *(d.name for d in data.districts),
        *(c.name for c in data.centres),
        *(c.address for c in data.centres),
        *(k.title for k in data.courses),
        *(k.description for k in data.courses),
    ):
        assert tuple(text) == LOCALES
        assert all(value.strip() for value in text.values())


def test_many_errors_reported_at_once_with_exact_lines() -> None:
    text = textwrap.dedent(
        f"""\
        regions:
          - code: kz-zhambyl
            country: KZ
            kind: oblast
            name: {{kk: Жамбыл облысы, ru: Жамбылская область, en: Zhambyl Region}}
        centres:
          - code: taraz-it
            region: kz-zhambyl
            name: {loc("IT")}
            city: {loc("Taraz")}
            adress: {loc("Tole bi 60")}
            latitude: 142.9
            longitude: 71.39
            timezone: Asia/Almati
        courses:
          - code: taraz-java
            centre: taraz-it
            title: {loc("Java")}
            description: {loc("About")}
            languages: [kk, ru]
            duration_weeks: 13
            start_date: 2026-12-32
            enrolment_open: maybe
            free_of_charge: true
        groups:
          - code: taraz-java-1
            course: taraz-java
            name: {loc("Group 1")}
            capacity: 0
            weekly:
              days: [mon, wedn]
              start: "18:30"
              end: "17:00"
              from: 2026-12-07
              until: 2027-03-05
        """
    )
    errors = errors_of(text)
    assert errors == [
        "bad.yaml:4: region 'kz-zhambyl': 'kind' must be one of region, city, not 'oblast'",
        "bad.yaml:7: centre 'taraz-it': 'address' is missing; add it",
        "bad.yaml:11: centre 'taraz-it': unknown key 'adress'; allowed here: code, region, "
        "name, city, address, latitude, longitude, timezone, faq, contacts "
        "(did you mean 'address'?)",
        "bad.yaml:12: centre 'taraz-it': 'latitude' must be between -90 and 90, not 142.9",
        "bad.yaml:14: centre 'taraz-it': 'timezone': unknown time zone 'Asia/Almati'; "
        "use an IANA name like Asia/Almaty (did you mean 'Asia/Almaty'?)",
        "bad.yaml:22: course 'taraz-java': 'start_date': there is no such date as 2026-12-32",
        "bad.yaml:23: course 'taraz-java': 'enrolment_open' must be true or false, not 'maybe'",
        "bad.yaml:29: group 'taraz-java-1': 'capacity' must be a positive whole number, not '0'",
        "bad.yaml:31: group 'taraz-java-1', weekly rule: 'days': 'wedn' is not a week day; "
        "write mon, tue, … or пн, вт, … (дс, сс, … in Kazakh; дш, шш, … in Kyrgyz)"
        " (did you mean 'wed'?)",
        "bad.yaml:33: group 'taraz-java-1', weekly rule: 'end' 17:00 must be after 'start' 18:30",
    ]


def test_unknown_keys_suggest_the_closest_valid_one() -> None:
    text = SMALL.replace("centres:", "centers:").replace("    title:", "    titel:")
    errors = errors_of(text, "demo.yaml")
    assert errors[0].startswith(
        f"demo.yaml:{line_of(text, 'centers:')}: the file: unknown key 'centers'; "
    )
    assert errors[0].endswith("(did you mean 'centres'?)")
    assert errors[1] == (
        f"demo.yaml:{line_of(text, '- code: web')}: course 'web': 'title' is missing; add it"
    )
    assert errors[2].startswith(
        f"demo.yaml:{line_of(text, 'titel:')}: course 'web': unknown key 'titel'; "
    )
    assert errors[2].endswith("(did you mean 'title'?)")
    assert len(errors) == 3


def test_bad_timezone_is_reported_with_its_line() -> None:
    text = SMALL.replace("timezone: Asia/Bishkek", "timezone: UTC+6")
    assert errors_of(text) == [
        f"bad.yaml:{line_of(text, 'UTC+6')}: centre 'c1': 'timezone': unknown time zone "
        "'UTC+6'; use an IANA name like Asia/Almaty"
    ]


def test_yaml_syntax_error_has_a_line_number() -> None:
    text = SMALL.replace('      start: "18:30"', '      start: "18:30\n')
    [error] = errors_of(text)
    assert error.startswith("bad.yaml:")
    assert "indentation" in error, error
    tab = SMALL.replace("    capacity: 20", "\tcapacity: 20")
    [error] = errors_of(tab)
    assert (
        error
        == f"bad.yaml:{line_of(tab, 'capacity: 20')}: a tab character: indent with spaces only"
    )


def test_duplicate_codes_unknown_locale_and_overlapping_classes() -> None:
    extra = textwrap.dedent(
        """\
        - code: web-2
          course: web
          name: {kk: a, ky: b, ru: c, en: d, fr: e}
        - code: web-1
          weekly:
            - days: [mon]
              start: "9:00"
              end: "10:00"
              from: 2027-01-11
              until: 2027-01-31
            - days: [mon, tue]
              start: "09:00"
              end: "10:30"
              from: 2027-01-11
              until: 2027-01-31
          sessions:
            - {date: 2027-01-12, start: "9:00", end: "9:30"}
        """
    )
    text = SMALL + textwrap.indent(extra, "  ")
    first_rule = line_of(text, "- days: [mon]")
    second_rule = line_of(text, "- days: [mon, tue]")
    assert errors_of(text) == [
        f"bad.yaml:{line_of(text, 'fr: e')}: group 'web-2': 'name': unknown language 'fr'; "
        "use kk, ky, ru, en",
        f"bad.yaml:{first_rule - 2}: group 'web-1': this code is already used "
        f"on line {line_of(SMALL, '- code: web-1')}; give each entry its own code",
        f"bad.yaml:{second_rule}: class code 'web-1-202701110900' is already used on line "
        f"{first_rule} — and 2 more like it",
        f"bad.yaml:{line_of(text, '2027-01-12')}: group 'web-1' has two classes at "
        f"2027-01-12 09:00 (see line {second_rule})",
    ]


def test_weekly_rule_gives_the_right_utc_instants() -> None:
    data = parse_catalog(SMALL)
    [group] = data.groups
    assert [s.code for s in group.sessions] == [
        "web-1-202701111830",
        "web-1-202701131830",
        None,
        "web-1-202701181830",
        "web-1-202701201830",
    ]
    bishkek = ZoneInfo("Asia/Bishkek")  # UTC+6 all year, no daylight saving
    weekly = [s for s in group.sessions if s.generated]
    assert [s.starts_at(bishkek) for s in weekly] == [
        datetime(2027, 1, day, 12, 30, tzinfo=UTC) for day in (11, 13, 18, 20)
    ]
    assert {s.ends_at(bishkek) - s.starts_at(bishkek) for s in weekly} == {timedelta(hours=2)}

    # Asia/Almaty went from UTC+6 to UTC+5 on 1 March 2024: same local time, new instant.
    almaty = ZoneInfo("Asia/Almaty")
    rule = SMALL.replace("from: 2027-01-11", "from: 2024-02-26").replace(
        "until: 2027-01-24", "until: 2024-03-04"
    )
    mondays = [s for s in parse_catalog(rule).sessions if s.generated and s.day.weekday() == 0]
    assert [s.starts_at(almaty) for s in mondays] == [
        datetime(2024, 2, 26, 12, 30, tzinfo=UTC),
        datetime(2024, 3, 4, 13, 30, tzinfo=UTC),
    ]


def test_merge_keys_fill_in_shared_fields() -> None:
    text = SMALL.replace(
        "    weekly:\n      days: [mon, wed]",
        "    weekly:\n      <<: {days: [mon, wed], start: '18:30', end: '20:30'}\n"
        "      days: [mon, wed]",
    ).replace('      start: "18:30"\n      end: "20:30"\n', "")
    assert parse_catalog(text).sessions == parse_catalog(SMALL).sessions


def test_anchors_and_aliases_are_refused() -> None:
    """An alias repeats a whole subtree: a few kilobytes could stand for millions of
    classes. Refused with the line, before anything is expanded."""
    anchored = SMALL.replace("    weekly:\n", "    weekly: &evening\n", 1)
    [error] = errors_of(anchored)
    assert "anchors (&name) and aliases (*name) are not allowed" in error
    assert error.startswith(f"bad.yaml:{line_of(anchored, 'weekly: &evening')}:")
    # The classic "billion laughs", shrunk: nine levels of ten aliases each.
    levels = ["a0: &a0 [x]"] + [
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)
    ]
    [error] = errors_of("\n".join(levels) + "\n")
    assert "are not allowed" in error


def test_a_file_cannot_make_more_than_max_classes() -> None:
    """Weekly rules multiply lines into classes: the total per file is capped."""
    rules = "".join(
        f"      - days: [mon, tue, wed, thu, fri, sat, sun]\n"
        f'        start: "{8 + n // 2:02d}:{n % 2 * 30:02d}"\n'
        f'        end: "{8 + n // 2:02d}:{n % 2 * 30 + 15:02d}"\n'
        "        from: 2027-01-01\n        until: 2029-01-01\n"
        for n in range(30)  # 30 rules x 731 days: 21,930 classes
    )
    text = f"groups:\n  - code: g1\n    weekly:\n{rules}"
    errors = errors_of(text)
    assert any(f"more than {MAX_CLASSES} classes" in e for e in errors), errors


# ---------------------------------------------------------------------- importing


async def test_demo_imports_and_reimport_changes_nothing(db: Database) -> None:
    report = await apply_catalog(db, demo_data())
    created = {kind: c.created for kind, c in report.items()}
    assert created == {
        "regions": 7,
        "districts": 47,
        "centres": 7,
        "courses": 11,
        "groups": 18,
        "sessions": 1210,
        "questions": 5,
    }
    assert report.changed
    assert report.summary().startswith("Catalogue imported — regions: 7 created;")
    assert await all_counts(db) == created

    async with db.transaction() as s:
        bishkek = await s.scalar(select(Region).where(Region.code == "kg-bishkek"))
        assert bishkek is not None
        assert bishkek.kind == "city"
        assert bishkek.country == "KG"
        taraz = await s.scalar(select(District).where(District.code == "kz-zhambyl-taraz"))
        zhambyl = await s.scalar(select(Region).where(Region.code == "kz-zhambyl"))
        assert taraz is not None
        assert zhambyl is not None
        assert taraz.region_id == zhambyl.id
        java = await s.scalar(select(Course).where(Course.code == "taraz-java"))
        assert java is not None
        assert java.languages == "kk,ru"
        assert java.certificate == {}
        first = await s.scalar(
            select(ClassSession).where(ClassSession.code == "taraz-java-morning-202612071000")
        )
        assert first is not None
        assert first.starts_at == datetime(2026, 12, 7, 5, 0, tzinfo=UTC)  # 10:00 UTC+5
        assert first.ends_at == datetime(2026, 12, 7, 7, 30, tzinfo=UTC)
        assert first.room == "201"
        assert not first.cancelled

    again = await import_catalog(db, DEMO)
    assert not again.changed
    assert {kind: (c.created, c.updated) for kind, c in again.items()} == dict.fromkeys(
        created, (0, 0)
    )
    assert again.sessions.unchanged == 1210
    assert again.summary().startswith("Catalogue already up to date — regions: 7 unchanged;")
    assert await all_counts(db) == created


async def test_modified_file_moves_a_class_and_updates_a_title(db: Database) -> None:
    await apply_catalog(db, demo_data())
    async with db.transaction() as s:
        group = await s.scalar(select(Group).where(Group.code == "taraz-java-morning"))
        assert group is not None
        group.seats_taken = 3
        moved = await s.scalar(
            select(ClassSession).where(ClassSession.code == "taraz-java-morning-202612071000")
        )
        assert moved is not None
        moved_id = moved.id

    text = demo_text().replace("en: Java programming", "en: Java programming for beginners")
    text = text.replace(
        "  - code: taraz-java-morning\n",
        "  - code: taraz-java-morning\n"
        "    sessions:\n"
        "      - code: taraz-java-morning-202612071000\n"
        "        date: 2026-12-08\n"
        '        start: "11:00"\n'
        '        end: "13:30"\n',
    )
    report = await apply_catalog(db, parse_catalog(text, "demo.yaml"))
    assert (report.courses.updated, report.courses.unchanged) == (1, 10)
    assert (report.sessions.created, report.sessions.updated) == (0, 1)
    assert report.sessions.unchanged == 1209
    assert report.groups.unchanged == 18
    assert report.summary() == (
        "Catalogue imported — regions: 7 unchanged; districts: 47 unchanged; "
        "centres: 7 unchanged; courses: 1 updated, 10 unchanged; groups: 18 unchanged; "
        "sessions: 1 updated, 1209 unchanged; questions: 5 unchanged."
    )

    async with db.transaction() as s:
        java = await s.scalar(select(Course).where(Course.code == "taraz-java"))
        assert java is not None
        assert java.title["en"] == "Java programming for beginners"
        assert java.title["kk"] == "Java тілінде бағдарламалау"
        group = await s.scalar(select(Group).where(Group.code == "taraz-java-morning"))
        assert group is not None
        assert group.seats_taken == 3
        assert group.capacity == 5
        row = await s.get(ClassSession, moved_id)
        assert row is not None
        assert row.starts_at == datetime(2026, 12, 8, 6, 0, tzinfo=UTC)
        assert row.ends_at == datetime(2026, 12, 8, 8, 30, tzinfo=UTC)
        assert row.room == "201"  # not given for the moved class: kept
    assert await count(db, ClassSession) == 1210


async def test_timetable_only_file_uses_groups_in_the_database(
    db: Database, tmp_path: Path
) -> None:
    await apply_catalog(db, parse_catalog(SMALL))
    async with db.transaction() as s:
        s.add(Region(code="kz-astana", country="KZ", kind="city", name={"en": "Astana"}))

    timetable = tmp_path / "timetable.yaml"
    timetable.write_text(
        textwrap.dedent(
            """\
            # Only new classes for a group the database already has.
            groups:
              - code: web-1
                sessions:
                  - {code: web-1-extra, date: 2027-01-23, start: "10:00", end: "13:00", room: Lab}
                  - {date: 2027-01-16, start: "10:00", end: "12:00", cancelled: true}
            """
        ),
        encoding="utf-8",
    )
    report = await import_catalog(db, timetable)
    assert (report.groups.created, report.groups.updated, report.groups.unchanged) == (0, 0, 1)
    assert (report.sessions.created, report.sessions.updated) == (1, 1)
    assert report.regions.total == 0
    async with db.transaction() as s:
        extra = await s.scalar(select(ClassSession).where(ClassSession.code == "web-1-extra"))
        assert extra is not None
        assert extra.room == "Lab"
        assert extra.starts_at == datetime(2027, 1, 23, 4, 0, tzinfo=UTC)
        uncoded = await s.scalar(select(ClassSession).where(ClassSession.code.is_(None)))
        assert uncoded is not None
        assert uncoded.cancelled
    # Rows the file does not mention are kept: the generated classes, the extra region.
    assert await count(db, ClassSession) == 6
    assert await count(db, Region) == 2
    again = await import_catalog(db, timetable)
    assert not again.changed


async def test_bad_reference_is_reported_and_nothing_is_written(db: Database) -> None:
    text = SMALL.replace("    centre: c1", "    centre: c11")
    data = parse_catalog(text, "small.yaml")  # might be in the database: fine to parse
    with pytest.raises(CatalogError) as info:
        await apply_catalog(db, data)
    assert english(info.value) == [
        f"small.yaml:{line_of(text, 'centre: c11')}: course 'web': centre 'c11' is neither "
        "in this file nor in the database; check the code (did you mean 'c1'?)"
    ]
    assert set((await all_counts(db)).values()) == {0}


async def test_new_group_needs_course_name_and_capacity(db: Database) -> None:
    text = "groups:\n  - code: ghost\n    capacity: 5\n"
    with pytest.raises(CatalogError) as info:
        await apply_catalog(db, parse_catalog(text, "t.yaml"))
    assert english(info.value) == [
        "t.yaml:2: group 'ghost': the group is not in the database yet, so it needs: course, name"
    ]


async def test_all_or_nothing_when_a_late_check_fails(db: Database) -> None:
    await apply_catalog(db, parse_catalog(SMALL))
    async with db.transaction() as s:
        group = await s.scalar(select(Group).where(Group.code == "web-1"))
        assert group is not None
        group.seats_taken = 12
    before = await all_counts(db)

    # A new region and a renamed course would be fine; capacity below the seats taken
    # is not, so none of it may land.
    text = (
        SMALL.replace("code: kg-bishkek-lenin", "code: kg-bishkek-oktyabr")
        .replace(loc("Web"), loc("Web 2"))
        .replace("capacity: 20", "capacity: 10")
    )
    with pytest.raises(CatalogError) as info:
        await apply_catalog(db, parse_catalog(text, "t.yaml"))
    assert english(info.value) == [
        f"t.yaml:{line_of(text, '- code: web-1')}: group 'web-1': 'capacity' 10 is below "
        "the seats already taken (12); raise it"
    ]
    assert await all_counts(db) == before
    async with db.transaction() as s:
        course = await s.scalar(select(Course).where(Course.code == "web"))
        assert course is not None
        assert course.title["en"] == "Web"
        assert await s.scalar(select(District).where(District.code == "kg-bishkek-oktyabr")) is None


async def test_timetable_for_an_unknown_group_suggests_the_right_code(db: Database) -> None:
    await apply_catalog(db, parse_catalog(SMALL))
    text = (
        "groups:\n  - code: web-11\n    sessions:\n"
        "      - {date: 2027-02-01, start: '9:00', end: '10:00'}\n"
    )
    with pytest.raises(CatalogError) as info:
        await apply_catalog(db, parse_catalog(text, "t.yaml"))
    assert english(info.value) == [
        "t.yaml:2: group 'web-11': no such group in the database; a new group needs "
        "'course', 'name' and 'capacity' (did you mean 'web-1'?)"
    ]


async def test_a_failure_while_writing_rolls_everything_back(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.services.catalog import writing

    async def broken(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(writing._Applier, "_write_groups", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        await apply_catalog(db, parse_catalog(SMALL))
    assert set((await all_counts(db)).values()) == {0}  # regions and courses were flushed


async def test_group_cannot_move_course_and_codes_cannot_change_group(db: Database) -> None:
    await apply_catalog(db, parse_catalog(SMALL))
    second = SMALL.replace("code: web\n", "code: web2\n").replace("course: web\n", "course: web2\n")
    second = second.replace("code: web-1\n", "code: web-2\n")
    await apply_catalog(db, parse_catalog(second))

    moved = "groups:\n  - code: web-2\n    course: web\n"
    with pytest.raises(CatalogError) as info:
        await apply_catalog(db, parse_catalog(moved, "t.yaml"))
    assert "group 'web-2': the group belongs to course 'web2'" in english(info.value)[0]

    stolen = (
        "groups:\n  - code: web-2\n    sessions:\n"
        "      - {code: web-1-202701111830, date: 2027-01-12, start: '9:00', end: '10:00'}\n"
    )
    with pytest.raises(CatalogError) as info:
        await apply_catalog(db, parse_catalog(stolen, "t.yaml"))
    assert english(info.value) == [
        "t.yaml:4: group 'web-2': class code 'web-1-202701111830' already belongs to "
        "another group in the database; give this class a new code"
    ]


async def test_unreadable_file_is_a_catalog_error(db: Database, tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as info:
        await import_catalog(db, tmp_path / "missing.yaml")
    [error] = english(info.value)
    assert error.startswith(f"{tmp_path / 'missing.yaml'}: cannot read the file ("), error
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        await import_catalog(db, empty)
    assert english(info.value) == [
        "empty.yaml:1: the file is empty; expected some of: regions, centres, courses, groups, "
        "questions"
    ]


def test_examples_in_the_format_reference_parse() -> None:
    readme = (DEMO.parent / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in readme.split("```yaml\n")[1:]]
    files = [b for b in blocks if b.startswith(("regions:", "groups:", "#"))]
    assert len(files) == 2
    for block in files:
        assert parse_catalog(block, "README.md")


def test_report_summary_when_nothing_to_import() -> None:
    assert ImportReport().summary() == "Catalogue import: the file has nothing to import."
    assert not ImportReport().changed


@pytest.mark.parametrize("which", ["demo", "small"])
def test_the_demo_moves_forward_to_the_week_it_is_started_in(which: str) -> None:
    """Every date moves by the same whole number of weeks: the earliest falls on the
    Monday of ``today``'s week, each class keeps its weekday and time. Started before
    that week (as written), the demo is left as it is. (SMALL has a class written out
    besides its weekly rule.)"""
    from bot.services.catalog.model import moved_forward

    text = DEMO.read_text(encoding="utf-8") if which == "demo" else SMALL
    demo = parse_catalog(text, "catalogue.yaml")
    assert any(s.generated for s in demo.sessions)
    assert which == "demo" or not all(s.generated for s in demo.sessions)
    moved = moved_forward(demo, date(2027, 6, 9))  # a Wednesday
    first = min([c.start_date for c in moved.courses] + [s.day for s in moved.sessions])
    assert first == date(2027, 6, 7)
    steps = {m.start_date - c.start_date for c, m in zip(demo.courses, moved.courses, strict=True)}
    steps |= {m.day - s.day for s, m in zip(demo.sessions, moved.sessions, strict=True)}
    assert len(steps) == 1
    step = steps.pop()
    assert step.days % 7 == 0 and step > timedelta(0)
    for s, m in zip(demo.sessions, moved.sessions, strict=True):
        assert (m.day.weekday(), m.start, m.end, m.group) == (
            s.day.weekday(),
            s.start,
            s.end,
            s.group,
        )
        # A class expanded from a weekly rule is named by its new day, as if written so.
        assert m.code == (f"{m.group}-{m.day:%Y%m%d}{m.start:%H%M}" if s.generated else s.code)
    written = min([c.start_date for c in demo.courses] + [s.day for s in demo.sessions])
    assert moved_forward(demo, written) is demo
    assert moved_forward(demo, written - timedelta(days=30)) is demo


async def test_a_fresh_bot_seeds_the_demo_in_the_week_of_its_clock(tmp_path: Path) -> None:
    """A bot started on an empty database months after the demo was written shows a
    term that starts this week; a CATALOG_FILE of the centre's own is taken as written."""
    from bot.clock import ManualClock
    from sandbox.harness import BotHarness

    later = ManualClock(datetime(2027, 6, 9, 9, 0, tzinfo=UTC))
    async with BotHarness(tmp_path / "demo", clock=later) as h, h.app.db.read() as s:
        first = await s.scalar(select(func.min(Course.start_date)))
        classes = await s.scalar(
            select(func.count())
            .select_from(ClassSession)
            .where(ClassSession.starts_at >= datetime(2027, 6, 7, tzinfo=UTC))
        )
        total = await s.scalar(select(func.count()).select_from(ClassSession))
    assert first == date(2027, 6, 7)
    assert total and classes == total  # every class is ahead, none left behind
    env = {"CATALOG_FILE": str(DEMO)}
    async with BotHarness(tmp_path / "own", clock=later, env=env) as h, h.app.db.read() as s:
        first = await s.scalar(select(func.min(Course.start_date)))
    assert first == min(c.start_date for c in parse_catalog(DEMO.read_text("utf-8"), "d").courses)
