"""Courses and groups: open or close enrolment, change a group's capacity, add a group."""

from __future__ import annotations

from aiogram import Bot, F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.config import Settings
from bot.filters import HasText
from bot.i18n import BoundTranslator, Translator
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.staff_callbacks import CourseAction, CoursesCB, ScheduleAction, ScheduleCB
from bot.staff_menu import StaffMenuCB, StaffSection
from bot.support.cards import PersonAction, PersonCB
from bot.telegram_utils import show, split_text
from db.dto import ApplicationDTO, StaffScope, UserDTO
from db.repo import Repos
from db.repo.applications import EnrolmentError
from db.repo.courses import GROUP_NAME_MAX, MAX_CAPACITY
from handlers.staff.common import (
    StaffChats,
    StaffForm,
    StaffTraffic,
    cancel_markup,
    clip,
    course_names,
    home_button,
    stale,
)
from handlers.staff.decisions import announce_promotions
from handlers.staff.scope import context_in_scope, course_in_scope, group_in_scope

router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(), StaffChats())
router.callback_query.filter(StaffTraffic(), RoleFilter(), StaffChats())


def cb_button(
    text: str, action: CourseAction, id_: int = 0, value: int = 0
) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text[:64], callback_data=CoursesCB(action=action, id=id_, value=value).pack()
    )


async def courses_view(
    t: BoundTranslator, repo: Repos, scope: StaffScope
) -> tuple[str, InlineKeyboardMarkup]:
    overview = await repo.courses.overview(scope.centre_ids)
    names = await course_names(t, repo, scope)
    lines = [t("staff-courses-header")]
    rows: list[list[InlineKeyboardButton]] = []
    for item in overview:
        c = item.course
        mark = "🟢" if c.enrolment_open else "🔒"
        lines.append(
            t(
                "staff-courses-line",
                mark=mark,
                title=t.pick(c.title),
                centre=t.pick(item.centre_name),
                taken=c.seats_taken,
                capacity=c.capacity,
                pending=item.pending,
                waitlisted=item.waitlisted,
            )
        )
        rows.append([cb_button(f"{mark} {clip(names[c.id], 60)}", CourseAction.course, c.id)])
    if not overview:
        lines.append(t("staff-courses-empty"))
    rows.append(
        [
            InlineKeyboardButton(
                text=t.plain("schedule-btn-import"),
                callback_data=ScheduleCB(action=ScheduleAction.imports).pack(),
            )
        ]
    )
    rows.append([home_button(t)])
    return split_text("\n".join(lines))[0], InlineKeyboardMarkup(inline_keyboard=rows)


async def course_view(
    t: BoundTranslator, repo: Repos, course_id: int, scope: StaffScope
) -> tuple[str, InlineKeyboardMarkup] | None:
    course = await course_in_scope(repo, scope, course_id)
    if course is None:
        return None
    centre = await repo.catalogue.centre(course.centre_id)
    pending, waitlisted = await repo.courses.queue(course.id)
    groups = await repo.catalogue.groups(course.id)
    lines = [
        t(
            "staff-course-card",
            title=t.pick(course.title),
            centre=t.pick(centre.name) if centre else "—",
            state=t.plain(
                "staff-enrolment-open" if course.enrolment_open else "staff-enrolment-closed"
            ),
            taken=course.seats_taken,
            capacity=course.capacity,
            pending=pending,
            waitlisted=waitlisted,
        )
    ]
    for g in groups:
        lines.append(
            t("staff-group-line", group=t.pick(g.name), taken=g.seats_taken, capacity=g.capacity)
        )
    toggle = (
        cb_button(t.plain("staff-btn-close-enrolment"), CourseAction.enrolment, course.id, 0)
        if course.enrolment_open
        else cb_button(t.plain("staff-btn-open-enrolment"), CourseAction.enrolment, course.id, 1)
    )
    rows = [[toggle]]
    rows += [
        [
            cb_button(
                t.plain(
                    "staff-group-seats",
                    group=t.pick(g.name),
                    taken=g.seats_taken,
                    capacity=g.capacity,
                ),
                CourseAction.group,
                g.id,
            )
        ]
        for g in groups
    ]
    rows.append([cb_button(t.plain("staff-btn-add-group"), CourseAction.add_group, course.id)])
    rows.append([cb_button(t.plain("btn-back"), CourseAction.list), home_button(t)])
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


