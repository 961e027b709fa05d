"""The catch-all, registered last: nothing a user sends goes unanswered."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.config import Settings
from bot.filters import TextKey
from bot.i18n import BoundTranslator
from bot.keyboards import language_picker
from bot.navigation import send_main_menu
from bot.routing import FeatureRouter
from db.dto import UserDTO
from db.repo import Repos

router = FeatureRouter(__name__)


async def _ask_language_first(message: Message, t: BoundTranslator) -> None:
    """A newcomer who has not chosen a language yet has no menu yet: "use the buttons
    below" gets the language picker below it (Telegram's language pre-selected)."""
    await message.answer(t("fallback-unknown"), reply_markup=language_picker(t.locale))


@router.message(TextKey("btn-back", "btn-cancel"))
async def stale_form_button(
    message: Message,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    user: UserDTO | None = None,
) -> None:
    """Back or Cancel of a form that is no longer open (finished elsewhere, erased, expired):
    the user wanted out, so they get the main menu, not "I didn't understand"."""
    if message.chat.type != "private":
        return
    if user is not None and user.locale is None:
        await _ask_language_first(message, t)
        return
    await send_main_menu(message, t, repo, settings, "menu-main")


@router.message()
async def unknown_message(
    message: Message,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    user: UserDTO | None = None,
) -> None:
    if message.chat.type != "private":
        return  # never chat in the staff group or other groups
    if user is not None and user.locale is None:
        await _ask_language_first(message, t)
        return
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
