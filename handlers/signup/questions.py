"""Asking each step's question with its keyboard, and the summary to confirm."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
)

from bot.callbacks import EditField, SignupAction, SignupCB
from bot.formatting import weekly_pattern
from bot.i18n import BoundTranslator
from bot.keyboards import form_keyboard, inline_rows
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
    first: Awaitable[object] | None = None,
) -> None:
    """Move the form past ``current`` and ask the next question; ``first`` (the edit
    that shows the answer) is sent after the form moved and before the question."""
    data = await state.get_data()
    questions = data.get("questions") or []
    if current == SignUp.question and int(data.get("q_index", 0)) + 1 < len(questions):
        # The next extra question (also when editing: the answers are walked through).
        await state.update_data(q_index=int(data.get("q_index", 0)) + 1, q_multi=[])
        await ask(SignUp.question, state, message, t, repo, first=first)
        return
    if data.get("editing"):
        missing = first_unanswered(data)
        if missing is not None:
            # A new course asks questions not answered yet.
            await state.update_data(q_index=missing, q_multi=[])
            await ask(SignUp.question, state, message, t, repo, first=first)
            return
        await ask(SignUp.confirm, state, message, t, repo, first=first)
        return
    steps = steps_of(data)
    await ask(steps[steps.index(current) + 1], state, message, t, repo, first=first)


# ---- questions ------------------------------------------------------------------------


async def ask(
    step: State,
    state: FSMContext,
    message: Message,
    t: BoundTranslator,
    repo: Repos,
    *,
    first: Awaitable[object] | None = None,
) -> None:
    """Put the form on ``step`` and send its question.

    The answer and the new step are saved together, once, before anything is sent (the
    update's unit of work is written before its first Bot API request), so ``first`` —
    the message that shows the answer — comes after the state is set, not before.
    """
    await state.set_state(step)
    if first is not None:
        await first
    data = await state.get_data()
    if step == SignUp.name:
        await _ask_name(data, message, t)
    elif step == SignUp.phone:
        await _ask_phone(data, message, t)
    elif step == SignUp.district:
        await ask_district(data, message, t, repo)
    elif step == SignUp.group:
        await _ask_group(data, message, t, repo)
    elif step == SignUp.consent:
        await _ask_consent(data, message, t, repo)
    elif step == SignUp.course:
        await _ask_course(data, message, t, repo)
    elif step == SignUp.question:
        await ask_question(data, message, t, repo)
    else:
        await _ask_confirm(data, message, t, repo)


def _progress(data: dict[str, Any], step: State, t: BoundTranslator) -> str:
    number, total = step_number(data, step)
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


async def ask_district(
    data: dict[str, Any], message: Message, t: BoundTranslator, repo: Repos
) -> None:
    region_id = data.get("region_id")
    if region_id is None:
        await ask_region(data, message, t, repo)
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


async def ask_region(
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


async def _ask_consent(
    data: dict[str, Any], message: Message, t: BoundTranslator, repo: Repos
) -> None:
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
    await message.answer(f"{_progress(data, SignUp.consent, t)}\n{notice}", reply_markup=markup)


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
    if data.get("questions"):
        rows.append([edit("q-edit", EditField.questions)])
    await message.answer(
        await summary_text(data, t, repo), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
    )
