"""The course's extra questions inside the sign-up form (``SignUp.question``), one per
step: choice buttons, several choices with Done, or a typed short text, number or date
(checked like the phone). Optional questions have Skip; Back goes to the previous
question. Everything lives in the form's data (``questions``, ``required``, ``q_index``,
``answers``, ``q_multi``) and each answer is one ``update_data`` call.
"""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.callbacks import SignupAction, SignupCB
from bot.filters import HasText
from bot.i18n import BoundTranslator
from bot.routing import FeatureRouter
from bot.services.outcomes.answers import AnswerError, check_choice, check_multi, check_typed, shown
from bot.telegram_utils import show
from db.dto_outcomes import QuestionDTO
from db.repo import Repos
from handlers.signup.extra_views import current_question, multi_rows
from handlers.signup.questions import ask_next
from handlers.signup.steps import SignUp

router = FeatureRouter(__name__)


async def _store(
    state: FSMContext,
    data: dict[str, Any],
    q: QuestionDTO,
    value: str | None,
    message: Message,
    t: BoundTranslator,
    repo: Repos,
    *,
    lead: str | None = None,
    pressed: CallbackQuery | None = None,
) -> None:
    """Keep (or, for a skipped optional question, drop) the answer; go on (a pressed
    button's message becomes the next question, the answer on top)."""
    answers = dict(data.get("answers") or {})
    if value is None or value == "":
        answers.pop(str(q.id), None)
    else:
        answers[str(q.id)] = value
    await state.update_data(answers=answers, q_multi=[])
    await ask_next(state, SignUp.question, message, t, repo, lead=lead, pressed=pressed)


async def _store_pressed(
    callback: CallbackQuery,
    state: FSMContext,
    data: dict[str, Any],
    q: QuestionDTO,
    value: str | None,
    shown_value: str,
    t: BoundTranslator,
    repo: Repos,
) -> None:
    """An answer given with a button: "question: answer" on top of the next question."""
    chosen = f"✓ {escape(t.pick(q.text))}: {shown_value}"
    if isinstance(callback.message, Message):
        await _store(
            state, data, q, value, callback.message, t, repo, lead=chosen, pressed=callback
        )
    else:
        await show(callback, chosen)


@router.callback_query(
    StateFilter(SignUp.question), SignupCB.filter(F.action == SignupAction.q_option)
)
async def pick_option(
    callback: CallbackQuery,
    callback_data: SignupCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    data = await state.get_data()
    q = await current_question(data, repo)
    if q is None or q.kind != "choice" or not 0 <= callback_data.value < len(q.options):
        callback_answer.text = t.plain("error-stale-button")
        return
    option = q.options[callback_data.value]
    value = check_choice(q, option.code)
    await _store_pressed(
        callback, state, data, q, value, f"<b>{escape(t.pick(option.text))}</b>", t, repo
    )


@router.callback_query(
    StateFilter(SignUp.question), SignupCB.filter(F.action == SignupAction.q_toggle)
)
async def toggle_option(
    callback: CallbackQuery,
    callback_data: SignupCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    data = await state.get_data()
    q = await current_question(data, repo)
    if q is None or q.kind != "multi" or not 0 <= callback_data.value < len(q.options):
        callback_answer.text = t.plain("error-stale-button")
        return
    chosen = set(data.get("q_multi") or [])
    chosen ^= {q.options[callback_data.value].code}
    await state.update_data(q_multi=sorted(chosen))
    if isinstance(callback.message, Message):
        rows = multi_rows(q, chosen, t)
        await callback.message.edit_reply_markup(
            reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
        )


@router.callback_query(
    StateFilter(SignUp.question), SignupCB.filter(F.action == SignupAction.q_done)
)
async def multi_done(
    callback: CallbackQuery,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    data = await state.get_data()
    q = await current_question(data, repo)
    if q is None or q.kind != "multi":
        callback_answer.text = t.plain("error-stale-button")
        return
    try:
        value = check_multi(q, data.get("q_multi") or [])
    except AnswerError as exc:
        callback_answer.text = t.plain(exc.key, **exc.params)
        callback_answer.show_alert = True
        return
    shown_value = f"<b>{escape(shown(q, value, t.locale))}</b>"
    await _store_pressed(callback, state, data, q, value, shown_value, t, repo)


@router.callback_query(
    StateFilter(SignUp.question), SignupCB.filter(F.action == SignupAction.q_skip)
)
async def skip_question(
    callback: CallbackQuery,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    data = await state.get_data()
    q = await current_question(data, repo)
    if q is None or q.required:
        callback_answer.text = t.plain("error-stale-button")
        return
    await _store_pressed(callback, state, data, q, None, "—", t, repo)


@router.message(StateFilter(SignUp.question), HasText())
async def typed_answer(
    message: Message, state: FSMContext, t: BoundTranslator, repo: Repos
) -> None:
    data = await state.get_data()
    q = await current_question(data, repo)
    if q is None:
        await message.answer(t("error-stale-button"))
        return
    try:
        value = check_typed(q, message.text or "")
    except AnswerError as exc:
        await message.answer(t(exc.key, **exc.params))
        return
    await _store(state, data, q, value, message, t, repo)
