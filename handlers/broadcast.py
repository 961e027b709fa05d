"""Announcements: the staff wizard, and the service that sends and reports them.

The wizard (staff only, private chat): /broadcast or the staff menu's 📣 section → send
the message (text with formatting, photo, video, document, with a caption) → choose the
audience (everyone active, or by language, course, group, district and application
status, combinable; the count is shown) → a preview (a copy sent to the staff member
exactly as recipients will see it) → send now, or schedule for a time typed or picked
in the centre's time zone. Scheduled announcements can be listed and cancelled.

Sending (``BroadcastService``): a broadcast is a ``broadcasts`` row; when due (at once,
or by its scheduler job ``broadcast:{id}``, or at start-up if its time passed while the
bot was down) its deliveries are enqueued — copies of the staff member's message, dedupe
keys ``broadcast:{id}:{user}`` — and the outbox sends them. A monitor (in the process
running the scheduler) edits the progress message at most every ~2 s (delivered, not
delivered, blocked, remaining, rate) with a Stop button, and posts the final report,
from which the list of recipients not reached can be exported as CSV.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, F
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, Filter, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
)
from aiogram.utils.callback_answer import CallbackAnswer
from babel.dates import format_date, format_time, format_timedelta

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.filters import PrivateChat
from bot.i18n import LANGUAGE_NAMES, BoundTranslator, Translator
from bot.outbox import Outbox
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.scheduler import Scheduler
from bot.services.export import Table, to_csv
from bot.staff_menu import StaffMenuCB, StaffSection
from bot.telegram_utils import show
from db.dto import Audience, BroadcastDTO, CentreDTO, DeliveryCounts, NewDelivery, UserDTO
from db.repo import Repos
from db.repo.deliveries import ENQUEUE_SLICE
from handlers.staff.common import home_button

log = logging.getLogger(__name__)
router = FeatureRouter(__name__)

STATUSES = ("pending", "accepted", "waitlisted", "rejected", "cancelled")
PICK_MAX = 60  # buttons in a picker (Telegram allows 100)
DRAFT_KINDS = ("text", "photo", "video", "document", "animation", "audio", "voice")


# ---- callback data, states, the cheap first filter ---------------------------------------


class BcAction(StrEnum):
    new = "n"  # write a new announcement
    list = "l"  # the scheduled ones
    everyone = "e"  # audience: everyone active → preview and confirm
    filters = "f"  # the audience screen
    pick = "p"  # a picker (dim)
    set = "s"  # set a filter (dim, value; "" = any)
    reset = "r"
    done = "d"  # filters chosen → preview and confirm
    now = "go"  # send now
    when = "w"  # ask for a time
    at = "at"  # a picked time (value: Unix seconds)
    plan = "ok"  # schedule at the chosen time
    cancel_ask = "x"  # cancel scheduled #id?
    cancel_yes = "xy"
    stop = "st"  # stop sending #id
    csv = "csv"  # recipients not reached, #id
    quit = "q"  # drop the draft


class BcCB(CallbackData, prefix="bc"):
    action: BcAction
    dim: str = ""
    value: str = ""
    id: int = 0


class BroadcastForm(StatesGroup):
    compose = State()  # waiting for the message
    audience = State()  # a draft in hand: audience, preview, confirm
    when = State()  # waiting for a typed time


_SECTION_DATA = StaffMenuCB(section=StaffSection.broadcast).pack()


class BroadcastTraffic(Filter):
    """Cheap, before the role lookup: our callbacks, /broadcast, and messages sent while a
    broadcast form is open. Citizen traffic never costs a database read here."""

    async def __call__(self, event: TelegramObject, raw_state: str | None = None, **_: Any) -> bool:
        if isinstance(event, CallbackQuery):
            data = event.data or ""
            return data.startswith("bc:") or data == _SECTION_DATA
        if not isinstance(event, Message):
            return False
        if raw_state is not None and raw_state.startswith("BroadcastForm:"):
            return True
        return (event.text or "").startswith("/broadcast")


router.message.filter(BroadcastTraffic(), PrivateChat(), RoleFilter())
router.callback_query.filter(BroadcastTraffic(), PrivateChat(), RoleFilter())


# ---- audience: text and data -------------------------------------------------------------


async def audience_centre(repo: Repos, audience: Audience) -> CentreDTO | None:
    """The centre whose time zone places a schedule: the chosen course's, else the first."""
    course_id = audience.course_id
    if course_id is None and audience.group_id is not None:
        group = await repo.catalogue.group(audience.group_id)
        course_id = group.course_id if group else None
    if course_id is not None:
        course = await repo.catalogue.course(course_id)
        if course is not None:
            return await repo.catalogue.centre(course.centre_id)
    centres = await repo.catalogue.centres()
    return centres[0] if centres else None


