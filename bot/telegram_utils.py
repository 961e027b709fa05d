"""Small helpers around Bot API calls that real chats make necessary."""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer

log = logging.getLogger(__name__)
TEXT_LIMIT = 4096


async def show(
    callback: CallbackQuery, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Replace the pressed message's content; send a new message if it cannot be edited."""
    message = callback.message
    if isinstance(message, Message):
        try:
            result = await message.edit_text(text, reply_markup=reply_markup)
            return result if isinstance(result, Message) else message
        except TelegramBadRequest as exc:
            if "message is not modified" in exc.message:
                return message
            log.info("edit failed (%s); sending a new message", exc.message)
    if callback.message is None:
        return None
    return await callback.bot.send_message(  # type: ignore[union-attr]
        callback.message.chat.id, text, reply_markup=reply_markup
    )


async def answer_first(
    callback: CallbackQuery, callback_answer: CallbackAnswer, text: str | None = None
) -> None:
    """Answer the press now, so the spinner stops, before a slow part (a chart, a post to
    the staff chat). CallbackAnswerMiddleware then leaves it alone: answered exactly once."""
    if callback_answer.disabled:
        return
    callback_answer.disable()
    try:
        await callback.answer(text=text)
    except TelegramAPIError:
        log.warning("answerCallbackQuery failed for user %s", callback.from_user.id)


async def drop_keyboard(callback: CallbackQuery) -> None:
    """Remove the inline keyboard from the pressed message (a choice has been made)."""
    message = callback.message
    if isinstance(message, Message) and message.reply_markup is not None:
        try:
            await message.edit_reply_markup(reply_markup=None)
        except TelegramBadRequest as exc:
            log.info("could not drop keyboard: %s", exc.message)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split HTML text on line boundaries into chunks Telegram accepts.

    Lines are never cut, so tags opened on a line are closed on it (our catalogues keep
    tags within one line).
    """
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for raw_line in text.split("\n"):
        line = raw_line
        while len(line) > limit:
            if current:
                chunks.append("\n".join(current))
                current, size = [], 0
            chunks.append(line[:limit])
            line = line[limit:]
        extra = len(line) + (1 if current else 0)
        if size + extra > limit:
            chunks.append("\n".join(current))
            current, size = [line], len(line)
        else:
            current.append(line)
            size += extra
    if current:
        chunks.append("\n".join(current))
    return chunks
