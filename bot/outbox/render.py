"""What the outbox sends: a renderer per payload ``type`` turns a ``deliveries`` row into
one recipient's message, in their language, at send time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiogram.methods import TelegramMethod
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.formatting import fmt_date, fmt_datetime, fmt_time
from bot.i18n import BoundTranslator, Html
from db.dto import UserDTO


@dataclass(frozen=True, slots=True)
class Rendered:
    """One recipient's message: HTML ``text``, a copy of ``copy_from`` (chat id, message
    id), or any ready Bot API ``method`` (its chat_id set by the renderer)."""

    text: str | None = None
    copy_from: tuple[int, int] | None = None
    reply_markup: InlineKeyboardMarkup | None = None
    method: TelegramMethod[Any] | None = None


Renderer = Callable[[Mapping[str, Any], UserDTO, BoundTranslator], Awaitable[Rendered | None]]
_RENDERERS: dict[str, Renderer] = {}


def register_renderer(kind: str, renderer: Renderer) -> None:
    """Teach every outbox a payload ``type``: ``async renderer(payload, user, t)`` returns
    what to send to that user (``t`` speaks their language), or None to skip them."""
    _RENDERERS[kind] = renderer


async def render_copy(
    payload: Mapping[str, Any], user: UserDTO, t: BoundTranslator
) -> Rendered | None:
    """``{"type": "copy", "from_chat_id": …, "message_id": …}``: copyMessage, so the
    recipient sees exactly what staff wrote (text, formatting, media, caption)."""
    return Rendered(copy_from=(int(payload["from_chat_id"]), int(payload["message_id"])))


def render_param(value: Any, t: BoundTranslator) -> Any:
    """A ``text`` payload parameter in the recipient's language. JSON has no dates or
    per-language texts, so those are objects: ``{"pick": {"kk": …, "ru": …}}`` (catalogue
    data), ``{"datetime": iso, "tz": zone}``, ``{"time": iso, "tz": zone}``,
    ``{"date": iso}``, ``{"key": …, "params": {…}}`` (another message, as HTML)."""
    if not isinstance(value, dict):
        return value
    if "pick" in value:
        return t.pick(value["pick"])
    if "datetime" in value:
        return fmt_datetime(datetime.fromisoformat(value["datetime"]), value["tz"], t.locale)
    if "time" in value:
        return fmt_time(datetime.fromisoformat(value["time"]), value["tz"], t.locale)
    if "date" in value:
        return fmt_date(datetime.fromisoformat(value["date"]).date(), t.locale)
    if "key" in value:
        return Html(t(value["key"], **render_params(value.get("params"), t)))
    raise ValueError(f"unknown parameter object {sorted(value)}")


def render_params(params: Any, t: BoundTranslator) -> dict[str, Any]:
    if not isinstance(params, dict):
        return {}
    return {name: render_param(value, t) for name, value in params.items()}


def render_buttons(rows: Any, t: BoundTranslator) -> InlineKeyboardMarkup | None:
    """``[[{"key": …, "params"?: …, "callback_data" | "url": …}, …], …]``."""
    if not rows:
        return None
    keyboard = [
        [
            InlineKeyboardButton(
                text=t.plain(b["key"], **render_params(b.get("params"), t)),
                callback_data=b.get("callback_data"),
                url=b.get("url"),
            )
            for b in row
        ]
        for row in rows
    ]
    return InlineKeyboardMarkup(inline_keyboard=keyboard)


async def render_text(
    payload: Mapping[str, Any], user: UserDTO, t: BoundTranslator
) -> Rendered | None:
    """``{"type": "text", "key": …, "params": {…}, "blocks"?: [{"key", "params"}, …],
    "buttons"?: […]}``: the message and its blocks, a blank line apart."""
    parts = [{"key": payload["key"], "params": payload.get("params")}, *payload.get("blocks", [])]
    text = "\n\n".join(t(part["key"], **render_params(part.get("params"), t)) for part in parts)
    return Rendered(text=text, reply_markup=render_buttons(payload.get("buttons"), t))


def chat_recipient(chat_id: int, now: datetime) -> UserDTO:
    """A row for a group chat (``"to_chat": true`` in its payload, e.g. a staff-chat card;
    ``user_id`` is the chat's id): no person behind it, so no users row. It is rendered in
    the default language and paced like any chat; a 403 marks no one inactive."""
    return UserDTO(
        id=chat_id,
        locale=None,
        language_code=None,
        first_name=None,
        username=None,
        is_active=True,
        reminders_enabled=False,
        source=None,
        consent_at=None,
        created_at=now,
    )


register_renderer("copy", render_copy)
register_renderer("text", render_text)
