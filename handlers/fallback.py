"""The catch-all, registered last: nothing a user sends goes unanswered."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.config import Settings
from bot.filters import TextKey
from bot.i18n import BoundTranslator
from bot.navigation import send_main_menu
from bot.routing import FeatureRouter
from db.repo import Repos

router = FeatureRouter(__name__)


@router.message(TextKey("btn-back", "btn-cancel"))
async def stale_form_button(
    message: Message, t: BoundTranslator, repo: Repos, settings: Settings
) -> None:
    """Back or Cancel of a form that is no longer open (finished elsewhere, erased, expired):
    the user wanted out, so they get the main menu, not "I didn't understand"."""
    if message.chat.type != "private":
        return
    await send_main_menu(message, t, repo, settings, "menu-main")


@router.message()
async def unknown_message(
    message: Message, t: BoundTranslator, repo: Repos, settings: Settings
) -> None:
    if message.chat.type != "private":
        return  # never chat in the staff group or other groups
    await send_main_menu(message, t, repo, settings, "fallback-unknown")


@router.callback_query()
async def unknown_callback(
    callback: CallbackQuery, t: BoundTranslator, callback_answer: CallbackAnswer
) -> None:
    """A stale button (from an old message or a finished form) or forged data.

    The answer itself is sent once by CallbackAnswerMiddleware; answering here as well
    would be a second answerCallbackQuery, which Telegram rejects.
    """
    callback_answer.text = t.plain("error-stale-button")
    callback_answer.show_alert = True
