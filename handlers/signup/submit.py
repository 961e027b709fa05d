"""Confirming the summary: the application is saved and staff are told."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import Bot, F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import SignupAction, SignupCB
from bot.clock import Clock
from bot.config import Settings
from bot.i18n import BoundTranslator, Translator
from bot.navigation import send_main_menu
from bot.notify import notify_staff_new_application, reuses_earlier_card, staff_card_delivery
from bot.routing import FeatureRouter
from bot.staff_chats import staff_chats_of
from bot.telegram_utils import answer_first, drop_keyboard, show
from db.dto import ApplicationDTO, UserDTO
from db.repo import Repos
from db.repo.applications import EnrolmentError
from handlers.signup.entry import leave_form
from handlers.signup.questions import ask, summary_text
from handlers.signup.steps import SignUp, first_unanswered, submitted_today

router = FeatureRouter(__name__)


@router.callback_query(
    StateFilter(SignUp.confirm), SignupCB.filter(F.action == SignupAction.confirm)
)
async def confirm(
    callback: CallbackQuery,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    clock: Clock,
    callback_answer: CallbackAnswer,
) -> None:
    message = callback.message
    if not isinstance(message, Message):
        callback_answer.text = t.plain("error-stale-button")
        return
    data = await state.get_data()
    limit = settings.signup_daily_limit
    previous = await repo.applications.for_user(user.id)
    if submitted_today([a.created_at for a in previous], clock.now()) >= limit:
        # Applying and withdrawing in a loop would flood the staff chat with cards.
        callback_answer.text = t.plain("signup-daily-limit", limit=limit)
        callback_answer.show_alert = True
        return
    missing = first_unanswered(data)
    if missing is not None:
        # A required extra question has no answer (the course changed): ask it first.
        await state.update_data(editing=True, q_index=missing, q_multi=[])
        await ask(SignUp.question, state, message, t, repo, pressed=callback)
        return
    consent_raw = data.get("consent_at")
    consent_at = (
        datetime.fromisoformat(consent_raw)
        if consent_raw
        else (user.consent_at or datetime.now(UTC))
    )
    course_id = data["course_id"]
    course = await repo.catalogue.course(course_id)
    chats = await staff_chats_of(repo, settings, course.centre_id if course else None)
    # The staff-chat card goes into the outbox with the application (one transaction),
    # unless an earlier card of the person's for this course can be reused (edited).
    card_chat = chats[0] if chats and not reuses_earlier_card(previous, course_id) else None
    queued = 0

    async def post_card(s: AsyncSession, app: ApplicationDTO) -> None:
        nonlocal queued
        if card_chat is not None:
            queued = await repo.deliveries.enqueue_in(s, [staff_card_delivery(app.id, card_chat)])

    try:
        outcome = await repo.applications.submit(
            user_id=user.id,
            course_id=course_id,
            group_id=data.get("group_id") or None,
            full_name=data["full_name"],
            phone=data["phone"],
            district_id=data.get("district_id"),
            consent_at=consent_at,
            source=data.get("source"),
            answers={int(k): str(v) for k, v in (data.get("answers") or {}).items()},
            record_consent=user.consent_at is None,
            also=post_card,
        )
    except EnrolmentError as exc:
        await drop_keyboard(callback)
        key = {
            "duplicate": "signup-duplicate-short",
            "enrolment_closed": "signup-enrolment-closed",
        }.get(exc.code, "error-stale-button")
        await leave_form(message, state, t, repo, settings, key)
        return
    # Saved: the form is done (cleared with the first request below, one write); stop
    # the spinner, then wake the outbox for the staff-chat card.
    await state.clear()
    await answer_first(callback, callback_answer)
    repo.deliveries.enqueued(queued)
    app = outcome.application
    await show(callback, await summary_text(data, t, repo))
    if app.status == "waitlisted":
        done = t("signup-done-waitlist", id=app.id, position=outcome.waitlist_position or 1)
    else:
        done = t("signup-done", id=app.id)
    # The confirmation first, then «Main menu 👇», which points at the keyboard below it.
    await message.answer(done)
    await send_main_menu(message, t, repo, settings, "signup-next-steps")
    if card_chat is None:
        await notify_staff_new_application(bot, settings, translator, repo, app)
