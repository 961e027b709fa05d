"""The catalogue's vocabulary: its sections and limits, the parsed entries (frozen
dataclasses), the import report, and the error that lists every problem.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.services.catalog.problems import Problem

if TYPE_CHECKING:
    from bot.services.catalog.questions import QuestionData

SECTIONS = ("regions", "centres", "courses", "groups", "questions")
COUNTRIES = ("KZ", "KG")
KINDS = ("region", "city")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Week days as coordinators write them in each language (short and full forms); the
# Russian and Kazakh «ср» are both Wednesday, the Kazakh and Kyrgyz «жм» both Friday.
WEEKDAY_NAMES: dict[str, int] = {
    name: index
    for index, names in enumerate(
        (
            ("mon", "monday", "пн", "понедельник", "дс", "дүйсенбі", "дш", "дүйшөмбү"),
            ("tue", "tuesday", "вт", "вторник", "сс", "сейсенбі", "шш", "шейшемби"),
            ("wed", "wednesday", "ср", "среда", "сәрсенбі", "шр", "шаршемби"),
            ("thu", "thursday", "чт", "четверг", "бс", "бейсенбі", "бш", "бейшемби"),
            ("fri", "friday", "пт", "пятница", "жм", "жұма", "жума"),
            ("sat", "saturday", "сб", "суббота", "сн", "сенбі", "иш", "ишемби"),
            ("sun", "sunday", "вс", "воскресенье", "жс", "жексенбі", "жк", "жекшемби"),
        )
    )
    for name in names
}
CODE_MAX = 64  # the width of every `code` column
ROOM_MAX = 64  # the width of class_sessions.room
MAX_RULE_DAYS = 800  # a weekly rule longer than about two years is surely a typo
# Classes one file may make (the demo catalogue has about 1,200): weekly rules multiply
# a few lines into many rows, so a file cannot make the import run for minutes.
MAX_CLASSES = 20_000

# --------------------------------------------------------------------------- errors


class CatalogError(ValueError):
    """The catalogue file has problems; ``problems`` lists every one, in line order, as
    data (``problems.py``): the bot and the command line render them in a language."""

    def __init__(self, problems: Sequence[Problem], filename: str = "") -> None:
        self.problems: list[Problem] = list(problems)
        self.filename = filename
        # The language-free form, for a log that no one renders: file:line: message key.
        keys = "; ".join(f"{p.line}: {p.text.key}" for p in self.problems[:10])
        super().__init__(f"{filename}: {len(self.problems)} problem(s) ({keys})")


# ----------------------------------------------------------------------- parsed data


@dataclass(frozen=True, slots=True)
class DistrictData:
    code: str
    name: dict[str, str]
    sort: int
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class RegionData:
    code: str
    country: str
    kind: str
    name: dict[str, str]
    districts: tuple[DistrictData, ...]
    sort: int
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CentreData:
    code: str
    region: str
    name: dict[str, str]
    city: dict[str, str]
    address: dict[str, str]
    latitude: float
    longitude: float
    timezone: str
    sort: int
    line: int = field(default=0, compare=False)
    region_line: int = field(default=0, compare=False)
    # The centre's short FAQ (question, answer), shown before a question goes to staff;
    # None: not in the file (what is stored stays), (): cleared.
    faq: tuple[tuple[dict[str, str], dict[str, str]], ...] | None = None
    # Contacts as stored (db/dto.py CentreContacts.to_json); None: the file gives none,
    # and a centre already in the database keeps the ones it has.
    contacts: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class CourseData:
    code: str
    centre: str
    title: dict[str, str]
    description: dict[str, str]
    languages: tuple[str, ...]
    duration_weeks: int
    modules: int | None
    certificate: dict[str, str]  # empty when the course gives no certificate
    start_date: date
    enrolment_open: bool
    free_of_charge: bool
    sort: int
    line: int = field(default=0, compare=False)
    centre_line: int = field(default=0, compare=False)
    # Codes of the extra sign-up questions (None: the file does not say; keep the stored).
    questions: tuple[str, ...] | None = None
    questions_line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class SessionData:
    """One class, in the local time of its centre; ``starts_at(tz)`` gives UTC."""

    group: str
    code: str | None
    day: date
    start: time
    end: time
    room: str | None  # None: keep whatever the database has (new rows: no room)
    cancelled: bool | None  # None: keep whatever the database has (new rows: False)
    generated: bool = False  # expanded from a weekly rule
    line: int = field(default=0, compare=False)

    def local_start(self) -> datetime:
        return datetime.combine(self.day, self.start)

    def local_end(self) -> datetime:
        return datetime.combine(self.day, self.end)

    def starts_at(self, tz: ZoneInfo) -> datetime:
        return self.local_start().replace(tzinfo=tz).astimezone(UTC)

    def ends_at(self, tz: ZoneInfo) -> datetime:
        return self.local_end().replace(tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class GroupData:
    """A group; ``course``, ``name`` and ``capacity`` may be left out when the group is
    already in the database (a timetable-only file), and are then left as they are."""

    code: str
    course: str | None
    name: dict[str, str] | None
    capacity: int | None
    sessions: tuple[SessionData, ...]
    line: int = field(default=0, compare=False)
    course_line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CatalogData:
    filename: str
    regions: tuple[RegionData, ...] = ()
    centres: tuple[CentreData, ...] = ()
    courses: tuple[CourseData, ...] = ()
    groups: tuple[GroupData, ...] = ()
    questions: tuple[QuestionData, ...] = ()
    warnings: tuple[Problem, ...] = ()  # imported anyway: texts missing in a language

    @property
    def districts(self) -> tuple[DistrictData, ...]:
        return tuple(d for r in self.regions for d in r.districts)

    @property
    def sessions(self) -> tuple[SessionData, ...]:
        return tuple(s for g in self.groups for s in g.sessions)


def generated_code(group: str, day: date, start: time) -> str:
    """The code of a class expanded from a weekly rule: its group, day and time."""
    return f"{group}-{day:%Y%m%d}{start:%H%M}"


def _moved(session: SessionData, step: timedelta) -> SessionData:
    day = session.day + step
    if not session.generated:
        return replace(session, day=day)
    return replace(session, day=day, code=generated_code(session.group, day, session.start))


def moved_forward(catalog: CatalogData, today: date) -> CatalogData:
    """``catalog`` with every date (course starts, classes) moved forward by whole weeks,
    so that its earliest date falls in the week of ``today``; weekdays, times and the
    spacing of classes stay as written. As it is when that date is this week or later.

    For the built-in demo: a bot or sandbox started long after the demo was written
    still shows a term that starts this week, not classes that are all over.
    """
    days = [c.start_date for c in catalog.courses] + [s.day for s in catalog.sessions]
    if not days:
        return catalog
    earliest = min(days)
    weeks = ((today - timedelta(days=today.weekday())) - earliest).days // 7
    if weeks <= 0:
        return catalog
    step = timedelta(weeks=weeks)
    return replace(
        catalog,
        courses=tuple(replace(c, start_date=c.start_date + step) for c in catalog.courses),
        groups=tuple(
            replace(g, sessions=tuple(_moved(s, step) for s in g.sessions)) for g in catalog.groups
        ),
    )


# --------------------------------------------------------------------------- report


@dataclass(slots=True)
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass(slots=True)
class ImportReport:
    """What an import did, per kind of row."""

    regions: Counts = field(default_factory=Counts)
    districts: Counts = field(default_factory=Counts)
    centres: Counts = field(default_factory=Counts)
    courses: Counts = field(default_factory=Counts)
    groups: Counts = field(default_factory=Counts)
    sessions: Counts = field(default_factory=Counts)
    questions: Counts = field(default_factory=Counts)
    warnings: tuple[Problem, ...] = ()  # the file's texts missing in a language (imported)

    KINDS = ("regions", "districts", "centres", "courses", "groups", "sessions", "questions")

    def items(self) -> Iterator[tuple[str, Counts]]:
        for kind in self.KINDS:
            yield kind, getattr(self, kind)

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated for _, c in self.items())

    def summary(self) -> str:
        """One line for the command line, e.g. ``courses: 1 updated, 10 unchanged; …``."""
        parts = []
        for kind, c in self.items():
            bits = [
                f"{n} {label}"
                for n, label in (
                    (c.created, "created"),
                    (c.updated, "updated"),
                    (c.unchanged, "unchanged"),
                )
                if n
            ]
            if bits:
                parts.append(f"{kind}: {', '.join(bits)}")
        if not parts:
            return "Catalogue import: the file has nothing to import."
        head = "Catalogue imported" if self.changed else "Catalogue already up to date"
        return f"{head} — {'; '.join(parts)}."
