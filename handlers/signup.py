"""The sign-up form: one question at a time, Back and Cancel at every step.

Steps: full name → phone → district (or "my region is not in the list": none) → group
(if the course has several) → consent (once per user) → summary, where any field can be
edited before confirming. The form lives in the FSM storage (the database), so it
survives a restart of the bot.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.callbacks import CatAction, CatCB, EditField, SignupAction, SignupCB
from bot.config import Settings
from bot.filters import HasContact, HasText, PrivateChat, TextKey
from bot.formatting import status_label, weekly_pattern
from bot.i18n import BoundTranslator, Translator
from bot.keyboards import form_keyboard, inline_rows
from bot.navigation import send_main_menu
from bot.notify import notify_staff_new_application
from bot.routing import FeatureRouter
from bot.services.validation import normalize_name, normalize_phone
from bot.telegram_utils import drop_keyboard, show
from db.dto import UserDTO
from db.repo import Repos
from db.repo.applications import EnrolmentError

router = FeatureRouter(__name__)
router.message.filter(PrivateChat())
router.callback_query.filter(PrivateChat())


class SignUp(StatesGroup):
    name = State()
    phone = State()
    district = State()
    group = State()
    consent = State()
    course = State()
    confirm = State()


ANY_GROUP = 0
UNLISTED = 0  # the district answer "my region is not in the list": no district recorded


# ---- step order ---------------------------------------------------------------------


def _steps(data: dict[str, Any]) -> list[State]:
    steps = [SignUp.name, SignUp.phone, SignUp.district]
    if data.get("group_count", 0) > 1:
        steps.append(SignUp.group)
    if not data.get("had_consent"):
        steps.append(SignUp.consent)
    steps.append(SignUp.confirm)
    return steps


def _step_number(data: dict[str, Any], state: State) -> tuple[int, int]:
    steps = _steps(data)[:-1]  # the summary is not a question
    return (steps.index(state) + 1 if state in steps else len(steps)), len(steps)


async def _next(
    state: FSMContext, current: State, message: Message, t: BoundTranslator, repo: Repos
) -> None:
    data = await state.get_data()
    if data.get("editing"):
        await ask(SignUp.confirm, state, message, t, repo)
        return
    steps = _steps(data)
    await ask(steps[steps.index(current) + 1], state, message, t, repo)


# ---- questions ------------------------------------------------------------------------


async def ask(
    step: State, state: FSMContext, message: Message, t: BoundTranslator, repo: Repos
) -> None:
    """Put the form on ``step`` and send its question."""
    await state.set_state(step)
    data = await state.get_data()
    if step == SignUp.name:
        await _ask_name(data, message, t)
    elif step == SignUp.phone:
        await _ask_phone(data, message, t)
    elif step == SignUp.district:
        await _ask_district(data, message, t, repo)
    elif step == SignUp.group:
        await _ask_group(data, message, t, repo)
    elif step == SignUp.consent:
        await _ask_consent(data, message, t)
    elif step == SignUp.course:
        await _ask_course(data, message, t, repo)
    else:
        await _ask_confirm(data, message, t, repo)


def _progress(data: dict[str, Any], step: State, t: BoundTranslator) -> str:
    number, total = _step_number(data, step)
    return t("signup-step", number=number, total=total)


async def _ask_name(data: dict[str, Any], message: Message, t: BoundTranslator) -> None:
    extra = [KeyboardButton(text=data["prev_name"])] if data.get("prev_name") else []
    await message.answer(
        f"{_progress(data, SignUp.name, t)}\n{t('signup-ask-name')}",
        reply_markup=form_keyboard(t, *extra),
    )


async def _ask_phone(data: dict[str, Any], message: Message, t: BoundTranslator) -> None:
    buttons = [KeyboardButton(text=t.plain("signup-share-phone"), request_contact=True)]
    if data.get("prev_phone"):
        buttons.append(KeyboardButton(text=data["prev_phone"]))
    await message.answer(
        f"{_progress(data, SignUp.phone, t)}\n{t('signup-ask-phone')}",
        reply_markup=form_keyboard(t, *buttons),
    )


async def _ask_district(
    data: dict[str, Any], message: Message, t: BoundTranslator, repo: Repos
) -> None:
    region_id = data.get("region_id")
    if region_id is None:
        await _ask_region(data, message, t, repo)
        return
    region = await repo.catalogue.region(region_id)
    districts = await repo.catalogue.districts(region_id)
    buttons = [
        InlineKeyboardButton(
            text=t.pick(d.name),
            callback_data=SignupCB(action=SignupAction.district, value=d.id).pack(),
        )
        for d in districts
    ]
    markup = inline_rows(buttons, width=2)
    markup.inline_keyboard.append(
        [
            InlineKeyboardButton(
                text=t.plain("signup-other-region"),
                callback_data=SignupCB(action=SignupAction.regions).pack(),
            )
        ]
    )
    region_name = t.pick(region.name) if region else ""
    await message.answer(
        f"{_progress(data, SignUp.district, t)}\n{t('signup-ask-district', region=region_name)}",
        reply_markup=markup,
    )


async def _ask_region(
    data: dict[str, Any], message: Message, t: BoundTranslator, repo: Repos
) -> None:
    regions = await repo.catalogue.regions()
    buttons = [
        InlineKeyboardButton(
            text=t.pick(r.name),
            callback_data=SignupCB(action=SignupAction.region, value=r.id).pack(),
        )
        for r in regions
    ]
    markup = inline_rows(buttons, width=2)
    # Someone from a region the catalogue does not list (Osh, another Kazakh region) goes
    # on without a district rather than being stuck here.
    markup.inline_keyboard.append(
        [
            InlineKeyboardButton(
                text=t.plain("signup-region-unlisted"),
                callback_data=SignupCB(action=SignupAction.district, value=UNLISTED).pack(),
            )
        ]
    )
    await message.answer(
        f"{_progress(data, SignUp.district, t)}\n{t('signup-ask-region')}",
        reply_markup=markup,
    )


async def _ask_group(
    data: dict[str, Any], message: Message, t: BoundTranslator, repo: Repos
) -> None:
    course = await repo.catalogue.course(data["course_id"])
    centre = await repo.catalogue.centre(course.centre_id) if course else None
    groups = await repo.catalogue.groups(data["course_id"])
    sessions = await repo.catalogue.sessions([g.id for g in groups], limit=200)
    buttons = []
    for g in groups:
        pattern = weekly_pattern(
            [s for s in sessions if s.group_id == g.id][:21],
            centre.timezone if centre else "UTC",
            t.locale,
        )
        seats = (
            t.n_plain("signup-group-seats", g.seats_left)
            if g.seats_left
            else t.plain("signup-group-full")
        )
        label = (
            f"{t.pick(g.name)} · {pattern} · {seats}" if pattern else f"{t.pick(g.name)} · {seats}"
        )
        buttons.append(
            InlineKeyboardButton(
                text=label[:64],
                callback_data=SignupCB(action=SignupAction.group, value=g.id).pack(),
            )
        )
    buttons.append(
        InlineKeyboardButton(
            text=t.plain("signup-any-group"),
            callback_data=SignupCB(action=SignupAction.any_group).pack(),
        )
    )
    await message.answer(
        f"{_progress(data, SignUp.group, t)}\n{t('signup-ask-group')}",
        reply_markup=inline_rows(buttons),
    )


async def _ask_consent(data: dict[str, Any], message: Message, t: BoundTranslator) -> None:
    markup = inline_rows(
        [
            InlineKeyboardButton(
                text=t.plain("signup-consent-agree"),
                callback_data=SignupCB(action=SignupAction.consent).pack(),
            )
        ]
    )
    await message.answer(
        f"{_progress(data, SignUp.consent, t)}\n{t('signup-ask-consent')}", reply_markup=markup
    )


async def _ask_course(
    data: dict[str, Any], message: Message, t: BoundTranslator, repo: Repos
) -> None:
    current = await repo.catalogue.course(data["course_id"])
    courses = await repo.catalogue.courses(current.centre_id if current else None)
    buttons = [
        InlineKeyboardButton(
            text=("✓ " if c.id == data["course_id"] else "") + t.pick(c.title),
            callback_data=SignupCB(action=SignupAction.course, value=c.id).pack(),
        )
        for c in courses
        if c.enrolment_open
    ]
    await message.answer(t("signup-ask-course"), reply_markup=inline_rows(buttons))


async def summary_text(data: dict[str, Any], t: BoundTranslator, repo: Repos) -> str:
    course = await repo.catalogue.course(data["course_id"])
    centre = await repo.catalogue.centre(course.centre_id) if course else None
    district_id = data.get("district_id")
    district = await repo.catalogue.district(district_id) if district_id else None
    if district is not None:
        district_name = t.pick(district.name)
    else:
        district_name = t.plain("signup-district-unlisted") if district_id is None else "—"
    group = await repo.catalogue.group(data["group_id"]) if data.get("group_id") else None
    return t(
        "signup-summary",
        course=t.pick(course.title) if course else "—",
        centre=t.pick(centre.name) if centre else "—",
        group=t.pick(group.name) if group else t.plain("signup-any-group"),
        name=data["full_name"],
        phone=data["phone"],
        district=district_name,
    )


async def _ask_confirm(
    data: dict[str, Any], message: Message, t: BoundTranslator, repo: Repos
) -> None:
    def edit(key: str, field: EditField) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            text=t.plain(key),
            callback_data=SignupCB(action=SignupAction.edit, value=field.value).pack(),
        )

    rows = [
        [
            InlineKeyboardButton(
                text=t.plain("signup-confirm"),
                callback_data=SignupCB(action=SignupAction.confirm).pack(),
            )
        ],
        [edit("signup-edit-name", EditField.full_name), edit("signup-edit-phone", EditField.phone)],
        [
            edit("signup-edit-district", EditField.district),
            edit("signup-edit-course", EditField.course),
        ],
    ]
    if data.get("group_count", 0) > 1:
        rows[2].insert(1, edit("signup-edit-group", EditField.group))
    await message.answer(
        await summary_text(data, t, repo), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )


# ---- entering and leaving the form ----------------------------------------------------


@router.callback_query(CatCB.filter(F.action == CatAction.signup))
async def start_signup(
    callback: CallbackQuery,
    callback_data: CatCB,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
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
    live = [a for a in await repo.applications.live_for_user(user.id) if a.course_id == course.id]
    if live:
        callback_answer.text = t.plain("signup-duplicate", status=status_label(t, live[0].status))
        callback_answer.show_alert = True
        return
    centre = await repo.catalogue.centre(course.centre_id)
    groups = await repo.catalogue.groups(course.id)
    previous = await repo.applications.for_user(user.id)
    await state.clear()
    await state.set_data(
        {
            "course_id": course.id,
            "region_id": centre.region_id if centre else None,
            "group_count": len(groups),
            "group_id": groups[0].id if len(groups) == 1 else ANY_GROUP,
            "had_consent": user.consent_at is not None,
            "prev_name": previous[0].full_name if previous else None,
            "prev_phone": previous[0].phone if previous else None,
            "source": user.source,
        }
    )
    await repo.applications.record_funnel(user.id, "started", course.id)
    await message.answer(t("signup-intro", course=t.pick(course.title)))
    await ask(SignUp.name, state, message, t, repo)


async def _leave_form(
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
    await _leave_form(message, state, t, repo, settings, "form-cancelled")


@router.message(StateFilter(SignUp), TextKey("btn-back"))
async def go_back(
    message: Message, state: FSMContext, t: BoundTranslator, repo: Repos, settings: Settings
) -> None:
    current = await state.get_state()
    data = await state.get_data()
    steps = _steps(data)
    if data.get("editing") and current != SignUp.confirm.state:
        await ask(SignUp.confirm, state, message, t, repo)
        return
    names = [s.state for s in steps]
    index = names.index(current) if current in names else 0
    if index == 0:
        course_id = data.get("course_id")
        await _leave_form(message, state, t, repo, settings, "form-cancelled")
        if course_id:
            from handlers.catalogue import course_view

            view = await course_view(t, repo, course_id, None)
            if view:
                await message.answer(view[0], reply_markup=view[1])
        return
    await state.update_data(editing=False)
    await ask(steps[index - 1], state, message, t, repo)


# ---- answers --------------------------------------------------------------------------


@router.message(StateFilter(SignUp.name), HasText())
async def got_name(message: Message, state: FSMContext, t: BoundTranslator, repo: Repos) -> None:
    name, error = normalize_name(message.text or "")
    if error is not None:
        await message.answer(t(error))
        return
    await state.update_data(full_name=name)
    await _next(state, SignUp.name, message, t, repo)


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
    await _got_phone(phone, message, state, t, repo)


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
    phone: str, message: Message, state: FSMContext, t: BoundTranslator, repo: Repos
) -> None:
    await state.update_data(phone=phone)
    # Replace the contact keyboard with plain Back / Cancel before the inline steps.
    await message.answer(t("signup-phone-saved", phone=phone), reply_markup=form_keyboard(t))
    await _next(state, SignUp.phone, message, t, repo)


@router.callback_query(
    StateFilter(SignUp.district), SignupCB.filter(F.action == SignupAction.regions)
)
async def pick_other_region(
    callback: CallbackQuery, state: FSMContext, t: BoundTranslator, repo: Repos
) -> None:
    await state.update_data(region_id=None)
    await drop_keyboard(callback)
    if isinstance(callback.message, Message):
        await _ask_region(await state.get_data(), callback.message, t, repo)


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
    await drop_keyboard(callback)
    if isinstance(callback.message, Message):
        await _ask_district(await state.get_data(), callback.message, t, repo)


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
        await show(callback, t("signup-chosen", value=t.plain("signup-region-unlisted")))
        if isinstance(callback.message, Message):
            await _next(state, SignUp.district, callback.message, t, repo)
        return
    district = await repo.catalogue.district(callback_data.value)
    data = await state.get_data()
    if district is None or district.region_id != data.get("region_id"):
        callback_answer.text = t.plain("error-stale-button")
        return
    await state.update_data(district_id=district.id)
    await show(callback, t("signup-chosen", value=t.pick(district.name)))
    if isinstance(callback.message, Message):
        await _next(state, SignUp.district, callback.message, t, repo)


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
    await show(callback, t("signup-chosen", value=label))
    if isinstance(callback.message, Message):
        await _next(state, SignUp.group, callback.message, t, repo)


@router.callback_query(
    StateFilter(SignUp.consent), SignupCB.filter(F.action == SignupAction.consent)
)
async def give_consent(
    callback: CallbackQuery, state: FSMContext, t: BoundTranslator, repo: Repos
) -> None:
    await state.update_data(consent_at=datetime.now(UTC).isoformat())
    await show(callback, t("signup-consent-given"))
    if isinstance(callback.message, Message):
        await _next(state, SignUp.consent, callback.message, t, repo)


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
    step = steps.get(callback_data.value)
    if step is None or not isinstance(callback.message, Message):
        callback_answer.text = t.plain("error-stale-button")
        return
    await state.update_data(editing=True)
    await drop_keyboard(callback)
    await ask(step, state, callback.message, t, repo)


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
    await state.update_data(
        course_id=course.id,
        group_count=len(groups),
        group_id=(groups[0].id if len(groups) == 1 else ANY_GROUP)
        if changed
        else data.get("group_id"),
    )
    await show(callback, t("signup-chosen", value=t.pick(course.title)))
    if not isinstance(callback.message, Message):
        return
    if changed and len(groups) > 1:
        await ask(SignUp.group, state, callback.message, t, repo)
    else:
        await ask(SignUp.confirm, state, callback.message, t, repo)


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
    callback_answer: CallbackAnswer,
) -> None:
    message = callback.message
    if not isinstance(message, Message):
        callback_answer.text = t.plain("error-stale-button")
        return
    data = await state.get_data()
    consent_raw = data.get("consent_at")
    consent_at = (
        datetime.fromisoformat(consent_raw)
        if consent_raw
        else (user.consent_at or datetime.now(UTC))
    )
    try:
        outcome = await repo.applications.submit(
            user_id=user.id,
            course_id=data["course_id"],
            group_id=data.get("group_id") or None,
            full_name=data["full_name"],
            phone=data["phone"],
            district_id=data.get("district_id"),
            consent_at=consent_at,
            source=data.get("source"),
        )
    except EnrolmentError as exc:
        await drop_keyboard(callback)
        key = {
            "duplicate": "signup-duplicate-short",
            "enrolment_closed": "signup-enrolment-closed",
        }.get(exc.code, "error-stale-button")
        await _leave_form(message, state, t, repo, settings, key)
        return
    if user.consent_at is None:
        await repo.users.set_consent(user.id, consent_at)
    app = outcome.application
    await show(callback, await summary_text(data, t, repo))
    if app.status == "waitlisted":
        done = t("signup-done-waitlist", id=app.id, position=outcome.waitlist_position or 1)
    else:
        done = t("signup-done", id=app.id)
    await _leave_form(message, state, t, repo, settings, "signup-next-steps")
    await message.answer(done)
    await notify_staff_new_application(bot, settings, translator, repo, app)


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
    """Text or media where one of the buttons was expected: say so and ask again."""
    await message.answer(t("signup-use-buttons"))
    current = await state.get_state()
    step = next((s for s in SignUp.__states__ if s.state == current), SignUp.confirm)
    await ask(step, state, message, t, repo)
