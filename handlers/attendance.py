"""Attendance: trainees answer a class reminder ("I'll come" / "I can't come"); staff see
per class who answered what and mark who actually came.

Two router recipes:

* ``answers`` (everyone): the buttons under a reminder. The class is loaded again and the
  presser must be a trainee of its group (an accepted application): callback data names
  a class, it proves nothing. Pressing again changes the answer; once the class has
  started the buttons only say so.
* ``router`` (staff, ``RoleFilter`` on the router): the staff menu's attendance section
  and ``/attendance``: centre → group → class (upcoming, or recent ones) → its roster with
  answers; tapping a trainee marks them came → did not come → not marked (audited).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.clock import Clock
from bot.config import Settings
from bot.formatting import fmt_datetime, fmt_time, zone_label
from bot.i18n import BoundTranslator, escape
from bot.reminders.service import ReminderService
from bot.reminders.texts import ANSWER_VALUES, ReminderCB, answer_markup
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.staff_menu import StaffMenuCB, StaffSection
from bot.telegram_utils import show
from db.dto import AttendanceCounts, AttendanceRowDTO, StaffScope, UserDTO
from db.repo import Repos
from handlers.staff.common import StaffChats, alert, clip, home_button, stale
from handlers.staff.outcomes.base import absence_flag
from handlers.staff.scope import centres_in_scope, context_in_scope

CLASSES_PAGE = 8
ROSTER_PAGE = 10
WINDOW = timedelta(days=28)  # classes shown: four weeks back and ahead
RUNNING_SINCE = timedelta(days=1)  # a class under way started less than this long ago
# The trainee's answer and the attendance marked: two families of symbols that cannot be
# mistaken for each other on a small screen (hands for answers, coloured dots for marks).
ANSWER_ICONS = {"yes": "👍", "no": "👎", None: "❔"}
MARK_ICONS = {True: "🟢", False: "🔴", None: "⚪"}


# ---- trainees: the answer under a reminder ------------------------------------------------

answers = FeatureRouter(f"{__name__}.answers")


@answers.callback_query(ReminderCB.filter())
async def on_answer(
    callback: CallbackQuery,
    callback_data: ReminderCB,
    user: UserDTO | None,
    t: BoundTranslator,
    repo: Repos,
    clock: Clock,
    callback_answer: CallbackAnswer,
    reminders: ReminderService | None = None,
) -> None:
    info = await repo.reminders.session_info(callback_data.session_id)
    if user is None or info is None:
        alert(callback_answer, t.plain("error-stale-button"))
        return
    if info.session.cancelled:
        alert(callback_answer, t.plain("reminder-class-cancelled"))
        return
    now = clock.now()
    if info.session.starts_at <= now:
        alert(callback_answer, t.plain("reminder-too-late"))
        return
    if not await repo.reminders.is_trainee(user.id, info.session.group_id):
        alert(callback_answer, t.plain("reminder-not-trainee"))
        return
    answer = ANSWER_VALUES[callback_data.answer]
    await repo.attendance.answer(info.session.id, user.id, answer, now)
    if reminders is not None:
        reminders.forget(info.session.id)
    callback_answer.text = t.plain(
        "reminder-answer-yes" if answer == "yes" else "reminder-answer-no"
    )
    message = callback.message
    markup = answer_markup(t, info.session.id, answer)
    if isinstance(message, Message) and message.reply_markup != markup:
        # The message may be too old to edit, or already show this answer.
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_reply_markup(reply_markup=markup)


# ---- staff: who answered, who came ----------------------------------------------------------


class AttAction(StrEnum):
    centres = "cs"
    centre = "c"
    group = "g"
    session = "s"
    mark = "m"
    recent = "r"  # a group's classes that have ended
    all_present = "ap"  # mark every trainee not marked yet as present


class Mark(StrEnum):
    present = "p"
    absent = "a"
    clear = "n"


MARK_VALUES: dict[Mark, bool | None] = {Mark.present: True, Mark.absent: False, Mark.clear: None}
NEXT_MARK: dict[bool | None, Mark] = {None: Mark.present, True: Mark.absent, False: Mark.clear}


class AttendanceCB(CallbackData, prefix="sat"):
    """``id``: centre, group or class; ``value``: a trainee (mark); ``page`` of a list
    (-1: the first page)."""

    action: AttAction
    id: int = 0
    value: int = 0
    page: int = 0
    mark: Mark = Mark.clear


SECTION_DATA = StaffMenuCB(section=StaffSection.attendance).pack()
TODAY_DATA = StaffMenuCB(section=StaffSection.today).pack()


class AttendanceTraffic(Filter):
    """Only this section's callbacks and command reach the role check (citizen traffic
    passing through costs nothing)."""

    async def __call__(self, event: TelegramObject, **_: Any) -> bool:
        if isinstance(event, CallbackQuery):
            data = event.data or ""
            return data.startswith("sat:") or data in (SECTION_DATA, TODAY_DATA)
        if isinstance(event, Message):
            return (event.text or "").startswith("/attendance")
        return False


router = FeatureRouter(__name__)
router.message.filter(AttendanceTraffic(), RoleFilter(), StaffChats())
router.callback_query.filter(AttendanceTraffic(), RoleFilter(), StaffChats())


def att_button(text: str, action: AttAction, id_: int = 0, **fields: Any) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=clip(text, 64), callback_data=AttendanceCB(action=action, id=id_, **fields).pack()
    )


async def centres_view(
    t: BoundTranslator, repo: Repos, scope: StaffScope
) -> tuple[str, InlineKeyboardMarkup]:
    rows = [
        [att_button(f"{t.pick(c.city)} · {t.pick(c.name)}", AttAction.centre, c.id)]
        for c in await centres_in_scope(repo, scope)
    ]
    rows.append([home_button(t)])
    return t("attendance-choose-centre"), InlineKeyboardMarkup(inline_keyboard=rows)


async def groups_view(
    t: BoundTranslator, repo: Repos, centre_id: int, scope: StaffScope
) -> tuple[str, InlineKeyboardMarkup] | None:
    centre = await repo.catalogue.centre(centre_id) if scope.allows(centre_id) else None
    if centre is None:
        return None
    rows = []
    for course in await repo.catalogue.courses(centre.id):
        for group in await repo.catalogue.groups(course.id):
            label = f"{t.pick(course.title)} · {t.pick(group.name)}"
            rows.append([att_button(label, AttAction.group, group.id, page=-1)])
    text = t("attendance-choose-group", centre=t.pick(centre.name))
    if not rows:
        text += "\n\n" + t("attendance-no-groups")
    rows.append([att_button(t.plain("btn-back"), AttAction.centres), home_button(t)])
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def _counts_label(c: AttendanceCounts) -> str:
    return (
        f"{ANSWER_ICONS['yes']}{c.yes} {ANSWER_ICONS['no']}{c.no} {ANSWER_ICONS[None]}{c.unknown}"
    )


async def classes_view(
    t: BoundTranslator,
    repo: Repos,
    group_id: int,
    page: int,
    now: datetime,
    scope: StaffScope,
    *,
    recent: bool = False,
) -> tuple[str, InlineKeyboardMarkup] | None:
    """A group's classes: upcoming ones from now on (a class under way first, marked ▶️),
    or, with ``recent``, the ones that have ended, the latest first. A class is in exactly
    one of the two lists."""
    context = await context_in_scope(repo, scope, group_id)
    if context is None:
        return None
    tz = context.centre.timezone
    if recent:
        found = await repo.catalogue.sessions([group_id], since=now - WINDOW, until=now)
        sessions = [s for s in reversed(found) if s.ends_at <= now]
    else:
        found = await repo.catalogue.sessions(
            [group_id], since=now - RUNNING_SINCE, until=now + WINDOW
        )
        sessions = [s for s in found if s.ends_at > now]
    action = AttAction.recent if recent else AttAction.group
    pages = max(1, -(-len(sessions) // CLASSES_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = sessions[page * CLASSES_PAGE : (page + 1) * CLASSES_PAGE]
    counts = await repo.attendance.counts([s.id for s in shown])
    text = t(
        "attendance-choose-class",
        course=t.pick(context.course.title),
        group=t.pick(context.group.name),
        tz=zone_label(t, context.centre),
    )
    text += "\n" + t("attendance-recent-title" if recent else "attendance-upcoming-title")
    if not sessions:
        text += "\n\n" + t("attendance-no-recent" if recent else "attendance-no-upcoming")
    rows = [
        [
            att_button(
                f"{'▶️ ' if s.starts_at <= now < s.ends_at else ''}"
                f"{fmt_datetime(s.starts_at, tz, t.locale)} · {_counts_label(counts[s.id])}",
                AttAction.session,
                s.id,
            )
        ]
        for s in shown
    ]
    nav = []
    if page > 0:
        nav.append(att_button("◀️", action, group_id, page=page - 1))
    if page < pages - 1:
        nav.append(att_button("▶️", action, group_id, page=page + 1))
    if nav:
        rows.append(nav)
    other = AttAction.group if recent else AttAction.recent
    other_label = "attendance-btn-upcoming" if recent else "attendance-btn-recent"
    rows.append([att_button(t.plain(other_label), other, group_id)])
    rows.append(
        [att_button(t.plain("btn-back"), AttAction.centre, context.centre.id), home_button(t)]
    )
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def _person(row: AttendanceRowDTO) -> str:
    name = clip(row.full_name, 48)
    return f"{name} @{row.username}" if row.username else name


async def roster_view(
    t: BoundTranslator, repo: Repos, session_id: int, page: int, scope: StaffScope
) -> tuple[str, InlineKeyboardMarkup] | None:
    info = await repo.reminders.session_info(session_id)
    if info is None or not scope.allows(info.context.centre.id):
        return None
    session, context = info.session, info.context
    tz = context.centre.timezone
    roster = await repo.attendance.roster(session.id)
    counts = (await repo.attendance.counts([session.id]))[session.id]
    pages = max(1, -(-len(roster) // ROSTER_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = roster[page * ROSTER_PAGE : (page + 1) * ROSTER_PAGE]
    lines = [
        t(
            "attendance-roster-header",
            course=t.pick(context.course.title),
            group=t.pick(context.group.name),
            when=fmt_datetime(session.starts_at, tz, t.locale),
            end=fmt_time(session.ends_at, tz, t.locale),
            room=session.room or "—",
            yes=counts.yes,
            no=counts.no,
            unknown=counts.unknown,
            present=counts.present,
            absent=counts.absent,
        ),
        "",
    ]
    if session.cancelled:  # a class cancelled since the list was shown: nothing to mark
        lines.insert(1, t("attendance-roster-cancelled"))
    if not roster:
        lines.append(t("attendance-roster-empty"))
    else:
        lines.append(t("attendance-roster-legend"))
    for row in shown:  # attendance first, the answer after the name
        lines.append(
            f"{MARK_ICONS[row.present]} {escape(_person(row))} · {ANSWER_ICONS[row.answer]}"
        )
    if roster and not session.cancelled:
        lines += ["", t("attendance-roster-hint")]
    rows = []
    if any(row.present is None for row in roster) and not session.cancelled:
        # Most come: one tap marks everyone, then the exceptions are tapped.
        rows.append(
            [
                att_button(
                    t.plain("attendance-btn-all-present"),
                    AttAction.all_present,
                    session.id,
                    page=page,
                )
            ]
        )
    rows += [
        [
            att_button(
                f"{MARK_ICONS[row.present]} {clip(row.full_name, 48)}",
                AttAction.mark,
                session.id,
                value=row.user_id,
                page=page,
                mark=NEXT_MARK[row.present],
            )
        ]
        for row in shown
        if not session.cancelled
    ]
    nav = []
    if page > 0:
        nav.append(att_button("◀️", AttAction.session, session.id, page=page - 1))
    if page < pages - 1:
        nav.append(att_button("▶️", AttAction.session, session.id, page=page + 1))
    if nav:
        rows.append(nav)
    rows.append(
        [
            att_button(t.plain("btn-back"), AttAction.group, session.group_id, page=-1),
            home_button(t),
        ]
    )
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


@router.message(Command("attendance"))
async def attendance_command(
    message: Message, t: BoundTranslator, repo: Repos, scope: StaffScope
) -> None:
    text, markup = await centres_view(t, repo, scope)
    await message.answer(text, reply_markup=markup)


@router.callback_query(StaffMenuCB.filter(F.section == StaffSection.attendance))
async def open_section(
    callback: CallbackQuery, t: BoundTranslator, repo: Repos, scope: StaffScope
) -> None:
    await show(callback, *await centres_view(t, repo, scope))


@router.callback_query(AttendanceCB.filter(F.action == AttAction.centres))
async def on_centres(
    callback: CallbackQuery, t: BoundTranslator, repo: Repos, scope: StaffScope
) -> None:
    await show(callback, *await centres_view(t, repo, scope))


@router.callback_query(AttendanceCB.filter(F.action == AttAction.centre))
async def on_centre(
    callback: CallbackQuery,
    callback_data: AttendanceCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    view = await groups_view(t, repo, callback_data.id, scope)
    if view is None:
        stale(t, callback_answer)
        return
    await show(callback, *view)


@router.callback_query(AttendanceCB.filter(F.action.in_({AttAction.group, AttAction.recent})))
async def on_group(
    callback: CallbackQuery,
    callback_data: AttendanceCB,
    t: BoundTranslator,
    repo: Repos,
    clock: Clock,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    view = await classes_view(
        t,
        repo,
        callback_data.id,
        callback_data.page,
        clock.now(),
        scope,
        recent=callback_data.action == AttAction.recent,
    )
    if view is None:
        stale(t, callback_answer)
        return
    await show(callback, *view)


@router.callback_query(AttendanceCB.filter(F.action == AttAction.session))
async def on_session(
    callback: CallbackQuery,
    callback_data: AttendanceCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    view = await roster_view(t, repo, callback_data.id, callback_data.page, scope)
    if view is None:
        stale(t, callback_answer)
        return
    await show(callback, *view)


async def today_view(
    t: BoundTranslator, repo: Repos, now: datetime, scope: StaffScope
) -> tuple[str, InlineKeyboardMarkup]:
    """Today's classes in every centre the staff member may see (each centre's own today),
    earliest first."""
    found: list[tuple[datetime, str, int]] = []
    for centre in await centres_in_scope(repo, scope):
        zone = ZoneInfo(centre.timezone)
        start = datetime.combine(now.astimezone(zone).date(), datetime.min.time(), tzinfo=zone)
        names: dict[int, str] = {}
        for course in await repo.catalogue.courses(centre.id):
            for group in await repo.catalogue.groups(course.id):
                names[group.id] = f"{t.pick(course.title)} · {t.pick(group.name)}"
        if not names:
            continue
        sessions = await repo.catalogue.sessions(
            list(names),
            since=start.astimezone(UTC),
            until=(start + timedelta(days=1)).astimezone(UTC),
        )
        for s in sessions:
            when = fmt_time(s.starts_at, centre.timezone, t.locale)
            label = f"{'▶️ ' if s.starts_at <= now < s.ends_at else ''}{when} · {names[s.group_id]}"
            found.append((s.starts_at, f"{label} · {t.pick(centre.city)}", s.id))
    found.sort()
    rows = [[att_button(label, AttAction.session, sid)] for _, label, sid in found]
    text = t("attendance-today-title") + ("" if found else "\n" + t("attendance-today-none"))
    rows.append([home_button(t)])
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(StaffMenuCB.filter(F.section == StaffSection.today))
async def open_today(
    callback: CallbackQuery, t: BoundTranslator, repo: Repos, clock: Clock, scope: StaffScope
) -> None:
    await show(callback, *await today_view(t, repo, clock.now(), scope))


@router.callback_query(AttendanceCB.filter(F.action == AttAction.all_present))
async def on_all_present(
    callback: CallbackQuery,
    callback_data: AttendanceCB,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    clock: Clock,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    info = await repo.reminders.session_info(callback_data.id)
    if info is None or not scope.allows(info.context.centre.id):
        stale(t, callback_answer)
        return
    if info.session.cancelled or info.session.starts_at > clock.now():
        key = "attendance-mark-cancelled" if info.session.cancelled else "attendance-mark-too-early"
        alert(callback_answer, t.plain(key))
        return
    for row in await repo.attendance.roster(info.session.id):
        if row.present is None:  # a mark already given (someone absent) stays
            await repo.attendance.mark(info.session.id, row.user_id, True, actor_id=user.id)
    callback_answer.text = t.plain("attendance-saved")
    view = await roster_view(t, repo, info.session.id, callback_data.page, scope)
    if view is not None:
        await show(callback, *view)


@router.callback_query(AttendanceCB.filter(F.action == AttAction.mark))
async def on_mark(
    callback: CallbackQuery,
    callback_data: AttendanceCB,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    info = await repo.reminders.session_info(callback_data.id)
    if (
        info is None
        or not scope.allows(info.context.centre.id)
        or not await repo.reminders.is_trainee(callback_data.value, info.session.group_id)
    ):
        stale(t, callback_answer)
        return
    if info.session.cancelled or info.session.starts_at > clock.now():
        key = "attendance-mark-cancelled" if info.session.cancelled else "attendance-mark-too-early"
        alert(callback_answer, t.plain(key))
        if info.session.cancelled:  # the roster again, without its buttons
            view = await roster_view(t, repo, info.session.id, callback_data.page, scope)
            if view is not None:
                await show(callback, *view)
        return
    changed = await repo.attendance.mark(
        info.session.id, callback_data.value, MARK_VALUES[callback_data.mark], actor_id=user.id
    )
    callback_answer.text = t.plain("attendance-saved")
    view = await roster_view(t, repo, info.session.id, callback_data.page, scope)
    if view is not None:
        await show(callback, *view)
    if (
        changed
        and MARK_VALUES[callback_data.mark] is False
        and isinstance(callback.message, Message)
    ):
        # Absences in a row reached the flag: tell the staff member marking, with one tap.
        flag = await absence_flag(
            t, repo, settings, info.session.group_id, callback_data.value, clock.now()
        )
        if flag is not None:
            await callback.message.answer(flag[0], reply_markup=flag[1])
