"""Asking each step's question with its keyboard, and the summary to confirm."""

from __future__ import annotations

from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)

from bot.callbacks import EditField, SignupAction, SignupCB
from bot.formatting import weekly_pattern
from bot.i18n import BoundTranslator
from bot.keyboards import form_keyboard, inline_rows
from bot.telegram_utils import drop_keyboard, show
from db.repo import Repos
from handlers.signup.extra_views import ask_question, summary_lines
from handlers.signup.steps import UNLISTED, SignUp, first_unanswered, step_number, steps_of


async def ask_next(
    state: FSMContext,
    current: State,
    message: Message,
    t: BoundTranslator,
    repo: Repos,
    *,
    lead: str | None = None,
    pressed: CallbackQuery | None = None,
) -> None:
    """Move the form past ``current`` and ask the next question (``lead`` and ``pressed``
    as in ``ask``)."""
    data = await state.get_data()
    questions = data.get("questions") or []
    step: State
    if current == SignUp.question and int(data.get("q_index", 0)) + 1 < len(questions):
        # The next extra question (also when editing: the answers are walked through).
        await state.update_data(q_index=int(data.get("q_index", 0)) + 1, q_multi=[])
        step = SignUp.question
    elif data.get("editing"):
        missing = first_unanswered(data)
        if missing is not None:
            # A new course asks questions not answered yet.
            await state.update_data(q_index=missing, q_multi=[])
            step = SignUp.question
        else:
            step = SignUp.confirm
    else:
        steps = steps_of(data)
        step = steps[steps.index(current) + 1] if current in steps else SignUp.confirm
    await ask(step, state, message, t, repo, lead=lead, pressed=pressed)


# ---- questions ------------------------------------------------------------------------

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | None


async def ask(
    step: State,
    state: FSMContext,
    message: Message,
    t: BoundTranslator,
    repo: Repos,
    *,
    lead: str | None = None,
    pressed: CallbackQuery | None = None,
) -> None:
    """Put the form on ``step`` and ask its question, in as few Bot API requests as the
    keyboards allow.

    ``lead``: the line that acknowledges the answer just given ("✓ Phone: …"), shown
    above the question. ``pressed``: the button press that gave the answer; its message
    *becomes* the question when the question has inline buttons (one editMessageText
    instead of an edit and a new message; the earlier copy keeps no buttons by
    construction). A question with a reply keyboard (a typed answer) needs a new message:
    the pressed one then keeps only the lead, without its buttons.

    A step's own reply buttons (send my number, a name to tap) must not outlive it: when
    an inline question follows a typed answer and such buttons are shown, the lead goes
    first in a message of its own with plain Back / Cancel.

    The answer and the new step are saved together, once, before anything is sent (the
    update's unit of work is written before its first Bot API request).
    """
    await state.set_state(step)
    data = await state.get_data()
    text, markup = await question(step, data, t, repo)
    if isinstance(markup, ReplyKeyboardMarkup):
        await state.update_data(own_keys=len(markup.keyboard) > 1)
        if pressed is not None:
            if lead:
                await show(pressed, lead)
            else:
                await drop_keyboard(pressed)
            await message.answer(text, reply_markup=markup)
        else:
            await message.answer(_joined(lead, text), reply_markup=markup)
        return
    if pressed is not None:
        await show(pressed, _joined(lead, text), markup)
        return
    if data.get("own_keys"):
        await state.update_data(own_keys=False)
        await message.answer(lead or t("signup-went-back"), reply_markup=form_keyboard(t))
        await message.answer(text, reply_markup=markup)
        return
    await message.answer(_joined(lead, text), reply_markup=markup)


def _joined(lead: str | None, text: str) -> str:
    return f"{lead}\n{text}" if lead else text


async def question(
    step: State, data: dict[str, Any], t: BoundTranslator, repo: Repos
) -> tuple[str, Markup]:
    """A step's question: its text and keyboard."""
    if step == SignUp.name:
        return _ask_name(data, t)
    if step == SignUp.phone:
        return _ask_phone(data, t)
    if step == SignUp.district:
        return await ask_district(data, t, repo)
    if step == SignUp.group:
        return await _ask_group(data, t, repo)
    if step == SignUp.consent:
        return await _ask_consent(data, t, repo)
    if step == SignUp.course:
        return await _ask_course(data, t, repo)
    if step == SignUp.question:
        return await ask_question(data, t, repo)
    return await _ask_confirm(data, t, repo)


