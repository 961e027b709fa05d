"""Dates, times, schedules and catalogue cards in the reader's language and time zone."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

from bot.contacts import contacts_lines
from bot.i18n import BoundTranslator, Html, escape
from db.dto import ApplicationDTO, CentreDTO, CourseDTO, GroupDTO, SessionDTO

LOCALE_NAME_KEYS = {"kk": "lang-kk", "ky": "lang-ky", "ru": "lang-ru", "en": "lang-en"}
STATUS_ICONS = {
    "pending": "⏳",
    "accepted": "✅",
    "waitlisted": "🕒",
    "rejected": "❌",
    "cancelled": "➖",
}


def fmt_date(value: date, locale: str) -> str:
    return format_date(value, "long", locale=locale)


def fmt_short_date(value: date, locale: str) -> str:
    return format_date(value, "d MMMM", locale=locale)


# Reasons staff pick with a button instead of typing; stored as "preset:<code>" and shown
# to each reader (the citizen above all) in their own language.
REJECT_PRESETS = ("unreachable", "region", "requirements", "other-course", "closed")
PRESET_PREFIX = "preset:"


def reason_text(t: BoundTranslator, reason: str | None) -> str:
    """A rejection reason as this reader reads it: a preset in their language, else as typed."""
    if not reason:
        return "—"
    code = reason.removeprefix(PRESET_PREFIX)
    if reason.startswith(PRESET_PREFIX) and code in REJECT_PRESETS:
        return t.plain(f"reject-reason-{code}")
    return reason


def zone_label(t: BoundTranslator, centre: CentreDTO | None) -> str:
    """Where a local time is, as staff read it: the centre's city, not "Asia/Bishkek"."""
    return t.pick(centre.city) if centre else "UTC"


def local_date(value: datetime, tz: str | None) -> date:
    """The calendar date of a UTC moment where the centre is (UTC without a centre)."""
    return value.astimezone(ZoneInfo(tz or "UTC")).date()


def fmt_time(value: datetime, tz: str, locale: str) -> str:
    return format_time(value.astimezone(ZoneInfo(tz)), "HH:mm", locale=locale)


def fmt_datetime(value: datetime, tz: str, locale: str) -> str:
    local = value.astimezone(ZoneInfo(tz))
    return f"{format_date(local, 'EEE, d MMMM', locale=locale)}, {format_time(local, 'HH:mm')}"


def regular_slots(sessions: Iterable[SessionDTO], tz: str) -> list[tuple[int, str, str]]:
    """The group's regular weekly slots (weekday, start, end) in local time: the slots
    that come back at least twice. A one-off class (a make-up on a Sunday) is not part of
    the pattern; with no slot repeating yet (a first week), every slot counts."""
    return _regular_slots(tuple((s.starts_at, s.ends_at) for s in sessions), tz)


def _regular_slots(
    times: tuple[tuple[datetime, datetime], ...], tz: str
) -> list[tuple[int, str, str]]:
    zone = ZoneInfo(tz)
    counts: dict[tuple[int, str, str], int] = {}
    for starts_at, ends_at in times:
        start = starts_at.astimezone(zone)
        end = ends_at.astimezone(zone)
        key = (start.weekday(), start.strftime("%H:%M"), end.strftime("%H:%M"))
        counts[key] = counts.get(key, 0) + 1
    regular = [key for key, n in counts.items() if n >= 2] or list(counts)
    return sorted(regular)


def weekly_pattern(sessions: Iterable[SessionDTO], tz: str, locale: str) -> str:
    """Summarise the regular slots as 'Mon, Wed, Fri 18:30–20:30'. Every course card and
    sign-up's group question shows it, and a timetable changes a few times a term, so the
    text is kept per timetable (the classes' times), zone and language."""
    return _weekly_pattern(tuple((s.starts_at, s.ends_at) for s in sessions), tz, locale)


@lru_cache(maxsize=4096)
def _weekly_pattern(times: tuple[tuple[datetime, datetime], ...], tz: str, locale: str) -> str:
    slots: dict[tuple[str, str], set[int]] = {}
    for weekday, start_s, end_s in _regular_slots(times, tz):
        slots.setdefault((start_s, end_s), set()).add(weekday)
    # Any Monday names Monday: 2024-01-01 was one.
    sample = {d: date(2024, 1, 1 + d) for d in range(7)}
    parts = []
    for (start_s, end_s), days in sorted(slots.items(), key=lambda kv: min(kv[1])):
        names = ", ".join(format_date(sample[d], "EEE", locale=locale) for d in sorted(days))
        parts.append(f"{names} {start_s}–{end_s}")
    return "; ".join(parts)


def languages_text(t: BoundTranslator, languages: Sequence[str]) -> str:
    return ", ".join(t.plain(LOCALE_NAME_KEYS[x]) for x in languages if x in LOCALE_NAME_KEYS)


def seats_text(t: BoundTranslator, seats_left: int, capacity: int) -> str:
    if seats_left <= 0:
        return t("course-no-seats")
    return t.n("course-seats-left", seats_left, capacity=capacity)


def course_card(
    t: BoundTranslator,
    course: CourseDTO,
    centre: CentreDTO,
    groups: Sequence[tuple[GroupDTO, Sequence[SessionDTO]]],
    application: ApplicationDTO | None = None,
) -> str:
    lines = [
        t(
            "course-card-title",
            title=t.pick(course.title),
            centre=t.pick(centre.name),
            city=t.pick(centre.city),
        ),
        "",
        escape(t.pick(course.description)),
        "",
    ]
    if course.start_date is not None:
        lines.append(t("course-start", date=fmt_date(course.start_date, t.locale)))
    duration = t.n_plain("duration-weeks", course.duration_weeks)
    if course.modules:
        duration = f"{duration}, {t.n_plain('duration-modules', course.modules)}"
    lines.append(t("course-duration", duration=duration))
    for group, sessions in groups:
        pattern = weekly_pattern(sessions, centre.timezone, t.locale)
        lines.append(
            t(
                "course-group-line",
                group=t.pick(group.name),
                schedule=pattern or t.plain("course-schedule-tba"),
                seats=Html(seats_text(t, group.seats_left, group.capacity)),
            )
        )
    lines.append(t("course-languages", languages=languages_text(t, course.languages)))
    if course.certificate:
        lines.append(t("course-certificate", certificate=t.pick(course.certificate)))
    lines.append(t("course-address", address=t.pick(centre.address)))
    lines += contacts_lines(t, centre, full=False)
    if course.free_of_charge:
        lines.append(t("course-free"))
    lines.append("")
    if not course.enrolment_open:
        lines.append(t("course-enrolment-closed"))
    elif course.seats_left <= 0:
        lines.append(t("course-full-waitlist"))
    else:
        lines.append(Html(seats_text(t, course.seats_left, course.capacity)))
    if application is not None:
        lines.append(t("course-your-application", status=status_label(t, application.status)))
    return "\n".join(lines)


def status_label(t: BoundTranslator, status: str) -> str:
    return f"{STATUS_ICONS.get(status, '')} {t.plain('status-' + status)}".strip()