async def group_view(
    t: BoundTranslator, repo: Repos, group_id: int, scope: StaffScope
) -> tuple[str, InlineKeyboardMarkup] | None:
    context = await context_in_scope(repo, scope, group_id)
    if context is None:
        return None
    g = context.group
    text = t(
        "staff-group-card",
        course=t.pick(context.course.title),
        group=t.pick(g.name),
        taken=g.seats_taken,
        capacity=g.capacity,
    )
    steps = [
        (f"−{-d}" if d < 0 else f"+{d}", g.capacity + d)
        for d in (-5, -1, 1, 5)
        if max(g.seats_taken, 1) <= g.capacity + d <= MAX_CAPACITY
    ]
    rows = [[cb_button(label, CourseAction.capacity, g.id, value) for label, value in steps]]
    rows.append([cb_button(t.plain("staff-btn-capacity"), CourseAction.capacity_ask, g.id)])
    rows.append(
        [
            InlineKeyboardButton(
                text=t.plain("schedule-btn-sessions"),
                callback_data=ScheduleCB(action=ScheduleAction.sessions, id=g.id).pack(),
            ),
            # The group's trainees, each opening their person card (issue 12).
            InlineKeyboardButton(
                text=t.plain("support-btn-members"),
                callback_data=PersonCB(action=PersonAction.members, id=g.id).pack(),
            ),
        ]
    )
    rows.append(
        [cb_button(t.plain("btn-back"), CourseAction.course, context.course.id), home_button(t)]
    )
    return text, InlineKeyboardMarkup(inline_keyboard=[r for r in rows if r])


async def change_capacity(
    group_id: int,
    capacity: int,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
) -> str:
    """Set a capacity; a raised one promotes from the waitlist. Returns a plain toast."""
    if not 1 <= capacity <= MAX_CAPACITY:
        return t.plain("staff-capacity-invalid", max=MAX_CAPACITY)
    try:
        before, promoted = await repo.applications.set_group_capacity(
            group_id, capacity, actor_id=user.id
        )
    except EnrolmentError as exc:
        group = await repo.catalogue.group(group_id)
        if exc.code == "below_taken" and group is not None:
            return t.plain("staff-capacity-below-taken", taken=group.seats_taken)
        return t.plain("error-stale-button")
    await announce_promotions(bot, settings, translator, repo, promoted)
    return _capacity_done(t, before, capacity, promoted)


def _capacity_done(
    t: BoundTranslator, before: int, capacity: int, promoted: list[ApplicationDTO]
) -> str:
    text = t.plain("staff-capacity-done", before=before, capacity=capacity)
    if promoted:
        text += " " + t.n_plain("staff-promoted", len(promoted))
    return text


async def read_capacity(message: Message, t: BoundTranslator) -> int | None:
    """A typed capacity (1 to MAX_CAPACITY), or None once the staff member was told what
    to send; the form stays open for another try."""
    raw = (message.text or "").strip()
    # ASCII digits only: str.isdigit() also passes "²", which int() refuses.
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_CAPACITY:
        return int(raw)
    await message.answer(
        t("staff-capacity-invalid", max=MAX_CAPACITY), reply_markup=cancel_markup(t)
    )
    return None


# ---- handlers ---------------------------------------------------------------------------


@router.callback_query(StaffMenuCB.filter(F.section == StaffSection.courses))
@router.callback_query(CoursesCB.filter(F.action == CourseAction.list))
async def open_section(
    callback: CallbackQuery, t: BoundTranslator, repo: Repos, scope: StaffScope
) -> None:
    text, markup = await courses_view(t, repo, scope)
    await show(callback, text, markup)