def _progress(data: dict[str, Any], step: State, t: BoundTranslator) -> str:
    number, total = step_number(data, step)
    return t("signup-step", number=number, total=total)


def _ask_name(data: dict[str, Any], t: BoundTranslator) -> tuple[str, Markup]:
    # The name given before (in this form, or in an earlier application) is one tap away.
    known = data.get("full_name") or data.get("prev_name")
    extra = [KeyboardButton(text=known)] if known else []
    return f"{_progress(data, SignUp.name, t)}\n{t('signup-ask-name')}", form_keyboard(t, *extra)


def _ask_phone(data: dict[str, Any], t: BoundTranslator) -> tuple[str, Markup]:
    buttons = [KeyboardButton(text=t.plain("signup-share-phone"), request_contact=True)]
    known = data.get("phone") or data.get("prev_phone")
    if known:
        buttons.append(KeyboardButton(text=known))
    return (
        f"{_progress(data, SignUp.phone, t)}\n{t('signup-ask-phone')}",
        form_keyboard(t, *buttons),
    )


async def ask_district(
    data: dict[str, Any], t: BoundTranslator, repo: Repos
) -> tuple[str, InlineKeyboardMarkup]:
    region_id = data.get("region_id")
    if region_id is None:
        return await ask_region(data, t, repo)
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
    return (
        f"{_progress(data, SignUp.district, t)}\n{t('signup-ask-district', region=region_name)}",
        markup,
    )


async def ask_region(
    data: dict[str, Any], t: BoundTranslator, repo: Repos
) -> tuple[str, InlineKeyboardMarkup]:
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
    return f"{_progress(data, SignUp.district, t)}\n{t('signup-ask-region')}", markup


async def _ask_group(data: dict[str, Any], t: BoundTranslator, repo: Repos) -> tuple[str, Markup]:
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
    return f"{_progress(data, SignUp.group, t)}\n{t('signup-ask-group')}", inline_rows(buttons)


async def _ask_consent(data: dict[str, Any], t: BoundTranslator, repo: Repos) -> tuple[str, Markup]:
    """The notice before any question: who keeps the data (the centre), what, for how
    long; agreeing goes on, declining leaves with nothing kept."""
    course = await repo.catalogue.course(data["course_id"])
    centre = await repo.catalogue.centre(course.centre_id) if course else None
    markup = inline_rows(
        [
            InlineKeyboardButton(
                text=t.plain("signup-consent-agree"),
                callback_data=SignupCB(action=SignupAction.consent).pack(),
            ),
            InlineKeyboardButton(
                text=t.plain("signup-consent-decline"),
                callback_data=SignupCB(action=SignupAction.decline).pack(),
            ),
        ],
        width=2,
    )
    notice = t(
        "signup-consent-notice",
        centre=t.pick(centre.name) if centre else "—",
        days=data.get("form_days", 30),
    )
    return f"{_progress(data, SignUp.consent, t)}\n{notice}", markup


async def _ask_course(data: dict[str, Any], t: BoundTranslator, repo: Repos) -> tuple[str, Markup]:
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
    return t("signup-ask-course"), inline_rows(buttons)


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
    extra = await summary_lines(data, t, repo)
    return "\n".join(
        [
            t(
                "signup-summary",
                course=t.pick(course.title) if course else "—",
                centre=t.pick(centre.name) if centre else "—",
                group=t.pick(group.name) if group else t.plain("signup-any-group"),
                name=data["full_name"],
                phone=data["phone"],
                district=district_name,
            ),
            *extra,
        ]
    )


async def _ask_confirm(data: dict[str, Any], t: BoundTranslator, repo: Repos) -> tuple[str, Markup]:
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
    if data.get("questions"):
        rows.append([edit("q-edit", EditField.questions)])
    return await summary_text(data, t, repo), InlineKeyboardMarkup(inline_keyboard=rows)
