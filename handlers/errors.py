"""Last line of defence: log the failure (ids only) and tell the user in their language."""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent

from bot.i18n import BoundTranslator, Translator
from bot.routing import FeatureRouter

log = logging.getLogger(__name__)
router = FeatureRouter(__name__)


@router.errors()
async def on_error(
    event: ErrorEvent, translator: Translator, t: BoundTranslator | None = None
) -> bool:
    update = event.update
    user_id = None
    chat_id = None
    locale = translator.default_locale
    if update.message is not None:
        chat_id = update.message.chat.id
        if update.message.from_user is not None:
            user_id = update.message.from_user.id
            locale = translator.resolve_locale(None, update.message.from_user.language_code)
    elif update.callback_query is not None:
        user_id = update.callback_query.from_user.id
    log.error(
        "update %s from user %s failed: %s",
        update.update_id,
        user_id,
        type(event.exception).__name__,
        exc_info=(type(event.exception), event.exception, event.exception.__traceback__),
    )
    # Callback failures were already answered with a toast by CallbackAnswerMiddleware.
    if chat_id is not None and update.message is not None and update.message.chat.type == "private":
        try:
            text = t("error-generic") if t is not None else translator.get(locale, "error-generic")
            await update.message.answer(text)
        except TelegramAPIError:
            log.warning("could not report the failure of update %s", update.update_id)
    return True
