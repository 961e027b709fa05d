"""Anything else inside the form: say what kind of answer is expected."""

from __future__ import annotations

import contextlib

from aiogram.exceptions import TelegramAPIError
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    Message,
)

from bot.i18n import BoundTranslator
from bot.routing import FeatureRouter
from db.repo import Repos
from handlers.signup.questions import ask
from handlers.signup.steps import SignUp

router = FeatureRouter(__name__)

# ---- anything else inside the form ----------------------------------------------------


@router.message(StateFilter(SignUp.name))
@router.message(StateFilter(SignUp.phone))
async def wrong_kind_of_answer(
    message: Message, state: FSMContext, t: BoundTranslator, repo: Repos
) -> None:
    """A photo, sticker, voice or unknown command where text was expected."""
    current = await state.get_state()
    key = "signup-expect-name" if current == SignUp.name.state else "signup-expect-phone"
    await message.answer(t(key))


@router.message(StateFilter(SignUp))
async def expected_button(
    message: Message, state: FSMContext, t: BoundTranslator, repo: Repos
) -> None:
    """Text or media where one of the buttons was expected: say so and ask again. The
    earlier copy of the question loses its buttons, so only the latest one answers: it is
    the bot's message just before this one (the question, or the copy asked last time)."""
    with contextlib.suppress(TelegramAPIError):  # not ours, or no buttons left: fine
        await message.bot.edit_message_reply_markup(  # type: ignore[union-attr]
            chat_id=message.chat.id, message_id=message.message_id - 1, reply_markup=None
        )
    await message.answer(t("signup-use-buttons"))
    current = await state.get_state()
    step = next((s for s in SignUp.__states__ if s.state == current), SignUp.confirm)
    await ask(step, state, message, t, repo)
