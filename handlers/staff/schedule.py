"""Class sessions of a group: add, move, cancel, or import a term's timetable from a file.

Times are typed in the local time of the group's centre and stored in UTC. Accepted
trainees of the group are told of every change (bot.notify.notify_schedule_change).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiogram import Bot, F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer
from babel.dates import format_date

from bot import reminders
from bot.clock import Clock
from bot.config import Settings
from bot.filters import HasText
from bot.formatting import fmt_datetime, fmt_time
from bot.i18n import BoundTranslator, Html, Translator, escape
from bot.notify import notify_schedule_change
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.services.catalog import WEEKDAYS, CatalogError, apply_catalog, parse_catalog
from bot.telegram_utils import show
from db.dto import GroupContextDTO, ScheduleChangeDTO, SessionDTO, UserDTO
from db.repo import Repos
from db.repo.schedule import ScheduleError
from handlers.staff.callbacks import CourseAction, CoursesCB, ScheduleAction, ScheduleCB
from handlers.staff.common import (
    HasDocument,
    StaffChats,
    StaffForm,
    StaffTraffic,
    alert,
    cancel_markup,
    home_button,
    stale,
)
from handlers.staff.decisions import announce_promotions

router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(), StaffChats())
router.callback_query.filter(StaffTraffic(), RoleFilter(), StaffChats())

PAGE_SIZE = 8
DEFAULT_LENGTH = timedelta(hours=2)  # of a new class when the group has none yet
# A date typed without a year that is this many days past is taken as next year's;
# a day less far back is simply in the past (and refused as such).
ROLLOVER_AFTER = timedelta(days=183)
# ... and one that was last year within this many days (typed in January for December)
# is last year's, also past, rather than eleven months ahead.
RECENT_PAST = timedelta(days=62)
IMPORT_MAX_BYTES = 512 * 1024
IMPORT_ERRORS_SHOWN = 15
ERROR_KEYS = {
    "bad_times": "schedule-error-times",
    "overlap": "schedule-error-overlap",
    "cancelled": "schedule-error-cancelled",
    "unchanged": "schedule-error-unchanged",
    "started": "schedule-error-started",
    "not_found": "error-stale-button",
}
# Refusals that typing again cannot mend: the form ends.
FINAL_ERRORS = frozenset({"cancelled", "started", "not_found"})
KIND_KEYS = {
    "regions": "schedule-kind-regions",
    "districts": "schedule-kind-districts",
    "centres": "schedule-kind-centres",
    "courses": "schedule-kind-courses",
    "groups": "schedule-kind-groups",
    "sessions": "schedule-kind-sessions",
}


# ---- typed times ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Slot:
    """A class as staff type it, in the centre's local time: ``10.12 18:30-20:30 201``."""

    day: date
    start: time
    end: time | None
    room: str | None


_SLOT_RE = re.compile(
    r"^\s*(?P<date>\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}(?:[./]\d{2,4})?)"
    r"\s+(?P<start>\d{1,2}:\d{2})"
    r"(?:\s*[-–—]\s*(?P<end>\d{1,2}:\d{2})|\s+(?P<end2>\d{1,2}:\d{2}))?"
    r"(?:\s+(?P<room>\S.*?))?\s*$"
)


def _time(raw: str) -> time:
    hours, minutes = raw.split(":")
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

    Dates: 2026-12-10, 10.12.2026, 10.12.26, 10.12 (or with /). A date without a year
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
        if "-" in raw_date:
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


def slot_times(slot: Slot, tz: str, length: timedelta) -> tuple[datetime, datetime]:
    """UTC start and end; without an end, the class lasts ``length``."""
    zone = ZoneInfo(tz)
    start = datetime.combine(slot.day, slot.start, tzinfo=zone)
    end = datetime.combine(slot.day, slot.end, tzinfo=zone) if slot.end else start + length
    return start.astimezone(UTC), end.astimezone(UTC)


# ---- views ------------------------------------------------------------------------------


def when_text(value: datetime, tz: str, locale: str, this_year: int | None = None) -> str:
    """The local date and time; with ``this_year``, the year too when it differs."""
    local = value.astimezone(ZoneInfo(tz))
    if this_year is None or local.year == this_year:
        return fmt_datetime(value, tz, locale)
    return f"{format_date(local, 'EEE, d MMMM y', locale=locale)}, {local:%H:%M}"


