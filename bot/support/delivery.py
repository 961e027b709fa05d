"""Staff answers go to the citizen through the outbox (they survive 429s and restarts),
marked as from the centre; an answer that cannot be delivered is reported to the staff
member who wrote it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import CopyMessage
from aiogram.types import Message, ReplyParameters

from bot.config import Settings
from bot.i18n import BoundTranslator, Translator
from bot.outbox import Rendered
from bot.support.cards import person_name
from bot.support.service import content_kind
from db.dto import DeliveryResult, NewDelivery, UserDTO
from db.repo import Repos

log = logging.getLogger(__name__)

KIND = "reply"  # deliveries.kind and the payload type
CAPTIONABLE = frozenset({"photo", "video", "document", "audio", "voice", "animation"})
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
HEADER_ROOM = 200  # the "from the centre" line, generously


def reply_rows(
    message: Message, conversation_id: int, user_id: int, centre: Mapping[str, str], staff_id: int
) -> list[NewDelivery]:
    """The deliveries of one staff answer: one message when the "from the centre" line
    fits with it (text, or a caption), else that line and then a copy of the answer."""
    kind = content_kind(message)
    base: dict[str, Any] = {
        "type": KIND,
        "centre": dict(centre),
        "conversation_id": conversation_id,
        "from_chat_id": message.chat.id,
        "message_id": message.message_id,
        "staff_chat_id": message.chat.id,
        "staff_message_id": message.message_id,
        "staff_id": staff_id,
    }
    key = f"{KIND}:{message.chat.id}:{message.message_id}"
    html = message.html_text if (message.text or message.caption) else ""
    if kind == "text" and len(html) + HEADER_ROOM <= TEXT_LIMIT:
        parts = [{**base, "part": "text", "html": html}]
    elif kind in CAPTIONABLE and len(html) + HEADER_ROOM <= CAPTION_LIMIT:
        parts = [{**base, "part": "caption", "html": html}]
    else:
        parts = [{**base, "part": "header"}, {**base, "part": "copy"}]
    return [
        NewDelivery(kind=KIND, dedupe_key=f"{key}:{n}", user_id=user_id, payload=payload)
        for n, payload in enumerate(parts)
    ]


async def render_reply(
    payload: Mapping[str, Any], user: UserDTO, t: BoundTranslator
) -> Rendered | None:
    header = t("support-reply-header", centre=t.pick(payload.get("centre") or {}))
    part = payload.get("part")
    source = (int(payload["from_chat_id"]), int(payload["message_id"]))
    if part == "text":
        return Rendered(text=f"{header}\n\n{payload.get('html') or ''}")
    if part == "caption":
        html = payload.get("html") or ""
        return Rendered(
            method=CopyMessage(
                chat_id=user.id,
                from_chat_id=source[0],
                message_id=source[1],
                caption=f"{header}\n\n{html}" if html else header,
                parse_mode=ParseMode.HTML,
            )
        )
    if part == "header":
        return Rendered(text=header)
    return Rendered(copy_from=source)


class ReplyOutcomes:
    """The outbox's outcome listener for answers: tells the staff member when an answer
    was not delivered (the person blocked the bot, or Telegram refused it)."""

    def __init__(self, bot: Bot, repo: Repos, translator: Translator, settings: Settings) -> None:
        self.bot = bot
        self.repo = repo
        self.translator = translator
        self.settings = settings

    async def __call__(self, results: list[DeliveryResult]) -> None:
        failed = {r.id: r for r in results if r.status in ("blocked", "failed")}
        if not failed:
            return
        told: set[tuple[int, int]] = set()
        t = self.translator.bind(self.settings.default_locale)
        payloads = await self.repo.conversations.reply_payloads(list(failed))
        for payload in payloads:
            where = (int(payload["staff_chat_id"]), int(payload["staff_message_id"]))
            if where in told:
                continue
            told.add(where)
            await self.tell(t, payload, where)

    async def tell(
        self, t: BoundTranslator, payload: Mapping[str, Any], where: tuple[int, int]
    ) -> None:
        conversation = await self.repo.conversations.get(int(payload["conversation_id"]))
        user = await self.repo.users.get(conversation.user_id) if conversation else None
        apps = await self.repo.applications.for_user(user.id) if user else []
        name = person_name(user, user.id, apps[0].full_name if apps else None) if user else "—"
        key = (
            "support-reply-blocked"
            if user is None or not user.is_active
            else "support-reply-failed"
        )
        try:
            await self.bot.send_message(
                where[0],
                t(key, name=name),
                reply_parameters=ReplyParameters(
                    message_id=where[1], allow_sending_without_reply=True
                ),
            )
        except TelegramAPIError as exc:
            log.warning("could not report an undelivered answer in chat %s: %s", where[0], exc)
