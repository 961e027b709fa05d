"""Async filters for hot paths (sync callables would run in a worker thread)."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import Message

from bot.i18n import BoundTranslator


class TextKey(Filter):
    """Matches a reply-keyboard button by its text in any of the four languages."""

    def __init__(self, *keys: str) -> None:
        self.keys = keys

    async def __call__(self, message: Message, t: BoundTranslator, **_: Any) -> bool:
        text = message.text
        if not text:
            return False
        return any(text in t.translator.variants(key) for key in self.keys)


class HasText(Filter):
    """A text message that is not a command."""

    async def __call__(self, message: Message, **_: Any) -> bool:
        return bool(message.text) and not message.text.startswith("/")  # type: ignore[union-attr]


class PrivateChat(Filter):
    """Citizen features work in private chats only (never answer in the staff group)."""

    async def __call__(self, event: Message | Any, **_: Any) -> bool:
        message = event if isinstance(event, Message) else getattr(event, "message", None)
        return message is not None and message.chat.type == "private"


class HasContact(Filter):
    async def __call__(self, message: Message, **_: Any) -> bool:
        return message.contact is not None