def session_line(t: BoundTranslator, s: SessionDTO, tz: str, this_year: int | None = None) -> str:
    key = "schedule-line-cancelled" if s.cancelled else "schedule-line"
    return t(
        key,
        id=s.id,
        when=when_text(s.starts_at, tz, t.locale, this_year),
        end=fmt_time(s.ends_at, tz, t.locale),
        room=s.room or "—",
    )


def sc_button(
    text: str, action: ScheduleAction, id_: int = 0, value: int = 0
) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text[:64], callback_data=ScheduleCB(action=action, id=id_, value=value).pack()
    )


async def sessions_view(
    t: BoundTranslator, repo: Repos, context: GroupContextDTO, page: int, now: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    tz = context.centre.timezone
    # From now on: a class under way (started, not ended) stays, an ended one does not.
    found = await repo.catalogue.sessions(
        [context.group.id], since=now - timedelta(days=1), include_cancelled=True
    )
    upcoming = [s for s in found if s.ends_at > now]
    pages = max(1, -(-len(upcoming) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = upcoming[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    lines = [
        t(
            "schedule-header",
            course=t.pick(context.course.title),
            group=t.pick(context.group.name),
            tz=tz,
            page=page + 1,
            pages=pages,
        )
    ]
    lines += [session_line(t, s, tz) for s in shown]
    if not upcoming:
        lines.append(t("schedule-empty"))
    buttons = [
        sc_button(
            ("✖️ " if s.cancelled else "") + fmt_datetime(s.starts_at, tz, t.locale),
            ScheduleAction.session,
            s.id,
        )
        for s in shown
    ]
    rows = [[b] for b in buttons]
    nav = []
    if page > 0:
        nav.append(sc_button("◀️", ScheduleAction.sessions, context.group.id, page - 1))
    if page < pages - 1:
        nav.append(sc_button("▶️", ScheduleAction.sessions, context.group.id, page + 1))
    if nav:
        rows.append(nav)
    rows.append(
        [
            sc_button(t.plain("schedule-btn-add"), ScheduleAction.add, context.group.id),
            sc_button(t.plain("schedule-btn-import"), ScheduleAction.imports, context.group.id),
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                text=t.plain("btn-back"),
                callback_data=CoursesCB(action=CourseAction.group, id=context.group.id).pack(),
            ),
            home_button(t),
        ]
    )
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


async def session_view(
    t: BoundTranslator, context: GroupContextDTO, s: SessionDTO, now: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    tz = context.centre.timezone
    text = t(
        "schedule-session-card",
        course=t.pick(context.course.title),
        group=t.pick(context.group.name),
        line=Html(session_line(t, s, tz)),
    )
    rows = []
    if not s.cancelled and s.starts_at > now:
        rows.append(
            [
                sc_button(t.plain("schedule-btn-move"), ScheduleAction.move, s.id),
                sc_button(t.plain("schedule-btn-cancel"), ScheduleAction.cancel, s.id),
            ]
        )
    rows.append(
        [sc_button(t.plain("btn-back"), ScheduleAction.sessions, s.group_id), home_button(t)]
    )
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def _session_context(
    repo: Repos, session_id: int
) -> tuple[SessionDTO, GroupContextDTO] | None:
    session = await repo.catalogue.session(session_id)
    if session is None:
        return None
    context = await repo.courses.group_context(session.group_id)
    return (session, context) if context is not None else None


def _told(t: BoundTranslator, count: int) -> str:
    return t.n("schedule-told", count)


def fixed_reason(session: SessionDTO, now: datetime) -> str | None:
    """Why a class can no longer be moved or cancelled (a translation key), or None."""
    if session.cancelled:
        return "schedule-error-cancelled"
    if session.starts_at <= now:
        return "schedule-error-started"
    return None


async def _changeable(
    repo: Repos,
    session_id: int,
    t: BoundTranslator,
    callback_answer: CallbackAnswer,
    now: datetime,
) -> tuple[SessionDTO, GroupContextDTO] | None:
    """The class a Move or Cancel button names, if it can still be changed; otherwise the
    callback is answered with why (stale button, cancelled or started class) and None."""
    found = await _session_context(repo, session_id)
    if found is None:
        stale(t, callback_answer)
        return None
    reason = fixed_reason(found[0], now)
    if reason is not None:
        alert(callback_answer, t.plain(reason))
        return None
    return found


# ---- browsing -----------------------------------------------------------------------------


@router.callback_query(ScheduleCB.filter(F.action == ScheduleAction.sessions))
async def on_sessions(
    callback: CallbackQuery,
    callback_data: ScheduleCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    clock: Clock,
) -> None:
    context = await repo.courses.group_context(callback_data.id)
    if context is None:
        stale(t, callback_answer)
        return
    await state.clear()
    await show(callback, *await sessions_view(t, repo, context, callback_data.value, clock.now()))


@router.callback_query(ScheduleCB.filter(F.action == ScheduleAction.session))
async def on_session(
    callback: CallbackQuery,
    callback_data: ScheduleCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    clock: Clock,
) -> None:
    found = await _session_context(repo, callback_data.id)
    if found is None:
        stale(t, callback_answer)
        return
    session, context = found
    if await state.get_state() == StaffForm.session_move.state:
        await state.clear()  # a move left unconfirmed
    await show(callback, *await session_view(t, context, session, clock.now()))


# ---- add and move ---------------------------------------------------------------------------


@router.callback_query(ScheduleCB.filter(F.action == ScheduleAction.add))
async def ask_add(
    callback: CallbackQuery,
    callback_data: ScheduleCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    context = await repo.courses.group_context(callback_data.id)
    if context is None:
        stale(t, callback_answer)
        return
    await state.set_state(StaffForm.session_add)
    await state.set_data({"group_id": context.group.id})
    length = await new_class_length(repo, context.group.id)
    await show(
        callback,
        t(
            "schedule-ask-add",
            group=t.pick(context.group.name),
            tz=context.centre.timezone,
            length=length_text(length),
        ),
        cancel_markup(t),
    )


async def new_class_length(repo: Repos, group_id: int) -> timedelta:
    """A new class without an end time lasts as long as the group's classes usually do."""
    return await repo.schedule.usual_length(group_id) or DEFAULT_LENGTH


def length_text(length: timedelta) -> str:
    minutes = int(length.total_seconds()) // 60
    return f"{minutes // 60}:{minutes % 60:02d}"


@router.callback_query(ScheduleCB.filter((F.action == ScheduleAction.move) & (F.value == 0)))
async def ask_move(
    callback: CallbackQuery,
    callback_data: ScheduleCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    clock: Clock,
) -> None:
    found = await _changeable(repo, callback_data.id, t, callback_answer, clock.now())
    if found is None:
        return
    session, context = found
    await state.set_state(StaffForm.session_move)
    await state.set_data({"session_id": session.id})
    await show(
        callback,
        t(
            "schedule-ask-move",
            line=Html(session_line(t, session, context.centre.timezone)),
            tz=context.centre.timezone,
        ),
        cancel_markup(t),
    )


@dataclass(frozen=True, slots=True)
class Times:
    """A typed class time, checked: in UTC and in the future."""

    starts_at: datetime
    ends_at: datetime
    room: str | None


async def _read_times(
    message: Message, t: BoundTranslator, tz: str, length: timedelta, now: datetime
) -> Times | None:
    """The class time a message gives, or None once the staff member was told what is
    wrong (the form stays open for another try)."""
    today = now.astimezone(ZoneInfo(tz)).date()
    try:
        slot = parse_slot(message.text or "", today)
    except SlotError:
        await message.answer(t("schedule-error-format"), reply_markup=cancel_markup(t))
        return None
    starts_at, ends_at = slot_times(slot, tz, length)
    if starts_at <= now:
        await message.answer(t("schedule-error-past"), reply_markup=cancel_markup(t))
        return None
    return Times(starts_at, ends_at, slot.room)


async def _refused(
    message: Message, state: FSMContext, t: BoundTranslator, exc: ScheduleError
) -> None:
    """Say why the repository refused; the form stays open if typing again can help."""
    text = t(ERROR_KEYS.get(exc.code, "error-stale-button"))
    if exc.code in FINAL_ERRORS:
        await state.clear()
        await message.answer(text)
    else:
        await message.answer(text, reply_markup=cancel_markup(t))


@router.message(StateFilter(StaffForm.session_add), HasText())
async def got_add(
    message: Message,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    bot: Bot,
    clock: Clock,
) -> None:
    group_id = (await state.get_data()).get("group_id")
    context = await repo.courses.group_context(group_id) if isinstance(group_id, int) else None
    if context is None:
        await state.clear()
        await message.answer(t("error-stale-button"))
        return
    tz = context.centre.timezone
    length = await new_class_length(repo, context.group.id)
    times = await _read_times(message, t, tz, length, clock.now())
    if times is None:
        return
    try:
        session = await repo.schedule.add(
            context.group.id, times.starts_at, times.ends_at, times.room, actor_id=user.id
        )
    except ScheduleError as exc:
        await _refused(message, state, t, exc)
        return
    await state.clear()
    await reminders.session_changed(session.id)
    told = await notify_schedule_change(
        bot, translator, repo, [ScheduleChangeDTO("added", context.group.id, None, session)]
    )
    text, markup = await sessions_view(t, repo, context, 0, clock.now())
    done = t("schedule-added", line=Html(session_line(t, session, tz)))
    await message.answer(f"{done}\n{_told(t, told)}\n\n{text}", reply_markup=markup)


@router.message(StateFilter(StaffForm.session_move), HasText())
async def got_move(
    message: Message, state: FSMContext, t: BoundTranslator, repo: Repos, clock: Clock
) -> None:
    session_id = (await state.get_data()).get("session_id")
    found = await _session_context(repo, session_id) if isinstance(session_id, int) else None
    if found is None:
        await state.clear()
        await message.answer(t("error-stale-button"))
        return
    session, context = found
    now = clock.now()
    reason = fixed_reason(session, now)
    if reason is not None:  # it started (or was cancelled) while the form was open
        await state.clear()
        await message.answer(t(reason))
        return
    tz = context.centre.timezone
    times = await _read_times(message, t, tz, session.ends_at - session.starts_at, now)
    if times is None:
        return
    room = times.room or session.room
    if (times.starts_at, times.ends_at, room) == (session.starts_at, session.ends_at, session.room):
        await message.answer(t("schedule-error-unchanged"), reply_markup=cancel_markup(t))
        return
    if await repo.schedule.clash(session.group_id, times.starts_at, times.ends_at, session.id):
        await message.answer(t("schedule-error-overlap"), reply_markup=cancel_markup(t))
        return
    # Nothing changes (and nobody is told) until the staff member confirms.
    await state.update_data(
        starts_at=times.starts_at.isoformat(),
        ends_at=times.ends_at.isoformat(),
        room=times.room,
    )
    this_year = now.astimezone(ZoneInfo(tz)).year
    planned = replace(session, starts_at=times.starts_at, ends_at=times.ends_at, room=room)
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                sc_button(t.plain("schedule-btn-move-yes"), ScheduleAction.move, session.id, 1),
                sc_button(t.plain("btn-cancel"), ScheduleAction.session, session.id),
            ]
        ]
    )
    text = t(
        "schedule-move-confirm",
        group=t.pick(context.group.name),
        old=Html(session_line(t, session, tz, this_year)),
        new=Html(session_line(t, planned, tz, this_year)),
    )
    await message.answer(text, reply_markup=markup)


def _planned(data: dict[str, object], session_id: int) -> Times | None:
    """The confirmed-to-be move kept in the form, if it is for this class."""
    starts, ends, room = data.get("starts_at"), data.get("ends_at"), data.get("room")
    if data.get("session_id") != session_id or not isinstance(starts, str):
        return None
    if not isinstance(ends, str) or not (room is None or isinstance(room, str)):
        return None
    try:
        return Times(datetime.fromisoformat(starts), datetime.fromisoformat(ends), room)
    except ValueError:
        return None


@router.callback_query(ScheduleCB.filter((F.action == ScheduleAction.move) & (F.value == 1)))
async def do_move(
    callback: CallbackQuery,
    callback_data: ScheduleCB,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    bot: Bot,
    callback_answer: CallbackAnswer,
    clock: Clock,
) -> None:
    planned = None
    if await state.get_state() == StaffForm.session_move.state:
        planned = _planned(await state.get_data(), callback_data.id)
    found = await _session_context(repo, callback_data.id)
    if planned is None or found is None:
        stale(t, callback_answer)
        return
    session, context = found
    now = clock.now()
    if planned.starts_at <= now:  # the confirmation waited past the new time
        alert(callback_answer, t.plain("schedule-error-past"))
        return
    try:
        before, after = await repo.schedule.move(
            session.id,
            planned.starts_at,
            planned.ends_at,
            planned.room,
            actor_id=user.id,
            not_before=now,
        )
    except ScheduleError as exc:
        if exc.code in FINAL_ERRORS:
            await state.clear()
        alert(callback_answer, t.plain(ERROR_KEYS.get(exc.code, "error-stale-button")))
        return
    await state.clear()
    await reminders.session_changed(after.id)
    told = await notify_schedule_change(
        bot, translator, repo, [ScheduleChangeDTO("moved", context.group.id, before, after)]
    )
    tz = context.centre.timezone
    this_year = now.astimezone(ZoneInfo(tz)).year
    text, markup = await sessions_view(t, repo, context, 0, now)
    done = t(
        "schedule-moved",
        old=Html(session_line(t, before, tz, this_year)),
        new=Html(session_line(t, after, tz, this_year)),
    )
    await show(callback, f"{done}\n{_told(t, told)}\n\n{text}", markup)


# ---- cancel -------------------------------------------------------------------------------


@router.callback_query(ScheduleCB.filter(F.action == ScheduleAction.cancel))
async def ask_cancel(
    callback: CallbackQuery,
    callback_data: ScheduleCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    clock: Clock,
) -> None:
    found = await _changeable(repo, callback_data.id, t, callback_answer, clock.now())
    if found is None:
        return
    session, context = found
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                sc_button(
                    t.plain("schedule-btn-cancel-yes"), ScheduleAction.cancel_yes, session.id
                ),
                sc_button(t.plain("btn-back"), ScheduleAction.session, session.id),
            ]
        ]
    )
    text = t(
        "schedule-cancel-confirm",
        group=t.pick(context.group.name),
        line=Html(session_line(t, session, context.centre.timezone)),
    )
    await show(callback, text, markup)


