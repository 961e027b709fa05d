"""Sending: now, or at a time typed or picked; the scheduled ones listed and cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer
from babel.dates import format_time

from bot.clock import Clock
from bot.config import Settings
from bot.formatting import zone_label
from bot.i18n import BoundTranslator
from bot.routing import FeatureRouter
from bot.telegram_utils import show
from db.dto import Audience, DeliveryCounts, StaffScope, UserDTO
from db.repo import Repos
from handlers.broadcast.base import (
    BcAction,
    BcCB,
    BroadcastForm,
    answer_stale,
    bc_button,
    broadcast_in_scope,
    draft_content,
    load_draft,
)
from handlers.broadcast.service import BroadcastService, stop_markup
from handlers.broadcast.times import fmt_when, parse_when, quick_times
from handlers.broadcast.views import audience_centre, describe
from handlers.staff.common import home_button

# ---- send now ----------------------------------------------------------------------------


router = FeatureRouter(__name__)


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
    scope: StaffScope,
) -> None:
    found = await load_draft(state, scope, repo)
    message = callback.message
    if found is None or not isinstance(message, Message):
        answer_stale(t, callback_answer)
        return
    (chat_id, message_id), audience = found
    total = await repo.broadcasts.audience_count(
        audience, settings.default_locale, author_id=user.id
    )
    if total == 0:
        callback_answer.text = t.plain("broadcast-nobody")
        callback_answer.show_alert = True
        return
    content = await draft_content(state)
    await state.clear()
    now = clock.now()
    broadcast = await repo.broadcasts.create(
        author_id=user.id,
        source_chat_id=chat_id,
        source_message_id=message_id,
        content=content,
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
            bc_button(
                t.plain(key, time=format_time(moment.astimezone(ZoneInfo(tz)), "HH:mm")),
                BcAction.at,
                value=str(int(moment.timestamp())),
            )
        ]
        for key, moment in quick_times(now, tz)
    ]
    rows.append([bc_button(t.plain("broadcast-btn-back"), BcAction.filters)])
    text = t(
        "broadcast-ask-time",
        centre=t.pick(centre.name) if centre else "UTC",
        tz=zone_label(t, centre),
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
    scope: StaffScope,
) -> None:
    found = await load_draft(state, scope, repo)
    if found is None:
        answer_stale(t, callback_answer)
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
        tz=zone_label(t, centre),
        filters=await describe(t, repo, audience, reach=True),
    )
    rows = [
        [bc_button(t.plain("broadcast-btn-confirm-schedule"), BcAction.plan)],
        [bc_button(t.plain("broadcast-btn-back"), BcAction.when)],
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
    scope: StaffScope,
) -> None:
    found = await load_draft(state, scope, repo)
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
    scope: StaffScope,
) -> None:
    found = await load_draft(state, scope, repo)
    try:
        at = datetime.fromtimestamp(int(callback_data.value), UTC)
    except (ValueError, OverflowError, OSError):  # forged: not a time at all
        found = None
    if found is None:
        answer_stale(t, callback_answer)
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
    scope: StaffScope,
) -> None:
    found = await load_draft(state, scope, repo)
    raw = (await state.get_data()).get("at")
    if found is None or not isinstance(raw, str) or callback.message is None:
        answer_stale(t, callback_answer)
        return
    at = datetime.fromisoformat(raw)
    now = clock.now()
    if at <= now:
        callback_answer.text = t.plain("broadcast-time-past")
        callback_answer.show_alert = True
        return
    (chat_id, message_id), audience = found
    content = await draft_content(state)
    await state.clear()
    broadcast = await repo.broadcasts.create(
        author_id=user.id,
        source_chat_id=chat_id,
        source_message_id=message_id,
        content=content,
        audience=audience,
        scheduled_at=at,
        now=now,
    )
    broadcasts.schedule(broadcast)
    centre = await audience_centre(repo, audience)
    tz = centre.timezone if centre else "UTC"
    text = t(
        "broadcast-scheduled-done",
        id=broadcast.id,
        when=fmt_when(at, tz, t.locale),
        tz=zone_label(t, centre),
    )
    rows = [
        [bc_button(t.plain("broadcast-btn-scheduled", count=1), BcAction.list)],
        [home_button(t)],
    ]
    await show(callback, text, InlineKeyboardMarkup(inline_keyboard=rows))


# ---- scheduled: list and cancel ----------------------------------------------------------


async def scheduled_view(
    t: BoundTranslator, repo: Repos, settings: Settings, scope: StaffScope
) -> tuple[str, InlineKeyboardMarkup]:
    items = [b for b in await repo.broadcasts.scheduled() if broadcast_in_scope(b, scope)]
    lines = [t("broadcast-scheduled-list")]
    rows: list[list[InlineKeyboardButton]] = []
    for b in items[:20]:
        centre = await audience_centre(repo, b.audience)
        tz = centre.timezone if centre else "UTC"
        count = await repo.broadcasts.audience_count(
            b.audience, settings.default_locale, author_id=b.author_id
        )
        when = fmt_when(b.scheduled_at or b.created_at, tz, t.locale)
        filters = await describe(t, repo, b.audience, reach=True)
        lines.append(
            t("broadcast-scheduled-item", id=b.id, when=when, count=count, filters=filters)
        )
        rows.append(
            [bc_button(t.plain("broadcast-btn-cancel-item", id=b.id), BcAction.cancel_ask, id=b.id)]
        )
    if not items:
        lines.append(t("broadcast-scheduled-empty"))
    rows.append([bc_button(t.plain("broadcast-btn-new"), BcAction.new)])
    rows.append([home_button(t)])
    return "\n\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(BcCB.filter(F.action == BcAction.list))
async def on_list(
    callback: CallbackQuery,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    scope: StaffScope,
) -> None:
    await state.clear()
    await show(callback, *await scheduled_view(t, repo, settings, scope))


@router.callback_query(BcCB.filter(F.action == BcAction.cancel_ask))
async def on_cancel_ask(
    callback: CallbackQuery,
    callback_data: BcCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    broadcast = await repo.broadcasts.get(callback_data.id)
    if (
        broadcast is None
        or not broadcast_in_scope(broadcast, scope)
        or broadcast.status != "scheduled"
        or broadcast.scheduled_at is None
    ):
        answer_stale(t, callback_answer)
        return
    centre = await audience_centre(repo, broadcast.audience)
    when = fmt_when(broadcast.scheduled_at, centre.timezone if centre else "UTC", t.locale)
    rows = [
        [bc_button(t.plain("broadcast-btn-cancel-yes"), BcAction.cancel_yes, id=broadcast.id)],
        [bc_button(t.plain("broadcast-btn-back"), BcAction.list)],
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
    scope: StaffScope,
) -> None:
    broadcast = await repo.broadcasts.get(callback_data.id)
    if (
        broadcast is None
        or not broadcast_in_scope(broadcast, scope)
        or not await broadcasts.cancel(broadcast.id, actor_id=user.id)
    ):
        answer_stale(t, callback_answer)
        return
    callback_answer.text = t.plain("broadcast-cancelled-item", id=callback_data.id)
    await show(callback, *await scheduled_view(t, repo, settings, scope))