async def filter_values(t: BoundTranslator, repo: Repos, audience: Audience) -> dict[str, str]:
    """Each filter's value as staff read it ("" when not set)."""
    values = dict.fromkeys("lcgds", "")
    if audience.locale:
        values["l"] = LANGUAGE_NAMES.get(audience.locale, audience.locale)
    if audience.course_id is not None:
        course = await repo.catalogue.course(audience.course_id)
        values["c"] = t.pick(course.title) if course else f"#{audience.course_id}"
    if audience.group_id is not None:
        group = await repo.catalogue.group(audience.group_id)
        values["g"] = t.pick(group.name) if group else f"#{audience.group_id}"
    if audience.district_id is not None:
        district = await repo.catalogue.district(audience.district_id)
        values["d"] = t.pick(district.name) if district else f"#{audience.district_id}"
    if audience.status:
        values["s"] = t.plain("status-" + audience.status)
    return values


FILTER_KEYS = {
    "l": "broadcast-filter-language",
    "c": "broadcast-filter-course",
    "g": "broadcast-filter-group",
    "d": "broadcast-filter-district",
    "s": "broadcast-filter-status",
}
BUTTON_KEYS = {
    "l": "broadcast-btn-language",
    "c": "broadcast-btn-course",
    "g": "broadcast-btn-group",
    "d": "broadcast-btn-district",
    "s": "broadcast-btn-status",
}
PICK_KEYS = {
    "l": "broadcast-pick-language",
    "c": "broadcast-pick-course",
    "g": "broadcast-pick-group",
    "d": "broadcast-pick-district",
    "s": "broadcast-pick-status",
}


async def describe(t: BoundTranslator, repo: Repos, audience: Audience) -> str:
    """ "everyone who uses the bot" or "language: … · course: …" (plain text)."""
    values = await filter_values(t, repo, audience)
    parts = [t.plain(FILTER_KEYS[dim], value=value) for dim, value in values.items() if value]
    return " · ".join(parts) if parts else t.plain("broadcast-filter-everyone")


def _button(text: str, action: BcAction, **fields: Any) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=BcCB(action=action, **fields).pack())


