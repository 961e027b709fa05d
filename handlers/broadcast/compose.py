"""Entering the wizard and receiving the message to send."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
)

from bot.broadcast_content import freeze
from bot.config import Settings
from bot.i18n import BoundTranslator
from bot.routing import FeatureRouter
from bot.staff_menu import StaffMenuCB, StaffSection
from bot.telegram_utils import show
from db.dto import Audience, StaffScope, UserDTO
from db.repo import Repos
from handlers.broadcast.base import (
    DRAFT_KINDS,
    BcAction,
    BcCB,
    BroadcastForm,
    bc_button,
    load_draft,
    scoped,
)
from handlers.broadcast.views import audience_view
from handlers.staff.common import home_button

router = FeatureRouter(__name__)

# ---- entering, composing -----------------------------------------------------------------


async def ask_message(t: BoundTranslator, repo: Repos) -> tuple[str, InlineKeyboardMarkup]:
    scheduled = len(await repo.broadcasts.scheduled())
    rows = [
        [bc_button(t.plain("broadcast-btn-scheduled", count=scheduled), BcAction.list)],
        [bc_button(t.plain("broadcast-btn-quit"), BcAction.quit)],
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
    scope: StaffScope,
) -> None:
    """The message to send; sent again while choosing the audience, it replaces the draft
    (the filters chosen stay). An album is refused once (copyMessage copies one item)."""
    if message.media_group_id is not None:
        if (await state.get_data()).get("album") != message.media_group_id:
            await state.update_data(album=message.media_group_id)
            await message.answer(t("broadcast-album"))
        return
    kind = message.content_type
    content = freeze(message) if kind in DRAFT_KINDS else None
    if content is None or (message.text or "").startswith("/"):
        await message.answer(t("broadcast-unsupported"))
        return
    found = (
        await load_draft(state, scope, repo)
        if await state.get_state() == BroadcastForm.audience.state
        else None
    )
    audience = found[1] if found is not None else scoped(Audience(), scope)
    await state.set_state(BroadcastForm.audience)
    # The content is frozen now: editing the message later changes nothing that is sent.
    await state.set_data(
        {
            "draft": [message.chat.id, message.message_id],
            "content": content,
            "aud": audience.to_json(),
        }
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
