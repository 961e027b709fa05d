"""A citizen's message into a conversation: the flood limit, the record, the staff-chat
card and the copy of the message under it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import Message, ReplyParameters

from bot.config import Settings
from bot.i18n import Translator
from bot.support.cards import card_markup, card_text
from bot.support.scope import staff_chats_of
from db.repo import Repos
from db.repo.conversations import ConversationDTO

log = logging.getLogger(__name__)

FLOOD_WINDOW = timedelta(hours=1)
# What a citizen may send to staff (a location, a contact or a poll is not a question).
QUESTION_KINDS = frozenset(
    {"text", "photo", "voice", "video", "document", "sticker", "video_note", "audio", "animation"}
)


def content_kind(message: Message) -> str:
    """text | photo | voice | … (aiogram's ContentType is a str enum: its value)."""
    kind = message.content_type
    return str(getattr(kind, "value", kind))


@dataclass(frozen=True, slots=True)
class Incoming:
    """The citizen's message as the service needs it (no aiogram object kept)."""

    chat_id: int
    message_id: int
    kind: str
    text: str | None


async def flood_wait(
    repo: Repos, settings: Settings, conversation: ConversationDTO | None, now: datetime
) -> datetime | None:
    """None if the person may write to this conversation now; else when they may again."""
    if conversation is None:
        return None
    limit = settings.support_messages_per_hour
    recent = await repo.conversations.incoming_since(conversation.id, now - FLOOD_WINDOW)
    if len(recent) < limit:
        return None
    return recent[len(recent) - limit] + FLOOD_WINDOW


async def record_incoming(
    bot: Bot,
    settings: Settings,
    translator: Translator,
    repo: Repos,
    user_id: int,
    centre_id: int,
    message: Incoming,
    now: datetime,
) -> ConversationDTO:
    """Attach the message to the person's open conversation with the centre (a new one if
    there is none), then show it to the centre's staff. The database row comes first: a
    staff chat that cannot be reached loses nothing (the inbox lists it)."""
    conversation = await repo.conversations.start(user_id, centre_id, now)
    row_id = await repo.conversations.add_message(
        conversation.id,
        "in",
        now=now,
        author_id=user_id,
        kind=message.kind,
        text=message.text,
        source=(message.chat_id, message.message_id),
    )
    fresh = await repo.conversations.get(conversation.id)
    assert fresh is not None
    await post_to_staff(bot, settings, translator, repo, fresh, message, row_id)
    return fresh


async def post_to_staff(
    bot: Bot,
    settings: Settings,
    translator: Translator,
    repo: Repos,
    conversation: ConversationDTO,
    message: Incoming,
    row_id: int,
    *,
    redraw: bool = True,
) -> None:
    chats = await staff_chats_of(repo, settings, conversation.centre_id)
    if not chats:
        return
    chat_id = chats[0]
    t = translator.bind(settings.default_locale)
    try:
        card_id = await ensure_card(
            bot, settings, translator, repo, conversation, chat_id, redraw=redraw
        )
    except TelegramAPIError as exc:
        log.warning("conversation %s: card not posted: %s", conversation.id, exc)
        return
    reply = ReplyParameters(message_id=card_id, allow_sending_without_reply=True)
    try:
        copy = await bot.copy_message(
            chat_id, message.chat_id, message.message_id, reply_parameters=reply
        )
        await repo.conversations.link_staff_message(row_id, chat_id, copy.message_id)
    except TelegramBadRequest as exc:
        # e.g. a kind of message Telegram cannot copy: staff are told what to ask for.
        log.info("conversation %s: message not copied: %s", conversation.id, exc.message)
        try:
            note = await bot.send_message(
                chat_id,
                t("support-not-copied", kind=message.kind),
                reply_parameters=reply,
            )
            await repo.conversations.link_staff_message(row_id, chat_id, note.message_id)
        except TelegramAPIError as exc2:
            log.warning("conversation %s: note not posted: %s", conversation.id, exc2)
    except TelegramAPIError as exc:
        log.warning("conversation %s: message not copied: %s", conversation.id, exc)


async def ensure_card(
    bot: Bot,
    settings: Settings,
    translator: Translator,
    repo: Repos,
    conversation: ConversationDTO,
    chat_id: int,
    *,
    redraw: bool = True,
) -> int:
    """The conversation's card in the staff chat: posted once, then kept up to date."""
    if conversation.card_message_id is not None and conversation.staff_chat_id == chat_id:
        if redraw:
            await refresh_card(bot, settings, translator, repo, conversation)
        return conversation.card_message_id
    t = translator.bind(settings.default_locale)
    text = await card_text(t, repo, conversation)
    markup = card_markup(t, conversation)
    sent = await bot.send_message(chat_id, text, reply_markup=markup)
    await repo.conversations.set_card(conversation.id, chat_id, sent.message_id)
    return sent.message_id


async def refresh_card(
    bot: Bot,
    settings: Settings,
    translator: Translator,
    repo: Repos,
    conversation: ConversationDTO,
) -> None:
    """Redraw the card (answered by whom and when, closed, reopened); never raises."""
    if conversation.card_message_id is None or conversation.staff_chat_id is None:
        return
    t = translator.bind(settings.default_locale)
    try:
        await bot.edit_message_text(
            text=await card_text(t, repo, conversation),
            chat_id=conversation.staff_chat_id,
            message_id=conversation.card_message_id,
            reply_markup=card_markup(t, conversation),
        )
    except TelegramBadRequest as exc:
        if "not modified" not in exc.message:
            log.info("conversation %s: card not redrawn: %s", conversation.id, exc.message)
    except TelegramAPIError as exc:
        log.warning("conversation %s: card not redrawn: %s", conversation.id, exc)