async def audience_view(
    t: BoundTranslator, repo: Repos, settings: Settings, audience: Audience, author_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    count = await repo.broadcasts.audience_count(
        audience, settings.default_locale, author_id=author_id
    )
    values = await filter_values(t, repo, audience)
    any_ = t.plain("broadcast-any")
    dims = ["l", "c", "g", "d", "s"] if audience.course_id is not None else ["l", "c", "d", "s"]
    filters = [
        _button(t.plain(BUTTON_KEYS[dim], value=values[dim] or any_), BcAction.pick, dim=dim)
        for dim in dims
    ]
    rows = [[_button(t.plain("broadcast-audience-all"), BcAction.everyone)]]
    rows += [filters[i : i + 2] for i in range(0, len(filters), 2)]
    if not audience.is_everyone:
        rows.append([_button(t.plain("broadcast-btn-reset"), BcAction.reset)])
    rows.append([_button(t.plain("broadcast-btn-continue", count=count), BcAction.done)])
    rows.append([_button(t.plain("broadcast-btn-quit"), BcAction.quit)])
    text = t("broadcast-audience", filters=await describe(t, repo, audience), count=count)
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def picker_view(
    t: BoundTranslator, repo: Repos, audience: Audience, dim: str
) -> tuple[str, InlineKeyboardMarkup] | None:
    options: list[tuple[str, str]] = []
    if dim == "l":
        options = [(code, name) for code, name in LANGUAGE_NAMES.items()]
    elif dim == "c":
        centres = {c.id: c for c in await repo.catalogue.centres()}
        for course in (await repo.catalogue.courses())[:PICK_MAX]:
            centre = centres.get(course.centre_id)
            suffix = f" · {t.pick(centre.city)}" if centre else ""
            options.append((str(course.id), t.pick(course.title) + suffix))
    elif dim == "g":
        if audience.course_id is None:
            return None
        groups = await repo.catalogue.groups(audience.course_id)
        options = [(str(g.id), t.pick(g.name)) for g in groups[:PICK_MAX]]
    elif dim == "d":
        named = await repo.courses.districts_in_applications(
            course_id=audience.course_id, group_id=audience.group_id
        )
        for item in named[:PICK_MAX]:
            district = await repo.catalogue.district(int(item.key or 0))
            if district is not None:
                options.append((str(district.id), f"{t.pick(district.name)} ({item.count})"))
    elif dim == "s":
        options = [(status, t.plain("status-" + status)) for status in STATUSES]
    else:
        return None
    rows = [[_button(label, BcAction.set, dim=dim, value=value)] for value, label in options]
    rows.append([_button(t.plain("broadcast-pick-any"), BcAction.set, dim=dim, value="")])
    rows.append([_button(t.plain("broadcast-btn-back"), BcAction.filters)])
    return t(PICK_KEYS[dim]), InlineKeyboardMarkup(inline_keyboard=rows)


def with_filter(audience: Audience, dim: str, value: str) -> Audience | None:
    """The audience with one filter changed; None if the value makes no sense."""
    number = int(value) if value.isdigit() else None
    if value and dim in "cgd" and number is None:
        return None
    if dim == "l":
        if value and value not in LANGUAGE_NAMES:
            return None
        return replace(audience, locale=value or None)
    if dim == "c":  # a group belongs to a course: changing the course drops it
        return replace(audience, course_id=number, group_id=None)
    if dim == "g":
        return replace(audience, group_id=number)
    if dim == "d":
        return replace(audience, district_id=number)
    if dim == "s":
        if value and value not in STATUSES:
            return None
        return replace(audience, status=value or None)
    return None


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


# ---- the draft in the FSM ----------------------------------------------------------------


async def _draft(state: FSMContext) -> tuple[tuple[int, int], Audience] | None:
    data = await state.get_data()
    draft = data.get("draft")
    if not (isinstance(draft, list) and len(draft) == 2 and all(isinstance(x, int) for x in draft)):
        return None
    return (draft[0], draft[1]), Audience.from_json(data.get("aud"))


def _stale(t: BoundTranslator, callback_answer: CallbackAnswer) -> None:
    callback_answer.text = t.plain("error-stale-button")
    callback_answer.show_alert = True


# ---- entering, composing -----------------------------------------------------------------


async def ask_message(t: BoundTranslator, repo: Repos) -> tuple[str, InlineKeyboardMarkup]:
    scheduled = len(await repo.broadcasts.scheduled())
    rows = [
        [_button(t.plain("broadcast-btn-scheduled", count=scheduled), BcAction.list)],
        [_button(t.plain("broadcast-btn-quit"), BcAction.quit)],
    ]
    return t("broadcast-ask-message"), InlineKeyboardMarkup(inline_keyboard=rows)


@router.message(Command("broadcast"))
async def cmd_broadcast(
    message: Message, state: FSMContext, t: BoundTranslator, repo: Repos
) -> None:
    await state.set_state(BroadcastForm.compose)
    await state.set_data({})
    text, markup = await ask_message(t, repo)
    await message.answer(text, reply_markup=markup)


@router.callback_query(StaffMenuCB.filter(F.section == StaffSection.broadcast))
@router.callback_query(BcCB.filter(F.action == BcAction.new))
async def open_section(
    callback: CallbackQuery, state: FSMContext, t: BoundTranslator, repo: Repos
) -> None:
    await state.set_state(BroadcastForm.compose)
    await state.set_data({})
    text, markup = await ask_message(t, repo)
    await show(callback, text, markup)


@router.message(StateFilter(BroadcastForm.compose, BroadcastForm.audience))
async def got_message(
    message: Message,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
) -> None:
    """The message to send; sent again while choosing the audience, it replaces the draft
    (the filters chosen stay). An album is refused once (copyMessage copies one item)."""
    if message.media_group_id is not None:
        if (await state.get_data()).get("album") != message.media_group_id:
            await state.update_data(album=message.media_group_id)
            await message.answer(t("broadcast-album"))
        return
    kind = message.content_type
    if kind not in DRAFT_KINDS or (message.text or "").startswith("/"):
        await message.answer(t("broadcast-unsupported"))
        return
    found = await _draft(state) if await state.get_state() == BroadcastForm.audience.state else None
    audience = found[1] if found is not None else Audience()
    await state.set_state(BroadcastForm.audience)
    await state.set_data(
        {"draft": [message.chat.id, message.message_id], "aud": audience.to_json()}
    )
    text, markup = await audience_view(t, repo, settings, audience, user.id)
    if found is not None:
        text = f"{t('broadcast-draft-replaced')}\n\n{text}"
    await message.answer(text, reply_markup=markup)


@router.callback_query(BcCB.filter(F.action == BcAction.quit))
async def on_quit(callback: CallbackQuery, state: FSMContext, t: BoundTranslator) -> None:
    await state.clear()
    await show(
        callback,
        t("broadcast-cancelled"),
        InlineKeyboardMarkup(inline_keyboard=[[home_button(t)]]),
    )


# ---- audience ----------------------------------------------------------------------------


@router.callback_query(StateFilter(BroadcastForm.audience), BcCB.filter(F.action == BcAction.pick))
async def on_pick(
    callback: CallbackQuery,
    callback_data: BcCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    found = await _draft(state)
    view = await picker_view(t, repo, found[1], callback_data.dim) if found else None
    if view is None:
        _stale(t, callback_answer)
        return
    await show(callback, *view)


@router.callback_query(
    StateFilter(BroadcastForm.audience, BroadcastForm.when),
    BcCB.filter(F.action.in_({BcAction.set, BcAction.reset, BcAction.filters})),
)
async def on_filter(
    callback: CallbackQuery,
    callback_data: BcCB,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    found = await _draft(state)
    if found is None:
        _stale(t, callback_answer)
        return
    audience: Audience | None = found[1]
    if callback_data.action is BcAction.reset:
        audience = Audience()
    elif callback_data.action is BcAction.set:
        audience = with_filter(found[1], callback_data.dim, callback_data.value)
    if audience is None:
        _stale(t, callback_answer)
        return
    await state.set_state(BroadcastForm.audience)
    await state.update_data(aud=audience.to_json())
    await show(callback, *await audience_view(t, repo, settings, audience, user.id))


@router.callback_query(
    StateFilter(BroadcastForm.audience, BroadcastForm.when),
    BcCB.filter(F.action.in_({BcAction.everyone, BcAction.done})),
)
async def on_audience_chosen(
    callback: CallbackQuery,
    callback_data: BcCB,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    callback_answer: CallbackAnswer,
) -> None:
    found = await _draft(state)
    if found is None or callback.message is None:
        _stale(t, callback_answer)
        return
    (chat_id, message_id), audience = found
    if callback_data.action is BcAction.everyone:
        audience = Audience()
        await state.update_data(aud={})
    count = await repo.broadcasts.audience_count(
        audience, settings.default_locale, author_id=user.id
    )
    if count == 0:
        callback_answer.text = t.plain("broadcast-nobody")
        callback_answer.show_alert = True
        return
    await state.set_state(BroadcastForm.audience)
    # The preview: the very copy recipients get, then the confirmation under it.
    chat = callback.message.chat.id
    try:
        await bot.copy_message(chat, chat_id, message_id)
    except TelegramBadRequest:
        await state.clear()
        await show(callback, t("broadcast-draft-gone"))
        return
    text = t("broadcast-confirm", count=count, filters=await describe(t, repo, audience))
    rows = [
        [
            _button(t.plain("broadcast-send-now"), BcAction.now),
            _button(t.plain("broadcast-btn-schedule"), BcAction.when),
        ],
        [_button(t.plain("broadcast-btn-audience"), BcAction.filters)],
        [_button(t.plain("broadcast-btn-quit"), BcAction.quit)],
    ]
    await bot.send_message(chat, text, reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


# ---- send now ----------------------------------------------------------------------------


def stop_markup(t: BoundTranslator, broadcast_id: int) -> InlineKeyboardMarkup:
    button = _button(t.plain("broadcast-btn-stop"), BcAction.stop, id=broadcast_id)
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


@router.callback_query(StateFilter(BroadcastForm.audience), BcCB.filter(F.action == BcAction.now))
async def on_send_now(
    callback: CallbackQuery,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
    broadcasts: BroadcastService,
    callback_answer: CallbackAnswer,
) -> None:
    found = await _draft(state)
    message = callback.message
    if found is None or not isinstance(message, Message):
        _stale(t, callback_answer)
        return
    (chat_id, message_id), audience = found
    total = await repo.broadcasts.audience_count(
        audience, settings.default_locale, author_id=user.id
    )
    if total == 0:
        callback_answer.text = t.plain("broadcast-nobody")
        callback_answer.show_alert = True
        return
    await state.clear()
    now = clock.now()
    broadcast = await repo.broadcasts.create(
        author_id=user.id,
        source_chat_id=chat_id,
        source_message_id=message_id,
        audience=audience,
        scheduled_at=now,
        progress_chat_id=message.chat.id,
        progress_message_id=message.message_id,
        now=now,
    )
    text = broadcasts.progress_text(t, broadcast, DeliveryCounts(pending=total), total, None)
    await show(callback, text, stop_markup(t, broadcast.id))
    broadcasts.send_now(broadcast.id)


# ---- schedule ----------------------------------------------------------------------------


async def ask_time(
    t: BoundTranslator, repo: Repos, audience: Audience, now: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    centre = await audience_centre(repo, audience)
    tz = centre.timezone if centre else "UTC"
    example = (now.astimezone(ZoneInfo(tz)) + timedelta(days=1)).strftime("%d.%m 10:00")
    rows = [
        [
            _button(
                t.plain(key, time=format_time(moment.astimezone(ZoneInfo(tz)), "HH:mm")),
                BcAction.at,
                value=str(int(moment.timestamp())),
            )
        ]
        for key, moment in quick_times(now, tz)
    ]
    rows.append([_button(t.plain("broadcast-btn-back"), BcAction.filters)])
    text = t(
        "broadcast-ask-time",
        centre=t.pick(centre.name) if centre else "UTC",
        tz=tz,
        example=example,
    )
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(
    StateFilter(BroadcastForm.audience, BroadcastForm.when), BcCB.filter(F.action == BcAction.when)
)
async def on_when(
    callback: CallbackQuery,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    clock: Clock,
    callback_answer: CallbackAnswer,
) -> None:
    found = await _draft(state)
    if found is None:
        _stale(t, callback_answer)
        return
    await state.set_state(BroadcastForm.when)
    await show(callback, *await ask_time(t, repo, found[1], clock.now()))


async def confirm_time(
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    audience: Audience,
    at: datetime,
    author_id: int,
) -> tuple[str, InlineKeyboardMarkup]:
    centre = await audience_centre(repo, audience)
    tz = centre.timezone if centre else "UTC"
    count = await repo.broadcasts.audience_count(
        audience, settings.default_locale, author_id=author_id
    )
    text = t(
        "broadcast-confirm-schedule",
        count=count,
        when=fmt_when(at, tz, t.locale),
        tz=tz,
        filters=await describe(t, repo, audience),
    )
    rows = [
        [_button(t.plain("broadcast-btn-confirm-schedule"), BcAction.plan)],
        [_button(t.plain("broadcast-btn-back"), BcAction.when)],
    ]
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


@router.message(StateFilter(BroadcastForm.when))
async def got_time(
    message: Message,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
) -> None:
    found = await _draft(state)
    if found is None:
        await state.clear()
        await message.answer(t("error-stale-button"))
        return
    audience = found[1]
    centre = await audience_centre(repo, audience)
    zone = ZoneInfo(centre.timezone if centre else "UTC")
    now = clock.now()
    example = (now.astimezone(zone) + timedelta(days=1)).strftime("%d.%m 10:00")
    try:
        local = parse_when(message.text or "", now.astimezone(zone).date())
    except ValueError:
        await message.answer(t("broadcast-time-invalid", example=example))
        return
    at = local.replace(tzinfo=zone).astimezone(UTC)
    if at <= now:
        await message.answer(t("broadcast-time-past"))
        return
    await state.update_data(at=at.isoformat())
    text, markup = await confirm_time(t, repo, settings, audience, at, user.id)
    await message.answer(text, reply_markup=markup)


@router.callback_query(StateFilter(BroadcastForm.when), BcCB.filter(F.action == BcAction.at))
async def on_time_picked(
    callback: CallbackQuery,
    callback_data: BcCB,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
    callback_answer: CallbackAnswer,
) -> None:
    found = await _draft(state)
    try:
        at = datetime.fromtimestamp(int(callback_data.value), UTC)
    except (ValueError, OverflowError, OSError):  # forged: not a time at all
        found = None
    if found is None:
        _stale(t, callback_answer)
        return
    if at <= clock.now():
        callback_answer.text = t.plain("broadcast-time-past")
        callback_answer.show_alert = True
        return
    await state.update_data(at=at.isoformat())
    await show(callback, *await confirm_time(t, repo, settings, found[1], at, user.id))


@router.callback_query(StateFilter(BroadcastForm.when), BcCB.filter(F.action == BcAction.plan))
async def on_plan(
    callback: CallbackQuery,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    clock: Clock,
    broadcasts: BroadcastService,
    callback_answer: CallbackAnswer,
) -> None:
    found = await _draft(state)
    raw = (await state.get_data()).get("at")
    if found is None or not isinstance(raw, str) or callback.message is None:
        _stale(t, callback_answer)
        return
    at = datetime.fromisoformat(raw)
    now = clock.now()
    if at <= now:
        callback_answer.text = t.plain("broadcast-time-past")
        callback_answer.show_alert = True
        return
    (chat_id, message_id), audience = found
    await state.clear()
    broadcast = await repo.broadcasts.create(
        author_id=user.id,
        source_chat_id=chat_id,
        source_message_id=message_id,
        audience=audience,
        scheduled_at=at,
        now=now,
    )
    broadcasts.schedule(broadcast)
    centre = await audience_centre(repo, audience)
    tz = centre.timezone if centre else "UTC"
    text = t("broadcast-scheduled-done", id=broadcast.id, when=fmt_when(at, tz, t.locale), tz=tz)
    rows = [
        [_button(t.plain("broadcast-btn-scheduled", count=1), BcAction.list)],
        [home_button(t)],
    ]
    await show(callback, text, InlineKeyboardMarkup(inline_keyboard=rows))


# ---- scheduled: list and cancel ----------------------------------------------------------


async def scheduled_view(
    t: BoundTranslator, repo: Repos, settings: Settings
) -> tuple[str, InlineKeyboardMarkup]:
    items = await repo.broadcasts.scheduled()
    lines = [t("broadcast-scheduled-list")]
    rows: list[list[InlineKeyboardButton]] = []
    for b in items[:20]:
        centre = await audience_centre(repo, b.audience)
        tz = centre.timezone if centre else "UTC"
        count = await repo.broadcasts.audience_count(
            b.audience, settings.default_locale, author_id=b.author_id
        )
        when = fmt_when(b.scheduled_at or b.created_at, tz, t.locale)
        filters = await describe(t, repo, b.audience)
        lines.append(
            t("broadcast-scheduled-item", id=b.id, when=when, count=count, filters=filters)
        )
        rows.append(
            [_button(t.plain("broadcast-btn-cancel-item", id=b.id), BcAction.cancel_ask, id=b.id)]
        )
    if not items:
        lines.append(t("broadcast-scheduled-empty"))
    rows.append([_button(t.plain("broadcast-btn-new"), BcAction.new)])
    rows.append([home_button(t)])
    return "\n\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(BcCB.filter(F.action == BcAction.list))
async def on_list(
    callback: CallbackQuery,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
) -> None:
    await state.clear()
    await show(callback, *await scheduled_view(t, repo, settings))


@router.callback_query(BcCB.filter(F.action == BcAction.cancel_ask))
async def on_cancel_ask(
    callback: CallbackQuery,
    callback_data: BcCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    broadcast = await repo.broadcasts.get(callback_data.id)
    if broadcast is None or broadcast.status != "scheduled" or broadcast.scheduled_at is None:
        _stale(t, callback_answer)
        return
    centre = await audience_centre(repo, broadcast.audience)
    when = fmt_when(broadcast.scheduled_at, centre.timezone if centre else "UTC", t.locale)
    rows = [
        [_button(t.plain("broadcast-btn-cancel-yes"), BcAction.cancel_yes, id=broadcast.id)],
        [_button(t.plain("broadcast-btn-back"), BcAction.list)],
    ]
    text = t("broadcast-cancel-ask", id=broadcast.id, when=when)
    await show(callback, text, InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(BcCB.filter(F.action == BcAction.cancel_yes))
async def on_cancel_yes(
    callback: CallbackQuery,
    callback_data: BcCB,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    broadcasts: BroadcastService,
    callback_answer: CallbackAnswer,
) -> None:
    if not await broadcasts.cancel(callback_data.id, actor_id=user.id):
        _stale(t, callback_answer)
        return
    callback_answer.text = t.plain("broadcast-cancelled-item", id=callback_data.id)
    await show(callback, *await scheduled_view(t, repo, settings))


# ---- while sending: stop; afterwards: who was not reached --------------------------------


@router.callback_query(BcCB.filter(F.action == BcAction.stop))
async def on_stop(
    callback: CallbackQuery,
    callback_data: BcCB,
    user: UserDTO,
    t: BoundTranslator,
    broadcasts: BroadcastService,
    callback_answer: CallbackAnswer,
) -> None:
    stopped = await broadcasts.stop(callback_data.id, actor_id=user.id)
    callback_answer.text = t.plain("broadcast-stopping" if stopped else "broadcast-not-sending")


@router.callback_query(BcCB.filter(F.action == BcAction.csv))
async def on_failures(
    callback: CallbackQuery,
    callback_data: BcCB,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    bot: Bot,
    callback_answer: CallbackAnswer,
) -> None:
    broadcast = await repo.broadcasts.get(callback_data.id)
    if broadcast is None or callback.message is None:
        _stale(t, callback_answer)
        return
    failures = await repo.deliveries.failures(broadcast.id)
    if not failures:
        callback_answer.text = t.plain("broadcast-no-failures")
        return
    status_keys = {"failed": "broadcast-status-failed", "blocked": "broadcast-status-blocked"}
    table = Table(
        title=f"#{broadcast.id}",
        headers=[
            t.plain(key)
            for key in (
                "broadcast-col-user",
                "broadcast-col-name",
                "broadcast-col-username",
                "broadcast-col-status",
                "broadcast-col-attempts",
                "broadcast-col-error",
            )
        ],
        rows=[
            (
                f.user_id,
                f.first_name or "",
                f"@{f.username}" if f.username else "",
                t.plain(status_keys.get(f.status, "broadcast-status-failed")),
                f.attempts,
                f.last_error or "",
            )
            for f in failures
        ],
    )
    document = BufferedInputFile(to_csv(table), filename=f"announcement-{broadcast.id}.csv")
    await bot.send_document(
        callback.message.chat.id,
        document,
        caption=t("broadcast-failures-caption", id=broadcast.id, count=len(failures)),
    )
    await repo.audit.add(
        user.id, "broadcast.export", "broadcast", broadcast.id, None, {"rows": len(failures)}
    )


# ---- the service -------------------------------------------------------------------------


class BroadcastService:
    """Fires broadcasts when due, reports their progress, stops and cancels them.

    Every process has one (staff may press Send now or Stop anywhere); only the process
    running the scheduler (``SCHEDULER_ENABLED``) holds the jobs and runs the monitor
    that edits progress messages and posts the final reports.
    """

    def __init__(
        self,
        repo: Repos,
        translator: Translator,
        bot: Bot,
        outbox: Outbox,
        settings: Settings,
        *,
        clock: Clock | None = None,
        scheduler: Scheduler | None = None,
        interval: float = 2.0,
        sync_every: float = 30.0,
    ) -> None:
        self.repo = repo
        self.translator = translator
        self.bot = bot
        self.outbox = outbox
        self.settings = settings
        self.clock = clock or SystemClock()
        self.scheduler = scheduler
        self.interval = interval
        self.sync_every = sync_every
        self._poke = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._monitor: asyncio.Task[None] | None = None
        self._fire_lock = asyncio.Lock()
        self._progress: dict[int, tuple[float, int, float, str]] = {}  # t0, done0, edited, text

    @property
    def monitoring(self) -> bool:
        return self.scheduler is not None

    async def start(self) -> None:
        if self.scheduler is None:
            return
        self.scheduler.on("broadcast", self.fire)
        self.scheduler.add_catch_up(self.restore)
        await self.restore()
        self.outbox.idle_listeners.append(self.poke)
        self._monitor = asyncio.create_task(self._watch(), name="broadcasts: monitor")

    async def stop_service(self) -> None:
        if self.poke in self.outbox.idle_listeners:
            self.outbox.idle_listeners.remove(self.poke)
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)

    def poke(self) -> None:
        """Look at the broadcasts being sent now (not at the next tick)."""
        self._poke.set()

    # ---- firing --------------------------------------------------------------------------

    async def restore(self) -> None:
        """Jobs from the database: due broadcasts (their time passed while the bot was down,
        or the clock jumped) are sent now, the others get their ``broadcast:{id}`` job."""
        for broadcast in await self.repo.broadcasts.scheduled():
            at = broadcast.scheduled_at or broadcast.created_at
            if at <= self.clock.now():
                await self.fire(broadcast.id)
            elif self.scheduler is not None:
                self.scheduler.schedule("broadcast", broadcast.id, at)

    def schedule(self, broadcast: BroadcastDTO) -> None:
        """A broadcast scheduled here: its job, if this process runs the scheduler (else
        the scheduler's process picks it up from the database within ``sync_every``)."""
        if self.scheduler is not None and broadcast.scheduled_at is not None:
            self.scheduler.schedule("broadcast", broadcast.id, broadcast.scheduled_at)

    def send_now(self, broadcast_id: int) -> None:
        """Fire in the background: a large audience takes a moment to enqueue."""
        task = asyncio.create_task(self.fire(broadcast_id), name=f"broadcast-{broadcast_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def fire(self, broadcast_id: int) -> None:
        """Enqueue a due broadcast's deliveries and mark it sending. Idempotent: the dedupe
        keys make a second run (after a crash, by a catch-up) add nothing."""
        async with self._fire_lock:
            broadcast = await self.repo.broadcasts.get(broadcast_id)
            if broadcast is None or broadcast.status != "scheduled":
                return
            now = self.clock.now()
            at = broadcast.scheduled_at or broadcast.created_at
            if at > now:  # the wall clock ran ahead of the injected one: not yet
                if self.scheduler is not None:
                    self.scheduler.schedule("broadcast", broadcast.id, at)
                return
            ids = await self.repo.broadcasts.audience_ids(
                broadcast.audience, self.settings.default_locale, author_id=broadcast.author_id
            )
            # The progress message exists before the broadcast is ``sending``: the monitor
            # finishes only ``sending`` ones, so its final edit always finds the message
            # (a small audience may be sent before a slow sendMessage comes back).
            created = False
            if broadcast.progress_message_id is None:
                created = await self._new_progress_message(broadcast, len(ids))
            payload = {
                "type": "copy",
                "from_chat_id": broadcast.source_chat_id,
                "message_id": broadcast.source_message_id,
            }
            for start in range(0, len(ids), ENQUEUE_SLICE):
                if start and not await self._still_scheduled(broadcast.id):
                    break  # stopped while its audience was being written
                await self.repo.deliveries.enqueue(
                    [
                        NewDelivery(
                            kind="broadcast",
                            dedupe_key=f"broadcast:{broadcast.id}:{user_id}",
                            user_id=user_id,
                            payload=payload,
                            broadcast_id=broadcast.id,
                            not_before=now,
                        )
                        for user_id in ids[start : start + ENQUEUE_SLICE]
                    ]
                )
            if not await self.repo.broadcasts.start(broadcast.id, now):
                # Cancelled or stopped meanwhile: what was written is not sent.
                latest = await self.repo.broadcasts.get(broadcast.id)
                reason = latest.status if latest is not None else "cancelled"
                await self.repo.deliveries.skip_pending(broadcast.id, reason)
                await self.outbox.forget_broadcast(broadcast.id, reason)
                if created and reason == "cancelled":  # never sent: no progress to show
                    await self._drop_progress_message(broadcast.id)
                self.poke()
                return
            if self.scheduler is not None:  # fired by a catch-up: the job is done too
                self.scheduler.cancel("broadcast", broadcast.id)
            log.info("broadcast %s: %s deliveries enqueued", broadcast.id, len(ids))
            self.poke()

    async def _still_scheduled(self, broadcast_id: int) -> bool:
        current = await self.repo.broadcasts.get(broadcast_id)
        return current is not None and current.status == "scheduled"

    async def _new_progress_message(self, broadcast: BroadcastDTO, total: int) -> bool:
        """The progress message of a broadcast fired by its schedule; True if sent."""
        chat_id = broadcast.progress_chat_id or broadcast.author_id
        t = await self._author_t(broadcast)
        text = self.progress_text(t, broadcast, DeliveryCounts(pending=total), total, None)
        try:
            sent = await self.bot.send_message(
                chat_id, text, reply_markup=stop_markup(t, broadcast.id)
            )
        except TelegramAPIError as exc:
            log.warning("broadcast %s: no progress message (%s)", broadcast.id, exc)
            return False
        await self.repo.broadcasts.set_progress_message(broadcast.id, chat_id, sent.message_id)
        return True

    async def _drop_progress_message(self, broadcast_id: int) -> None:
        latest = await self.repo.broadcasts.get(broadcast_id)
        if latest is None or latest.progress_chat_id is None:
            return
        if latest.progress_message_id is None:
            return
        try:
            await self.bot.delete_message(latest.progress_chat_id, latest.progress_message_id)
        except TelegramAPIError as exc:
            log.info("broadcast %s: progress message not deleted (%s)", broadcast_id, exc)

    async def cancel(self, broadcast_id: int, *, actor_id: int) -> bool:
        cancelled = await self.repo.broadcasts.cancel(broadcast_id, actor_id=actor_id)
        if cancelled and self.scheduler is not None:
            self.scheduler.cancel("broadcast", broadcast_id)
        return cancelled

    async def stop(self, broadcast_id: int, *, actor_id: int) -> bool:
        """Stop sending: rows not sent yet are skipped (here and, held by this process's
        outbox, at once; other processes finish what they already hold)."""
        skipped = await self.repo.broadcasts.stop(
            broadcast_id, actor_id=actor_id, now=self.clock.now()
        )
        if skipped is None:
            return False
        await self.outbox.forget_broadcast(broadcast_id)
        self.poke()
        return True

    # ---- progress and reports ------------------------------------------------------------

    async def _author_t(self, broadcast: BroadcastDTO) -> BoundTranslator:
        author = await self.repo.users.get(broadcast.author_id)
        locale = self.translator.resolve_locale(
            author.locale if author else None, author.language_code if author else None
        )
        return self.translator.bind(locale)

    @staticmethod
    def progress_text(
        t: BoundTranslator,
        broadcast: BroadcastDTO,
        counts: DeliveryCounts,
        total: int,
        rate: float | None,
    ) -> str:
        """The progress message; its first line stays the same from start to end."""
        head = t("broadcast-started", id=broadcast.id, total=total)
        if broadcast.finished_at is not None:
            body = t(
                "broadcast-progress-final",
                sent=counts.sent,
                failed=counts.failed,
                blocked=counts.blocked,
                skipped=counts.skipped,
            )
        else:
            body = t(
                "broadcast-progress",
                sent=counts.sent,
                failed=counts.failed,
                blocked=counts.blocked,
                remaining=counts.remaining,
                rate=f"{rate:.1f}" if rate is not None else "—",
            )
        return f"{head}\n\n{body}"

    async def _watch(self) -> None:
        ticks = 0
        every = max(1, round(self.sync_every / self.interval))
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._poke.wait()
            self._poke.clear()
            ticks += 1
            try:
                if ticks % every == 0:
                    await self.restore()  # broadcasts scheduled by other processes
                await self.refresh()
            except Exception:
                log.exception("broadcast monitor failed")

    async def refresh(self) -> None:
        """One look at every broadcast being sent: edit its progress, or finish it."""
        loop = asyncio.get_running_loop()
        for broadcast in await self.repo.broadcasts.active():
            counts = await self.repo.deliveries.counts(broadcast.id)
            if counts.remaining == 0:
                finished = await self.repo.broadcasts.finish(broadcast.id, self.clock.now())
                if finished is not None:
                    await self._report(finished, counts)
                continue
            now = loop.time()
            t0, done0, edited, last = self._progress.setdefault(
                broadcast.id, (now, counts.processed, 0.0, "")
            )
            if now - edited < self.interval * 0.9:  # at most one edit per interval
                continue
            rate = (counts.processed - done0) / (now - t0) if now > t0 else None
            t = await self._author_t(broadcast)
            text = self.progress_text(t, broadcast, counts, counts.total, rate)
            if text != last:
                markup = stop_markup(t, broadcast.id) if broadcast.status == "sending" else None
                await self._edit(broadcast, text, markup)
            self._progress[broadcast.id] = (t0, done0, now, text)

    async def _edit(
        self, broadcast: BroadcastDTO, text: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        if broadcast.progress_chat_id is None or broadcast.progress_message_id is None:
            return
        try:
            await self.bot.edit_message_text(
                text=text,
                chat_id=broadcast.progress_chat_id,
                message_id=broadcast.progress_message_id,
                reply_markup=markup,
            )
        except TelegramBadRequest as exc:
            if "message is not modified" not in exc.message:
                log.info("broadcast %s: progress not edited (%s)", broadcast.id, exc.message)
        except TelegramAPIError as exc:
            log.info("broadcast %s: progress not edited (%s)", broadcast.id, exc)

    async def _report(self, broadcast: BroadcastDTO, counts: DeliveryCounts) -> None:
        """The last edit of the progress message and the final report under it."""
        self._progress.pop(broadcast.id, None)
        t = await self._author_t(broadcast)
        await self._edit(
            broadcast, self.progress_text(t, broadcast, counts, counts.total, None), None
        )
        took = (broadcast.finished_at or self.clock.now()) - (
            broadcast.started_at or broadcast.created_at
        )
        key = "broadcast-report-stopped" if broadcast.status == "stopped" else "broadcast-report"
        text = t(
            key,
            id=broadcast.id,
            total=counts.total,
            sent=counts.sent,
            failed=counts.failed,
            blocked=counts.blocked,
            skipped=counts.skipped,
            duration=format_timedelta(
                max(took, timedelta(seconds=1)), locale=t.locale, threshold=2
            ),
        )
        rows: list[list[InlineKeyboardButton]] = []
        if counts.failed + counts.blocked:
            rows.append([_button(t.plain("broadcast-btn-failures"), BcAction.csv, id=broadcast.id)])
        chat_id = broadcast.progress_chat_id or broadcast.author_id
        try:
            await self.bot.send_message(
                chat_id,
                text,
                reply_markup=InlineKeyboardMarkup(inline_keyboard=rows) if rows else None,
            )
        except TelegramAPIError as exc:
            log.warning("broadcast %s: final report not sent (%s)", broadcast.id, exc)
        log.info(
            "broadcast %s %s: sent %s, failed %s, blocked %s, skipped %s",
            broadcast.id,
            broadcast.status,
            counts.sent,
            counts.failed,
            counts.blocked,
            counts.skipped,
        )