@router.callback_query(ScheduleCB.filter(F.action == ScheduleAction.cancel_yes))
async def do_cancel(
    callback: CallbackQuery,
    callback_data: ScheduleCB,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    bot: Bot,
    callback_answer: CallbackAnswer,
    clock: Clock,
) -> None:
    found = await _session_context(repo, callback_data.id)
    if found is None:
        stale(t, callback_answer)
        return
    session, context = found
    try:
        before, after = await repo.schedule.cancel(
            session.id, actor_id=user.id, not_before=clock.now()
        )
    except ScheduleError as exc:
        alert(callback_answer, t.plain(ERROR_KEYS.get(exc.code, "error-stale-button")))
        return
    await reminders.session_changed(after.id)
    told = await notify_schedule_change(
        bot, translator, repo, [ScheduleChangeDTO("cancelled", context.group.id, before, after)]
    )
    callback_answer.text = (
        t.plain("schedule-cancelled-done") + " " + t.n_plain("schedule-told", told)
    )
    await show(callback, *await sessions_view(t, repo, context, 0, clock.now()))


# ---- timetable import ---------------------------------------------------------------------


@router.callback_query(ScheduleCB.filter(F.action == ScheduleAction.imports))
async def ask_import(
    callback: CallbackQuery,
    callback_data: ScheduleCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    bot: Bot,
    callback_answer: CallbackAnswer,
    clock: Clock,
) -> None:
    # id 0: the courses list's import of any part of the catalogue (no one group's template)
    context = await repo.courses.group_context(callback_data.id) if callback_data.id else None
    if callback_data.id and context is None:
        stale(t, callback_answer)
        return
    await state.set_state(StaffForm.timetable)
    await state.set_data({"group_id": callback_data.id})
    await show(callback, t("schedule-import-ask", max=IMPORT_MAX_BYTES // 1024), cancel_markup(t))
    if context is None or callback.message is None:
        return
    sessions = await repo.catalogue.sessions([context.group.id], include_cancelled=True)
    text = timetable_template(t, context, sessions, clock.now())
    await bot.send_document(
        callback.message.chat.id,
        BufferedInputFile(text.encode(), filename=f"timetable-{context.group.code}.yaml"),
        caption=t("schedule-template-caption", group=t.pick(context.group.name)),
    )


TEMPLATE_EXISTING = 2  # upcoming classes the template lists, to move or call off
TEMPLATE_NEW = 2  # example new classes after the group's last one
TEMPLATE_START = time(18, 0)  # of the example classes of a group without any


def _comment(t: BoundTranslator, key: str, indent: str = "", **params: object) -> list[str]:
    text = " ".join(t.plain(key, **params).split())
    return [f"{indent}# {text}"]


def _yaml_session(
    s_start: datetime, s_end: datetime, room: str | None, code: str | None
) -> list[str]:
    lines = [f"      - code: {code}"] if code else []
    fields = [
        f"date: {s_start:%Y-%m-%d}",
        f'start: "{s_start:%H:%M}"',
        f'end: "{s_end:%H:%M}"',
    ]
    if room:
        fields.append(f"room: {json.dumps(room, ensure_ascii=False)}")
    for i, item in enumerate(fields):
        lead = "      - " if not code and i == 0 else "        "
        lines.append(lead + item)
    return lines


def timetable_template(
    t: BoundTranslator, context: GroupContextDTO, sessions: list[SessionDTO], now: datetime
) -> str:
    """A ready-to-edit timetable of one group in the catalogue format: its next classes
    (by code, to move or call off) and example new classes at its usual time, with short
    comments in the staff member's language (``#`` starts a comment in YAML)."""
    zone = ZoneInfo(context.centre.timezone)
    group = " ".join(t.pick(context.group.name).split())
    course = " ".join(t.pick(context.course.title).split())
    lines = _comment(t, "schedule-template-head", group=group, course=course)
    lines += _comment(t, "schedule-template-times", tz=context.centre.timezone)
    lines += ["groups:", f"  - code: {context.group.code}"]
    lines += _comment(t, "schedule-template-code", "    ")
    lines.append("    sessions:")
    upcoming = [s for s in sessions if s.code and not s.cancelled and s.starts_at > now]
    if upcoming[:TEMPLATE_EXISTING]:
        lines += _comment(t, "schedule-template-existing", "      ")
    for s in upcoming[:TEMPLATE_EXISTING]:
        lines += _yaml_session(
            s.starts_at.astimezone(zone), s.ends_at.astimezone(zone), s.room, s.code
        )
    if sessions:
        last = max(sessions, key=lambda s: s.starts_at)
        start, length, room = (
            last.starts_at.astimezone(zone),
            last.ends_at - last.starts_at,
            last.room,
        )
    else:
        today = now.astimezone(zone).date()
        monday = today + timedelta(days=7 - today.weekday())
        start = datetime.combine(monday, TEMPLATE_START, tzinfo=zone) - timedelta(weeks=1)
        length, room = DEFAULT_LENGTH, None
    week = timedelta(weeks=1)
    start += week
    if start <= now:  # the group's last class is long past: the same weekday, from now on
        start += week * -(-(now - start) // week)
    lines += _comment(t, "schedule-template-new", "      ")
    for i in range(TEMPLATE_NEW):
        day = (start + i * week).date()
        local = datetime.combine(day, start.time(), tzinfo=zone)
        lines += _yaml_session(local, local + length, room, None)
    lines += _comment(t, "schedule-template-weekly", "    ")
    first = (start + TEMPLATE_NEW * week).date()  # after the examples: no clash
    lines += [
        "    # weekly:",
        f"    #   days: [{WEEKDAYS[first.weekday()]}]",
        f'    #   start: "{start:%H:%M}"',
        f'    #   end: "{start + length:%H:%M}"',
        f"    #   from: {first:%Y-%m-%d}",
        f"    #   until: {first + timedelta(weeks=12):%Y-%m-%d}",
    ]
    if room:
        lines.append(f"    #   room: {json.dumps(room, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def diff_sessions(
    before: dict[int, SessionDTO], after: dict[int, SessionDTO], now: datetime
) -> list[ScheduleChangeDTO]:
    """Moves and cancellations of future classes between two snapshots (new classes of a
    term are not announced one by one: trainees see them under My applications)."""
    changes = []
    for sid, old in before.items():
        new = after.get(sid)
        if new is None or old.cancelled or max(old.starts_at, new.starts_at) < now:
            continue
        if new.cancelled:
            changes.append(ScheduleChangeDTO("cancelled", new.group_id, old, new))
        elif (old.starts_at, old.ends_at, old.room) != (new.starts_at, new.ends_at, new.room):
            changes.append(ScheduleChangeDTO("moved", new.group_id, old, new))
    return changes


@router.message(StateFilter(StaffForm.timetable), HasDocument())
async def got_timetable(
    message: Message,
    state: FSMContext,
    user: UserDTO,
    role: str,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    clock: Clock,
) -> None:
    document = message.document
    assert document is not None
    name = document.file_name or "timetable.yaml"
    if not name.lower().endswith((".yaml", ".yml")):
        await message.answer(t("schedule-import-not-yaml"), reply_markup=cancel_markup(t))
        return
    if (document.file_size or 0) > IMPORT_MAX_BYTES:
        await message.answer(
            t("schedule-import-too-big", max=IMPORT_MAX_BYTES // 1024),
            reply_markup=cancel_markup(t),
        )
        return
    buffer = await bot.download(document, destination=io.BytesIO())
    raw = buffer.getvalue() if isinstance(buffer, io.BytesIO) else b""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        await message.answer(t("schedule-import-not-utf8"), reply_markup=cancel_markup(t))
        return
    try:
        data = parse_catalog(text, name)
    except CatalogError as exc:
        shown = "\n".join(line[:200] for line in exc.errors[:IMPORT_ERRORS_SHOWN])
        more = len(exc.errors) - IMPORT_ERRORS_SHOWN
        body = t("schedule-import-errors", count=len(exc.errors)) + f"\n<pre>{escape(shown)}</pre>"
        if more > 0:
            body += "\n" + t.n("schedule-import-more", more)
        await message.answer(body, reply_markup=cancel_markup(t))
        return
    if (data.regions or data.centres or data.courses) and role != "admin":
        await message.answer(t("schedule-import-admin-only"), reply_markup=cancel_markup(t))
        return
    codes = [g.code for g in data.groups]
    before = await repo.schedule.snapshot(
        list((await repo.schedule.group_ids_by_code(codes)).values())
    )
    try:
        report = await apply_catalog(repo.db, data)
    except CatalogError as exc:
        shown = "\n".join(line[:200] for line in exc.errors[:IMPORT_ERRORS_SHOWN])
        body = t("schedule-import-errors", count=len(exc.errors)) + f"\n<pre>{escape(shown)}</pre>"
        await message.answer(body, reply_markup=cancel_markup(t))
        return
    await state.clear()
    await reminders.catalog_changed()
    group_ids = list((await repo.schedule.group_ids_by_code(codes)).values())
    after = await repo.schedule.snapshot(group_ids)
    changes = diff_sessions(before, after, clock.now())
    told = await notify_schedule_change(bot, translator, repo, changes) if changes else 0
    promoted = await repo.courses.fill_free_seats(group_ids, actor_id=user.id)
    await announce_promotions(bot, settings, translator, repo, promoted)
    counts = {
        kind: {"created": c.created, "updated": c.updated}
        for kind, c in report.items()
        if c.created or c.updated
    }
    await repo.audit.add(user.id, "catalog.import", "catalog", name[:64], None, counts)
    lines = [t("schedule-import-done", file=name)]
    for kind, c in report.items():
        if c.total:
            lines.append(
                t(
                    "schedule-import-kind",
                    kind=t.plain(KIND_KEYS[kind]),
                    created=c.created,
                    updated=c.updated,
                    unchanged=c.unchanged,
                )
            )
    if changes:
        lines.append(t.n("schedule-import-changes", len(changes)) + " " + _told(t, told))
    if promoted:
        lines.append(t.n("staff-promoted", len(promoted)))
    await message.answer(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=[[home_button(t)]])
    )


@router.message(StateFilter(StaffForm.timetable))
async def expected_document(message: Message, t: BoundTranslator) -> None:
    await message.answer(t("schedule-import-expect-file"), reply_markup=cancel_markup(t))


@router.message(StateFilter(StaffForm.session_add, StaffForm.session_move))
async def expected_slot(message: Message, t: BoundTranslator) -> None:
    await message.answer(t("schedule-error-format"), reply_markup=cancel_markup(t))
