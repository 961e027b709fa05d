"""The answers, step by step: name, phone, region and district, group, consent, course,
and editing one answer from the summary.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import (
    CallbackQuery,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.callbacks import EditField, SignupAction, SignupCB
from bot.filters import HasContact, HasText
from bot.formatting import status_label
from bot.i18n import BoundTranslator
from bot.routing import FeatureRouter
from bot.services.validation import normalize_name, normalize_phone
from bot.telegram_utils import show
from db.dto import UserDTO
from db.repo import Repos
from handlers.catalogue import centres_view
from handlers.signup.extra_views import question_state
from handlers.signup.questions import ask, ask_district, ask_next, ask_region
from handlers.signup.steps import ANY_GROUP, UNLISTED, SignUp

router = FeatureRouter(__name__)

# ---- answers --------------------------------------------------------------------------


@router.message(StateFilter(SignUp.name), HasText())
async def got_name(message: Message, state: FSMContext, t: BoundTranslator, repo: Repos) -> None:
    name, error = normalize_name(message.text or "")
    if error is not None:
        await message.answer(t(error))
        return
    await state.update_data(full_name=name)
    chosen = t("signup-chosen", value=escape(name or ""))
    await ask_next(state, SignUp.name, message, t, repo, lead=chosen)


@router.message(StateFilter(SignUp.phone), HasContact())
async def got_contact(message: Message, state: FSMContext, t: BoundTranslator, repo: Repos) -> None:
    contact = message.contact
    assert contact is not None
    if message.from_user is None or contact.user_id != message.from_user.id:
        await message.answer(t("signup-phone-not-own"))
        return
    phone = normalize_phone(contact.phone_number)
    if phone is None:
        await message.answer(t("signup-phone-invalid"))
        return
    # The person's own contact carries their name (surname first, as the form asks).
    name, error = normalize_name(f"{contact.last_name or ''} {contact.first_name}")
    await _got_phone(phone, message, state, t, repo, name if error is None else None)


@router.message(StateFilter(SignUp.phone), HasText())
async def got_phone_text(
    message: Message, state: FSMContext, t: BoundTranslator, repo: Repos
) -> None:
    phone = normalize_phone(message.text or "")
    if phone is None:
        await message.answer(t("signup-phone-invalid"))
        return
    await _got_phone(phone, message, state, t, repo)


async def _got_phone(
    phone: str,
    message: Message,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    contact_name: str | None = None,
) -> None:
    """The phone; a shared contact's full name becomes the name (no name step) unless a
    name was given already. A typed phone keeps the name step. The next question says
    the phone was saved (and replaces the contact keyboard)."""
    lead = t("signup-phone-saved", phone=phone)
    if contact_name is None:
        await state.update_data(phone=phone, name_from_contact=False)
    elif (await state.get_data()).get("full_name") is None:
        await state.update_data(phone=phone, full_name=contact_name, name_from_contact=True)
        lead += "\n" + t("signup-name-from-contact", name=escape(contact_name))
    else:
        await state.update_data(phone=phone)
    await ask_next(state, SignUp.phone, message, t, repo, lead=lead)


@router.callback_query(
    StateFilter(SignUp.district), SignupCB.filter(F.action == SignupAction.regions)
)
async def pick_other_region(
    callback: CallbackQuery, state: FSMContext, t: BoundTranslator, repo: Repos
) -> None:
    await state.update_data(region_id=None)
    await show(callback, *await ask_region(await state.get_data(), t, repo))


@router.callback_query(
    StateFilter(SignUp.district), SignupCB.filter(F.action == SignupAction.region)
)
async def pick_region(
    callback: CallbackQuery,
    callback_data: SignupCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    region = await repo.catalogue.region(callback_data.value)
    if region is None:
        callback_answer.text = t.plain("error-stale-button")
        return
    await state.update_data(region_id=region.id)
    await show(callback, *await ask_district(await state.get_data(), t, repo))


@router.callback_query(
    StateFilter(SignUp.district), SignupCB.filter(F.action == SignupAction.district)
)
async def pick_district(
    callback: CallbackQuery,
    callback_data: SignupCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    if callback_data.value == UNLISTED:
        await state.update_data(district_id=None)
        chosen = t("signup-chosen", value=t.plain("signup-region-unlisted"))
        await _answered(callback, state, SignUp.district, chosen, t, repo)
        return
    district = await repo.catalogue.district(callback_data.value)
    data = await state.get_data()
    if district is None or district.region_id != data.get("region_id"):
        callback_answer.text = t.plain("error-stale-button")
        return
    await state.update_data(district_id=district.id)
    chosen = t("signup-chosen", value=t.pick(district.name))
    await _answered(callback, state, SignUp.district, chosen, t, repo)


@router.callback_query(
    StateFilter(SignUp.group),
    SignupCB.filter(F.action.in_({SignupAction.group, SignupAction.any_group})),
)
async def pick_group(
    callback: CallbackQuery,
    callback_data: SignupCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    data = await state.get_data()
    label = t.plain("signup-any-group")
    group_id = ANY_GROUP
    if callback_data.action is SignupAction.group:
        group = await repo.catalogue.group(callback_data.value)
        if group is None or group.course_id != data.get("course_id"):
            callback_answer.text = t.plain("error-stale-button")
            return
        group_id, label = group.id, t.pick(group.name)
    await state.update_data(group_id=group_id)
    await _answered(callback, state, SignUp.group, t("signup-chosen", value=label), t, repo)


@router.callback_query(
    StateFilter(SignUp.consent), SignupCB.filter(F.action == SignupAction.consent)
)
async def give_consent(
    callback: CallbackQuery, state: FSMContext, user: UserDTO, t: BoundTranslator, repo: Repos
) -> None:
    first_time = "consent_at" not in await state.get_data()  # not again after Back
    data = await state.update_data(consent_at=datetime.now(UTC).isoformat())
    if first_time:
        await repo.applications.record_funnel(user.id, "started", data.get("course_id"))
    await _answered(callback, state, SignUp.consent, t("signup-consent-given"), t, repo)


@router.callback_query(
    StateFilter(SignUp.consent), SignupCB.filter(F.action == SignupAction.decline)
)
async def decline_consent(
    callback: CallbackQuery, state: FSMContext, t: BoundTranslator, repo: Repos
) -> None:
    """No consent: the form ends, nothing about the person is kept, the catalogue is
    back."""
    await state.clear()
    await show(callback, t("signup-consent-declined"))
    if isinstance(callback.message, Message):
        text, markup = await centres_view(t, repo)
        await callback.message.answer(text, reply_markup=markup)


@router.callback_query(StateFilter(SignUp.confirm), SignupCB.filter(F.action == SignupAction.edit))
async def edit_field(
    callback: CallbackQuery,
    callback_data: SignupCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    steps = {
        EditField.full_name.value: SignUp.name,
        EditField.phone.value: SignUp.phone,
        EditField.district.value: SignUp.district,
        EditField.group.value: SignUp.group,
        EditField.course.value: SignUp.course,
    }
    if (await state.get_data()).get("questions"):
        steps[EditField.questions.value] = SignUp.question
    step = steps.get(callback_data.value)
    if step is None or not isinstance(callback.message, Message):
        callback_answer.text = t.plain("error-stale-button")
        return
    await state.update_data(editing=True, q_index=0, q_multi=[])
    await ask(step, state, callback.message, t, repo, pressed=callback)


@router.callback_query(StateFilter(SignUp.course), SignupCB.filter(F.action == SignupAction.course))
async def pick_course(
    callback: CallbackQuery,
    callback_data: SignupCB,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    course = await repo.catalogue.course(callback_data.value)
    if course is None or not course.enrolment_open:
        callback_answer.text = t.plain("error-stale-button")
        callback_answer.show_alert = True
        return
    live = [a for a in await repo.applications.live_for_user(user.id) if a.course_id == course.id]
    if live:
        callback_answer.text = t.plain("signup-duplicate", status=status_label(t, live[0].status))
        callback_answer.show_alert = True
        return
    groups = await repo.catalogue.groups(course.id)
    data = await state.get_data()
    changed = course.id != data.get("course_id")
    questions = await repo.outcomes.course_questions(course.id)
    asked = {str(q.id) for q in questions}
    await state.update_data(
        question_state(questions)
        | {"answers": {k: v for k, v in (data.get("answers") or {}).items() if k in asked}},
        course_id=course.id,
        group_count=len(groups),
        group_id=(groups[0].id if len(groups) == 1 else ANY_GROUP)
        if changed
        else data.get("group_id"),
    )
    chosen = t("signup-chosen", value=t.pick(course.title))
    if not isinstance(callback.message, Message):
        await show(callback, chosen)
        return
    step = SignUp.group if changed and len(groups) > 1 else SignUp.confirm
    await ask(step, state, callback.message, t, repo, lead=chosen, pressed=callback)


async def _answered(
    callback: CallbackQuery,
    state: FSMContext,
    current: State,
    chosen: str,
    t: BoundTranslator,
    repo: Repos,
) -> None:
    """A button answered ``current``: its message becomes the next question, the answer
    on top (or, for a message too old to edit, the answer is sent)."""
    if isinstance(callback.message, Message):
        await ask_next(state, current, callback.message, t, repo, lead=chosen, pressed=callback)
    else:
        await show(callback, chosen)
