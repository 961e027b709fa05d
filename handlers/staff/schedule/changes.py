"""Changing one class: add, move (typed time → confirm), cancel; trainees are told."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiogram import Bot, F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer
from babel.dates import format_date

from bot import reminders
from bot.clock import Clock
from bot.filters import HasText
from bot.formatting import regular_slots, zone_label
from bot.i18n import BoundTranslator, Html, Translator
from bot.notify import notify_schedule_change
from bot.routing import FeatureRouter
from bot.staff_callbacks import ScheduleAction, ScheduleCB
from bot.telegram_utils import show
from db.dto import GroupContextDTO, ScheduleChangeDTO, StaffScope, UserDTO
from db.repo import Repos
from db.repo.schedule import ScheduleError
from handlers.staff.common import (
    StaffForm,
    alert,
    cancel_markup,
    stale,
)
from handlers.staff.schedule.parsing import (
    DEFAULT_LENGTH,
    Slot,
    SlotError,
    parse_slot,
    parse_slot_on,
    slot_times,
)
from handlers.staff.schedule.views import (
    changeable,
    fixed_reason,
    sc_button,
    session_context,
    session_line,
    sessions_view,
    told_text,
)
from handlers.staff.scope import context_in_scope

router = FeatureRouter(__name__)

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

# ---- add and move ---------------------------------------------------------------------------


@router.callback_query(ScheduleCB.filter(F.action == ScheduleAction.add))
async def ask_add(
    callback: CallbackQuery,
    callback_data: ScheduleCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
    clock: Clock,
) -> None:
    context = await context_in_scope(repo, scope, callback_data.id)
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
            tz=zone_label(t, context.centre),
            length=length_text(length),
        ),
        await day_buttons(t, repo, context.group.id, context.centre.timezone, clock.now()),
    )


NO_TIME = 9999  # in a day button's value: the day only, the time is asked next
REGULAR_DAYS = 3  # buttons for the group's next regular class days
DAY_RANGE = 120  # days ahead a day button may be for


def day_value(day: date, hhmm: int = NO_TIME) -> int:
    return day.toordinal() * 10000 + hhmm


async def day_buttons(
    t: BoundTranslator, repo: Repos, group_id: int, tz: str, now: datetime
) -> InlineKeyboardMarkup:
    """Today, tomorrow and the group's next regular class days (with their usual time),
    so a coordinator taps instead of typing a date."""
    today = now.astimezone(ZoneInfo(tz)).date()
    rows = [
        [
            sc_button(
                t.plain("schedule-btn-today"), ScheduleAction.add_day, group_id, day_value(today)
            ),
            sc_button(
                t.plain("schedule-btn-tomorrow"),
                ScheduleAction.add_day,
                group_id,
                day_value(today + timedelta(days=1)),
            ),
        ]
    ]
    sessions = await repo.catalogue.sessions([group_id], since=now - timedelta(weeks=8))
    slots = regular_slots(sessions, tz)
    zone = ZoneInfo(tz)
    taken = {
        (x.starts_at.astimezone(zone).date(), x.starts_at.astimezone(zone).strftime("%H:%M"))
        for x in sessions
    }
    # The next regular days that have no class yet (a cancelled one, or past the term).
    offered: list[tuple[date, str]] = []
    day = today
    while slots and len(offered) < REGULAR_DAYS and day < today + timedelta(days=DAY_RANGE):
        for weekday, start, _end in slots:
            starts = datetime.combine(day, time.fromisoformat(start), tzinfo=zone)
            free = (day, start) not in taken
            if weekday == day.weekday() and starts > now and free and len(offered) < REGULAR_DAYS:
                offered.append((day, start))
        day += timedelta(days=1)
    for day, start in offered:
        label = t.plain(
            "schedule-btn-regular",
            day=format_date(day, "EEE, d MMM", locale=t.locale),
            time=start,
        )
        hhmm = int(start[:2]) * 100 + int(start[3:])
        rows.append([sc_button(label, ScheduleAction.add_day, group_id, day_value(day, hhmm))])
    rows.append(cancel_markup(t).inline_keyboard[0])
    return InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(ScheduleCB.filter(F.action == ScheduleAction.add_day))
async def add_on_day(
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
    """A day button: with a time (a regular day) the class is added at once; without one
    (today, tomorrow) the time is asked next."""
    data = await state.get_data()
    context = await repo.courses.group_context(callback_data.id)
    now = clock.now()
    if (
        context is None
        or await state.get_state() != StaffForm.session_add.state
        or data.get("group_id") != context.group.id
        or not isinstance(callback.message, Message)
    ):
        stale(t, callback_answer)
        return
    tz = context.centre.timezone
    today = now.astimezone(ZoneInfo(tz)).date()
    ordinal, hhmm = divmod(callback_data.value, 10000)
    try:
        day = date.fromordinal(ordinal)
        start = None if hhmm == NO_TIME else time(hhmm // 100, hhmm % 100)
    except ValueError:
        day, start = today - timedelta(days=1), None
    if not today <= day <= today + timedelta(days=DAY_RANGE):
        stale(t, callback_answer)
        return
    length = await new_class_length(repo, context.group.id)
    if start is None:
        await state.update_data(day=day.isoformat())
        await show(
            callback,
            t(
                "schedule-ask-time",
                day=format_date(day, "EEE, d MMMM", locale=t.locale),
                group=t.pick(context.group.name),
                tz=zone_label(t, context.centre),
                length=length_text(length),
            ),
            cancel_markup(t),
        )
        return
    starts_at, ends_at = slot_times(Slot(day, start, None, None), tz, length)
    if starts_at <= now:
        alert(callback_answer, t.plain("schedule-error-past"))
        return
    await _add(
        callback.message,
        state,
        user,
        t,
        translator,
        repo,
        bot,
        now,
        context,
        Times(starts_at, ends_at, None),
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
    scope: StaffScope,
) -> None:
    found = await changeable(repo, callback_data.id, scope, t, callback_answer, clock.now())
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
            tz=zone_label(t, context.centre),
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
    message: Message,
    t: BoundTranslator,
    tz: str,
    length: timedelta,
    now: datetime,
    day: date | None = None,
) -> Times | None:
    """The class time a message gives (on ``day`` when one was picked with a button), or
    None once the staff member was told what is wrong (the form stays open)."""
    today = now.astimezone(ZoneInfo(tz)).date()
    try:
        text = message.text or ""
        slot = parse_slot_on(text, day, today) if day else parse_slot(text, today)
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
    scope: StaffScope,
) -> None:
    group_id = (await state.get_data()).get("group_id")
    context = await context_in_scope(repo, scope, group_id) if isinstance(group_id, int) else None
    if context is None:
        await state.clear()
        await message.answer(t("error-stale-button"))
        return
    tz = context.centre.timezone
    length = await new_class_length(repo, context.group.id)
    raw_day = (await state.get_data()).get("day")
    day = date.fromisoformat(raw_day) if isinstance(raw_day, str) else None
    times = await _read_times(message, t, tz, length, clock.now(), day)
    if times is None:
        return
    await _add(message, state, user, t, translator, repo, bot, clock.now(), context, times)


async def _add(
    message: Message,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    bot: Bot,
    now: datetime,
    context: GroupContextDTO,
    times: Times,
) -> None:
    """Add the class, tell the group's trainees, show the schedule (the form ends)."""
    tz = context.centre.timezone
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
    text, markup = await sessions_view(t, repo, context, 0, now)
    done = t("schedule-added", line=Html(session_line(t, session, tz)))
    await message.answer(f"{done}\n{told_text(t, told)}\n\n{text}", reply_markup=markup)


@router.message(StateFilter(StaffForm.session_move), HasText())
async def got_move(
    message: Message,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    clock: Clock,
    scope: StaffScope,
) -> None:
    session_id = (await state.get_data()).get("session_id")
    found = await session_context(repo, session_id, scope) if isinstance(session_id, int) else None
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
    scope: StaffScope,
) -> None:
    planned = None
    if await state.get_state() == StaffForm.session_move.state:
        planned = _planned(await state.get_data(), callback_data.id)
    found = await session_context(repo, callback_data.id, scope)
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
    await show(callback, f"{done}\n{told_text(t, told)}\n\n{text}", markup)


# ---- cancel -------------------------------------------------------------------------------


@router.callback_query(ScheduleCB.filter(F.action == ScheduleAction.cancel))
async def ask_cancel(
    callback: CallbackQuery,
    callback_data: ScheduleCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    clock: Clock,
    scope: StaffScope,
) -> None:
    found = await changeable(repo, callback_data.id, scope, t, callback_answer, clock.now())
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
    scope: StaffScope,
) -> None:
    found = await session_context(repo, callback_data.id, scope)
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