@router.callback_query(CoursesCB.filter(F.action == CourseAction.course))
async def on_course(
    callback: CallbackQuery,
    callback_data: CoursesCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    view = await course_view(t, repo, callback_data.id, scope)
    if view is None:
        stale(t, callback_answer)
        return
    await show(callback, *view)


@router.callback_query(CoursesCB.filter(F.action == CourseAction.enrolment))
async def on_enrolment(
    callback: CallbackQuery,
    callback_data: CoursesCB,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    if callback_data.value not in (0, 1) or not await course_in_scope(
        repo, scope, callback_data.id
    ):
        stale(t, callback_answer)
        return
    try:
        await repo.courses.set_enrolment(
            callback_data.id, bool(callback_data.value), actor_id=user.id
        )
    except EnrolmentError:
        stale(t, callback_answer)
        return
    callback_answer.text = t.plain(
        "staff-enrolment-opened" if callback_data.value else "staff-enrolment-closed-done"
    )
    view = await course_view(t, repo, callback_data.id, scope)
    if view is not None:
        await show(callback, *view)


@router.callback_query(CoursesCB.filter(F.action == CourseAction.group))
async def on_group(
    callback: CallbackQuery,
    callback_data: CoursesCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    view = await group_view(t, repo, callback_data.id, scope)
    if view is None:
        stale(t, callback_answer)
        return
    await show(callback, *view)


@router.callback_query(CoursesCB.filter(F.action == CourseAction.capacity))
async def on_capacity(
    callback: CallbackQuery,
    callback_data: CoursesCB,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    if await group_in_scope(repo, scope, callback_data.id) is None:
        stale(t, callback_answer)
        return
    toast = await change_capacity(
        callback_data.id, callback_data.value, user, t, translator, repo, settings, bot
    )
    callback_answer.text = toast[:200]
    view = await group_view(t, repo, callback_data.id, scope)
    if view is not None:
        await show(callback, *view)


@router.callback_query(CoursesCB.filter(F.action == CourseAction.capacity_ask))
async def ask_capacity(
    callback: CallbackQuery,
    callback_data: CoursesCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    group = await group_in_scope(repo, scope, callback_data.id)
    if group is None or callback.message is None:
        stale(t, callback_answer)
        return
    await state.set_state(StaffForm.capacity)
    await state.set_data({"group_id": group.id})
    await show(
        callback,
        t(
            "staff-capacity-ask",
            group=t.pick(group.name),
            taken=group.seats_taken,
            max=MAX_CAPACITY,
        ),
        cancel_markup(t),
    )


@router.message(StateFilter(StaffForm.capacity), HasText())
async def got_capacity(
    message: Message,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    scope: StaffScope,
) -> None:
    capacity = await read_capacity(message, t)
    if capacity is None:
        return
    group_id = (await state.get_data()).get("group_id")
    await state.clear()
    if not isinstance(group_id, int) or await group_in_scope(repo, scope, group_id) is None:
        await message.answer(t("error-stale-button"))
        return
    toast = await change_capacity(group_id, capacity, user, t, translator, repo, settings, bot)
    view = await group_view(t, repo, group_id, scope)
    await message.answer(
        f"{toast}\n\n{view[0]}" if view else toast, reply_markup=view[1] if view else None
    )


@router.callback_query(CoursesCB.filter(F.action == CourseAction.add_group))
async def ask_group_name(
    callback: CallbackQuery,
    callback_data: CoursesCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    course = await course_in_scope(repo, scope, callback_data.id)
    if course is None:
        stale(t, callback_answer)
        return
    await state.set_state(StaffForm.group_name)
    await state.set_data({"course_id": course.id})
    await show(callback, t("staff-group-ask-name", course=t.pick(course.title)), cancel_markup(t))


@router.message(StateFilter(StaffForm.group_name), HasText())
async def got_group_name(message: Message, state: FSMContext, t: BoundTranslator) -> None:
    name = " ".join((message.text or "").split())
    if not name or len(name) > GROUP_NAME_MAX:
        await message.answer(
            t("staff-group-name-invalid", max=GROUP_NAME_MAX), reply_markup=cancel_markup(t)
        )
        return
    await state.update_data(name=name)
    await state.set_state(StaffForm.group_capacity)
    await message.answer(
        t("staff-group-ask-capacity", group=name, max=MAX_CAPACITY), reply_markup=cancel_markup(t)
    )


@router.message(StateFilter(StaffForm.group_capacity), HasText())
async def got_group_capacity(
    message: Message,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    scope: StaffScope,
) -> None:
    capacity = await read_capacity(message, t)
    if capacity is None:
        return
    data = await state.get_data()
    await state.clear()
    course_id, name = data.get("course_id"), data.get("name")
    if (
        not isinstance(course_id, int)
        or not isinstance(name, str)
        or await course_in_scope(repo, scope, course_id) is None
    ):
        await message.answer(t("error-stale-button"))
        return
    try:
        group, promoted = await repo.courses.add_group(course_id, name, capacity, actor_id=user.id)
    except (EnrolmentError, ValueError):
        await message.answer(t("error-stale-button"))
        return
    await announce_promotions(bot, settings, translator, repo, promoted)
    text = t("staff-group-added", group=t.pick(group.name), capacity=group.capacity)
    if promoted:
        text += " " + t.n("staff-promoted", len(promoted))
    view = await group_view(t, repo, group.id, scope)
    await message.answer(
        f"{text}\n\n{view[0]}" if view else text, reply_markup=view[1] if view else None
    )


@router.message(StateFilter(StaffForm.capacity, StaffForm.group_name, StaffForm.group_capacity))
async def expected_text(message: Message, t: BoundTranslator) -> None:
    await message.answer(t("staff-expect-text"), reply_markup=cancel_markup(t))
