"""Choosing the audience: everyone, or filters picked one by one; then the preview."""

from __future__ import annotations

from aiogram import Bot, F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.broadcast_content import send_method
from bot.config import Settings
from bot.i18n import BoundTranslator
from bot.routing import FeatureRouter
from bot.telegram_utils import show
from db.dto import Audience, StaffScope, UserDTO
from db.repo import Repos
from handlers.broadcast.base import (
    BcAction,
    BcCB,
    BroadcastForm,
    answer_stale,
    bc_button,
    draft_content,
    load_draft,
    scoped,
    scoped_audience,
)
from handlers.broadcast.views import audience_view, describe, picker_view, with_filter

# ---- audience ----------------------------------------------------------------------------


router = FeatureRouter(__name__)


@router.callback_query(StateFilter(BroadcastForm.audience), BcCB.filter(F.action == BcAction.pick))
async def on_pick(
    callback: CallbackQuery,
    callback_data: BcCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    found = await load_draft(state, scope, repo)
    view = await picker_view(t, repo, found[1], callback_data.dim) if found else None
    if view is None:
        answer_stale(t, callback_answer)
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
    scope: StaffScope,
) -> None:
    found = await load_draft(state, scope, repo)
    if found is None:
        answer_stale(t, callback_answer)
        return
    audience: Audience | None = found[1]
    if callback_data.action is BcAction.reset:
        audience = scoped(Audience(), scope)
    elif callback_data.action is BcAction.set:
        audience = with_filter(found[1], callback_data.dim, callback_data.value)
        if audience is not None:
            audience = await scoped_audience(repo, scope, audience)
    if audience is None:
        answer_stale(t, callback_answer)
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
    scope: StaffScope,
) -> None:
    found = await load_draft(state, scope, repo)
    if found is None or callback.message is None:
        answer_stale(t, callback_answer)
        return
    (chat_id, message_id), audience = found
    if callback_data.action is BcAction.everyone:
        audience = scoped(Audience(), scope)
        await state.update_data(aud={})
    count = await repo.broadcasts.audience_count(
        audience, settings.default_locale, author_id=user.id
    )
    if count == 0:
        callback_answer.text = t.plain("broadcast-nobody")
        callback_answer.show_alert = True
        return
    await state.set_state(BroadcastForm.audience)
    # The preview: the very message recipients get (the frozen content), then the
    # confirmation under it.
    chat = callback.message.chat.id
    content = await draft_content(state)
    try:
        if content is not None:
            await bot(send_method(chat, content))
        else:  # a draft from before contents were frozen
            await bot.copy_message(chat, chat_id, message_id)
    except TelegramBadRequest:
        await state.clear()
        await show(callback, t("broadcast-draft-gone"))
        return
    filters = await describe(t, repo, audience, reach=True)
    text = t("broadcast-confirm", count=count, filters=filters)
    rows = [
        [
            bc_button(t.plain("broadcast-send-now"), BcAction.now),
            bc_button(t.plain("broadcast-btn-schedule"), BcAction.when),
        ],
        [bc_button(t.plain("broadcast-btn-audience"), BcAction.filters)],
        [bc_button(t.plain("broadcast-btn-quit"), BcAction.quit)],
    ]
    await bot.send_message(chat, text, reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))
