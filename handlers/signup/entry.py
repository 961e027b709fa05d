"""Entering the form from a course card, cancelling it, and stepping back."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.callbacks import CatAction, CatCB
from bot.clock import Clock
from bot.config import Settings
from bot.filters import TextKey
from bot.formatting import status_label
from bot.i18n import BoundTranslator
from bot.navigation import send_main_menu
from bot.routing import FeatureRouter
from db.dto import UserDTO
from db.repo import Repos
from handlers.signup.extra_views import question_state
from handlers.signup.questions import ask
from handlers.signup.steps import ANY_GROUP, SignUp, steps_of, submitted_today

router = FeatureRouter(__name__)

# ---- entering and leaving the form ----------------------------------------------------


@router.callback_query(CatCB.filter(F.action == CatAction.signup))
async def start_signup(
    callback: CallbackQuery,
    callback_data: CatCB,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
    callback_answer: CallbackAnswer,
) -> None:
    course = await repo.catalogue.course(callback_data.id)
    message = callback.message
    if course is None or not isinstance(message, Message):
        callback_answer.text = t.plain("error-stale-button")
        callback_answer.show_alert = True
        return
    if not course.enrolment_open:
        callback_answer.text = t.plain("signup-enrolment-closed")
        callback_answer.show_alert = True
        return
    previous = await repo.applications.for_user(user.id)
    live = [a for a in previous if a.is_live and a.course_id == course.id]
    if live:
        callback_answer.text = t.plain("signup-duplicate", status=status_label(t, live[0].status))
        callback_answer.show_alert = True
        return
    limit = settings.signup_daily_limit
    if submitted_today([a.created_at for a in previous], clock.now()) >= limit:
        callback_answer.text = t.plain("signup-daily-limit", limit=limit)
        callback_answer.show_alert = True
        return
    centre = await repo.catalogue.centre(course.centre_id)
    groups = await repo.catalogue.groups(course.id)
    # Consent is given to a centre (the data operator): someone who applied there before
    # agreed already; anyone else is asked first, before any question about them.
    centre_courses = {c.id for c in await repo.catalogue.courses(course.centre_id)}
    had_consent = user.consent_at is not None and any(
        a.course_id in centre_courses for a in previous
    )
    questions = await repo.outcomes.course_questions(course.id)
    await state.clear()
    await state.set_data(
        question_state(questions)
        | {
            "course_id": course.id,
            "region_id": centre.region_id if centre else None,
            "group_count": len(groups),
            "group_id": groups[0].id if len(groups) == 1 else ANY_GROUP,
            "had_consent": had_consent,
            "prev_name": previous[0].full_name if previous else None,
            "prev_phone": previous[0].phone if previous else None,
            "source": user.source,
            "form_days": settings.form_state_ttl.days,
            "answers": {},
        }
    )
    if had_consent:
        await repo.applications.record_funnel(user.id, "started", course.id)
    # The intro and the first question in one message (the course card stays as it is).
    intro = t("signup-intro", course=t.pick(course.title))
    await ask(steps_of(await state.get_data())[0], state, message, t, repo, lead=intro)


async def leave_form(
    message: Message,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    key: str,
) -> None:
    await state.clear()
    await send_main_menu(message, t, repo, settings, key)


@router.message(StateFilter(SignUp), TextKey("btn-cancel"))
async def cancel_form(
    message: Message, state: FSMContext, t: BoundTranslator, repo: Repos, settings: Settings
) -> None:
    await leave_form(message, state, t, repo, settings, "form-cancelled")


@router.message(StateFilter(SignUp), TextKey("btn-back"))
async def go_back(
    message: Message, state: FSMContext, t: BoundTranslator, repo: Repos, settings: Settings
) -> None:
    current = await state.get_state()
    data = await state.get_data()
    steps = steps_of(data)
    if data.get("editing") and current != SignUp.confirm.state:
        await ask(SignUp.confirm, state, message, t, repo)
        return
    names = [s.state for s in steps]
    index = names.index(current) if current in names else 0
    if current == SignUp.question.state and int(data.get("q_index", 0)) > 0:
        await state.update_data(q_index=int(data.get("q_index", 0)) - 1, q_multi=[])
        await ask(SignUp.question, state, message, t, repo)
        return
    if index == 0:
        course_id = data.get("course_id")
        await leave_form(message, state, t, repo, settings, "form-cancelled")
        if course_id:
            from handlers.catalogue import course_view

            view = await course_view(t, repo, course_id, None)
            if view:
                await message.answer(view[0], reply_markup=view[1])
        return
    previous_step = steps[index - 1]
    await state.update_data(editing=False)
    if previous_step == SignUp.question:
        # Back into the questions: the last one.
        await state.update_data(q_index=len(data.get("questions") or ()) - 1, q_multi=[])
    await ask(previous_step, state, message, t, repo)
