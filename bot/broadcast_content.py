"""An announcement's content, frozen when staff hand it to the bot.

Telegram lets the author edit their own message after sending it, so a broadcast that
copied that message at send time (copyMessage) would send whatever it says by then — a
removed staff member could rewrite a scheduled announcement. Instead the text with its
entities, or the file id with the caption and its entities, is kept (in the form, then in
``broadcasts.content``) and sent with sendMessage / sendPhoto / …: the preview and every
recipient get exactly that.
"""

from __future__ import annotations

from typing import Any

from aiogram.methods import (
    SendAnimation,
    SendAudio,
    SendDocument,
    SendMessage,
    SendPhoto,
    SendVideo,
    SendVoice,
    TelegramMethod,
)
from aiogram.types import InlineKeyboardMarkup, Message, MessageEntity

MEDIA_KINDS = ("photo", "video", "document", "animation", "audio", "voice")


def _entities(entities: list[MessageEntity] | None) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json", exclude_none=True) for e in entities or ()]


def freeze(message: Message) -> dict[str, Any] | None:
    """The content of ``message`` as JSON, or None for a kind that cannot be announced."""
    if message.text is not None:
        return {"kind": "text", "text": message.text, "entities": _entities(message.entities)}
    file_id: str | None = None
    if message.photo:
        file_id = message.photo[-1].file_id  # the largest size
    else:
        for kind in MEDIA_KINDS[1:]:
            media = getattr(message, kind, None)
            if media is not None:
                file_id = media.file_id
                break
    if file_id is None:
        return None
    return {
        "kind": message.content_type,
        "file_id": file_id,
        "caption": message.caption,
        "caption_entities": _entities(message.caption_entities),
    }


def _parsed(raw: Any) -> list[MessageEntity] | None:
    if not raw:
        return None
    return [MessageEntity.model_validate(e) for e in raw]


def send_method(
    chat_id: int,
    content: dict[str, Any],
    reply_markup: InlineKeyboardMarkup | None = None,
) -> TelegramMethod[Any]:
    """The request that sends ``content`` to ``chat_id``. No parse mode: the entities say
    the formatting, so nothing in the author's text is read as HTML."""
    kind = content.get("kind")
    if kind == "text":
        return SendMessage(
            chat_id=chat_id,
            text=str(content["text"]),
            entities=_parsed(content.get("entities")),
            parse_mode=None,
            reply_markup=reply_markup,
        )
    common: dict[str, Any] = {
        "chat_id": chat_id,
        "caption": content.get("caption"),
        "caption_entities": _parsed(content.get("caption_entities")),
        "parse_mode": None,
        "reply_markup": reply_markup,
    }
    file_id = str(content["file_id"])
    if kind == "photo":
        return SendPhoto(photo=file_id, **common)
    if kind == "video":
        return SendVideo(video=file_id, **common)
    if kind == "document":
        return SendDocument(document=file_id, **common)
    if kind == "animation":
        return SendAnimation(animation=file_id, **common)
    if kind == "audio":
        return SendAudio(audio=file_id, **common)
    if kind == "voice":
        return SendVoice(voice=file_id, **common)
    raise ValueError(f"unknown broadcast content kind {kind!r}")
