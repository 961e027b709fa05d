"""Leaving a form by a menu button or a command: the form ends, the main menu returns."""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot.config import Settings
from bot.i18n import BoundTranslator
from bot.keyboards import main_menu
from bot.roles import role_of
from db.repo import Repos


async def send_main_menu(
    message: Message,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    key: str = "menu-main",
) -> None:
    staff = await role_of(repo, settings, message.chat.id) is not None
    await message.answer(t(key), reply_markup=main_menu(t, staff=staff))


async def leave_form(
    message: Message, state: FSMContext, t: BoundTranslator, repo: Repos, settings: Settings
) -> bool:
    """End any form in progress; if there was one, say so and bring back the main menu.

    Returns whether a form was open (the caller then goes on to where the user wanted).
    """
    if await state.get_state() is None:
        await state.clear()
        return False
    await state.clear()
    await send_main_menu(message, t, repo, settings, "form-cancelled")
    return True
