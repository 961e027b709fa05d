"""A staff chat per centre, bound from the bot: nobody types a chat id.

When someone adds the bot to a group, or sends /staffchat there, and they are a
programme admin or a centre manager, the bot offers the binding in the group itself:
one button per centre they manage. The button is pressed in the group, so the chat id
is the group's own (shown in the reply); the presser's centres are checked again.
The bot removed from a group unbinds it: its centres fall back to STAFF_CHAT_ID.
The Team section lists every centre's chat and can unbind one.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from aiogram import Bot, F
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import (
    IS_MEMBER,
    IS_NOT_MEMBER,
    ChatMemberUpdatedFilter,
    Command,
)
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.config import Settings
from bot.i18n import BoundTranslator, Translator, escape
from bot.roles import RoleFilter, scope_of
from bot.routing import FeatureRouter
from bot.staff_callbacks import TeamAction, TeamCB
from bot.telegram_utils import show
from db.dto import CentreDTO, StaffScope, UserDTO
from db.repo import Repos
from handlers.staff.common import StaffTraffic, alert, home_button, stale
from handlers.staff.scope import centre_label, centres_in_scope

log = logging.getLogger(__name__)
GROUP_TYPES = frozenset({"group", "supergroup"})


class ChatsAction(StrEnum):
    list = "l"  # the centres and their chats (private chat)
    bind = "b"  # bind the group this button is in (pressed in the group)
    unbind = "u"  # ask
    unbind_yes = "uy"


class ChatsCB(CallbackData, prefix="sch"):
    action: ChatsAction
    centre: int = 0


router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(admin_only=True, managers=True))
router.callback_query.filter(StaffTraffic(), RoleFilter(admin_only=True, managers=True))


def chats_button(text: str, action: ChatsAction, centre: int = 0) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text[:64], callback_data=ChatsCB(action=action, centre=centre).pack()
    )


async def manageable(repo: Repos, scope: StaffScope) -> list[CentreDTO]:
    """The centres whose staff chat this person may bind: all for a programme admin,
    the managed ones for a centre manager."""
    return [c for c in await centres_in_scope(repo, scope) if scope.manages(c.id)]


async def offer_markup(
    t: BoundTranslator, repo: Repos, scope: StaffScope, chat_id: int
) -> InlineKeyboardMarkup | None:
    centres = await manageable(repo, scope)
    if not centres:
        return None
    bound = {c.centre_id: c.chat_id for c in await repo.centres.chats()}
    rows = [
        [
            chats_button(
                ("✅ " if bound.get(c.id) == chat_id else "") + centre_label(t, c),
                ChatsAction.bind,
                c.id,
            )
        ]
        for c in centres
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def send_offer(
    bot: Bot, t: BoundTranslator, repo: Repos, scope: StaffScope, chat_id: int, title: str
) -> None:
    markup = await offer_markup(t, repo, scope, chat_id)
    if markup is None:
        return
    try:
        await bot.send_message(
            chat_id, t("centres-chat-offer", title=title, chat_id=chat_id), reply_markup=markup
        )
    except TelegramAPIError as exc:
        log.info("staff chat offer not sent to chat %s: %s", chat_id, exc)


# ---- the bot added to or removed from a group -------------------------------------------


@router.my_chat_member(ChatMemberUpdatedFilter(IS_NOT_MEMBER >> IS_MEMBER))
async def bot_added(
    event: ChatMemberUpdated,
    bot: Bot,
    repo: Repos,
    settings: Settings,
    translator: Translator,
) -> None:
    """Added to a group by a programme admin or a centre manager: offer the binding."""
    if event.chat.type not in GROUP_TYPES:
        return
    adder = await repo.users.with_scope(event.from_user.id)
    scope = scope_of(adder, settings)
    if adder is None or scope is None or not (scope.is_admin or scope.is_manager):
        return
    t = translator.bind(translator.resolve_locale(adder.locale, adder.language_code))
    await send_offer(bot, t, repo, scope, event.chat.id, event.chat.title or "")


@router.my_chat_member(ChatMemberUpdatedFilter(IS_MEMBER >> IS_NOT_MEMBER))
async def bot_removed(event: ChatMemberUpdated, repo: Repos) -> None:
    """Removed from a group: it is no longer any centre's staff chat."""
    if event.chat.type in GROUP_TYPES:
        centres = await repo.centres.forget_chat(event.chat.id)
        if centres:
            log.info("chat %s unbound from centres %s: the bot left it", event.chat.id, centres)


# ---- in the group: /staffchat and the binding buttons --------------------------------------


@router.message(Command("staffchat"))
async def staffchat_command(
    message: Message, t: BoundTranslator, repo: Repos, bot: Bot, scope: StaffScope
) -> None:
    if message.chat.type not in GROUP_TYPES:
        await message.answer(t("centres-chat-in-group"))
        return
    await send_offer(bot, t, repo, scope, message.chat.id, message.chat.title or "")


@router.callback_query(ChatsCB.filter(F.action == ChatsAction.bind))
async def on_bind(
    callback: CallbackQuery,
    callback_data: ChatsCB,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    message = callback.message
    centre = await repo.catalogue.centre(callback_data.centre) if callback_data.centre else None
    if (
        centre is None
        or not scope.manages(centre.id)
        or not isinstance(message, Message)
        or message.chat.type not in GROUP_TYPES
    ):
        stale(t, callback_answer)
        return
    chat = message.chat
    await repo.centres.bind_chat(user.id, centre.id, chat.id, chat.title)
    callback_answer.text = t.plain("centres-chat-bound-toast", centre=t.pick(centre.city))
    markup = await offer_markup(t, repo, scope, chat.id)
    text = t(
        "centres-chat-bound",
        centre=t.pick(centre.name),
        title=chat.title or "",
        chat_id=chat.id,
    )
    await show(callback, text, markup)


# ---- in private: the list of centres and their chats -----------------------------------


async def chats_view(
    t: BoundTranslator, repo: Repos, settings: Settings, scope: StaffScope
) -> tuple[str, InlineKeyboardMarkup]:
    centres = await manageable(repo, scope)
    bound = {c.centre_id: c for c in await repo.centres.chats()}
    fallback = (
        t.plain("centres-chat-fallback", chat_id=settings.staff_chat_id)
        if settings.staff_chat_id is not None
        else t.plain("centres-chat-none")
    )
    lines = [t("centres-chats-header")]
    rows = []
    for c in centres:
        chat = bound.get(c.id)
        where = (
            t.plain("centres-chat-line-bound", title=chat.title or "—", chat_id=chat.chat_id)
            if chat
            else fallback
        )
        lines.append(f"• {escape(t.pick(c.name))} → {escape(where)}")
        if chat:
            rows.append(
                [
                    chats_button(
                        t.plain("centres-btn-unbind", centre=t.pick(c.city)),
                        ChatsAction.unbind,
                        c.id,
                    )
                ]
            )
    lines.append(t("centres-chats-how"))
    rows.append(
        [
            InlineKeyboardButton(
                text=t.plain("btn-back"), callback_data=TeamCB(action=TeamAction.list).pack()
            ),
            home_button(t),
        ]
    )
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(ChatsCB.filter(F.action == ChatsAction.list))
async def on_list(
    callback: CallbackQuery,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    scope: StaffScope,
) -> None:
    await show(callback, *await chats_view(t, repo, settings, scope))


@router.callback_query(ChatsCB.filter(F.action == ChatsAction.unbind))
async def on_unbind(
    callback: CallbackQuery,
    callback_data: ChatsCB,
    t: BoundTranslator,
    repo: Repos,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    centre = await repo.catalogue.centre(callback_data.centre) if callback_data.centre else None
    chat = await repo.centres.chat_of(centre.id) if centre else None
    if centre is None or chat is None or not scope.manages(centre.id):
        stale(t, callback_answer)
        return
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                chats_button(t.plain("centres-btn-unbind-yes"), ChatsAction.unbind_yes, centre.id),
                chats_button(t.plain("btn-back"), ChatsAction.list),
            ]
        ]
    )
    text = t("centres-unbind-ask", centre=t.pick(centre.name), title=chat.title or "—")
    await show(callback, text, markup)


@router.callback_query(ChatsCB.filter(F.action == ChatsAction.unbind_yes))
async def on_unbind_yes(
    callback: CallbackQuery,
    callback_data: ChatsCB,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    centre = await repo.catalogue.centre(callback_data.centre) if callback_data.centre else None
    if centre is None or not scope.manages(centre.id):
        stale(t, callback_answer)
        return
    if await repo.centres.unbind_chat(user.id, centre.id) is None:
        alert(callback_answer, t.plain("error-stale-button"))
        return
    callback_answer.text = t.plain("centres-unbound", centre=t.pick(centre.city))
    await show(callback, *await chats_view(t, repo, settings, scope))
