"""Find a person (name part in any script, phone in any format, application number) and
the person card: contact data, applications with their status history, groups,
attendance, announcements received and conversations. Group screens list their members
with a link to each card. Every handler checks the role and the centre."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.config import Settings
from bot.filters import HasText
from bot.formatting import fmt_date, fmt_datetime, status_label
from bot.i18n import LANGUAGE_NAMES, BoundTranslator
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.staff_callbacks import CancelCB, CourseAction, CoursesCB
from bot.staff_menu import StaffMenuCB, StaffSection
from bot.support.cards import (
    DEFAULT_TZ,
    ConvAction,
    ConvCB,
    PersonAction,
    PersonCB,
    person_name,
    staff_name,
)
from bot.support.names import parse_query, search
from bot.support.scope import staff_centres
from bot.telegram_utils import show, split_text
from db.repo import Repos
from handlers.staff.common import clip, home_button, stale
from handlers.support.staff import StaffPlace

router = FeatureRouter(__name__)
router.message.filter(StaffPlace(), RoleFilter())
router.callback_query.filter(StaffPlace(), RoleFilter())

RESULTS = 15
EVENT_KEYS = {
    "application.accept": "status-accepted",
    "application.promote": "status-accepted",
    "application.waitlist": "status-waitlisted",
    "application.reject": "status-rejected",
    "application.move": "support-history-moved",
}


class PeopleForm(StatesGroup):
    query = State()


async def may_open(repo: Repos, settings: Settings, staff_id: int, user_id: int) -> bool:
    """A staff member may open the card of a person of one of their centres."""
    centres = await staff_centres(repo, settings, staff_id)
    if centres is None:
        return True
    return bool(set(centres) & await repo.people.centres_of(user_id))


def _search_markup(t: BoundTranslator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=t.plain("btn-cancel"), callback_data=CancelCB().pack()),
            ]
        ]
    )


@router.callback_query(StaffMenuCB.filter(F.section == StaffSection.people))
@router.callback_query(PersonCB.filter(F.action == PersonAction.search))
async def ask_query(callback: CallbackQuery, state: FSMContext, t: BoundTranslator) -> None:
    if not isinstance(callback.message, Message) or callback.message.chat.type != "private":
        return
    await state.set_state(PeopleForm.query)
    await show(callback, t("support-find-ask"), _search_markup(t))


@router.message(StateFilter(PeopleForm.query), HasText())
async def run_query(message: Message, t: BoundTranslator, repo: Repos, settings: Settings) -> None:
    if message.chat.type != "private" or message.text is None or message.from_user is None:
        return
    query = parse_query(message.text[:100])
    if not (query.name or query.phone or query.application_id is not None):
        await message.answer(t("support-find-too-short"), reply_markup=_search_markup(t))
        return
    centres = await staff_centres(repo, settings, message.from_user.id)
    found = search(query, await repo.people.candidates(centres), limit=RESULTS)
    if not found:
        await message.answer(t("support-find-none"), reply_markup=_search_markup(t))
        return
    rows = []
    for person in found:
        name = (
            person.full_names[0] if person.full_names else person.first_name or str(person.user_id)
        )
        phone = person.phones[0] if person.phones else ""
        numbers = " ".join(f"№{i}" for i in person.application_ids[:3])
        rows.append(
            [
                InlineKeyboardButton(
                    text=clip(" · ".join(p for p in (name, phone, numbers) if p), 60),
                    callback_data=PersonCB(action=PersonAction.card, id=person.user_id).pack(),
                )
            ]
        )
    rows.append([InlineKeyboardButton(text=t.plain("btn-cancel"), callback_data=CancelCB().pack())])
    await message.answer(
        t("support-find-results", count=len(found)),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
    )


@router.message(StateFilter(PeopleForm.query))
async def query_not_text(message: Message, t: BoundTranslator) -> None:
    await message.answer(t("support-find-ask"), reply_markup=_search_markup(t))


async def person_card(
    t: BoundTranslator, repo: Repos, user_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    user = await repo.users.get(user_id)
    apps = await repo.applications.for_user(user_id)
    lines: list[str] = []
    name = person_name(user, user_id, apps[0].full_name if apps else None)
    locale = (user.locale or user.language_code) if user else None
    lines.append(
        t(
            "support-person-head",
            name=name,
            id=user_id,
            telegram=person_name(user, user_id),
            language=LANGUAGE_NAMES.get(locale or "", locale or "—"),
            state=t.plain(
                "support-person-active" if user and user.is_active else "support-person-blocked"
            ),
        )
    )
    phones = sorted({a.phone for a in apps})
    lines.append(t("support-person-phones", phones=", ".join(phones) or "—"))
    if user is not None:
        lines.append(
            t(
                "support-person-since",
                since=fmt_date(user.created_at.date(), t.locale),
                consent=fmt_date(user.consent_at.date(), t.locale) if user.consent_at else "—",
            )
        )
    # Applications with their status history.
    history = await repo.people.status_history([a.id for a in apps])
    lines += ["", t("support-person-applications", count=len(apps))]
    groups: list[str] = []
    for app in apps:
        course = await repo.catalogue.course(app.course_id)
        centre = await repo.catalogue.centre(course.centre_id) if course else None
        tz = centre.timezone if centre else DEFAULT_TZ
        group = await repo.catalogue.group(app.group_id) if app.group_id else None
        lines.append(
            t(
                "support-person-application",
                id=app.id,
                course=t.pick(course.title) if course else "—",
                centre=t.pick(centre.city) if centre else "—",
                status=status_label(t, app.status),
            )
        )
        steps = [t("support-history-submitted", when=fmt_datetime(app.created_at, tz, t.locale))]
        for event in (e for e in history if e.application_id == app.id):
            key = EVENT_KEYS.get(event.action)
            if key is None:
                continue
            steps.append(
                t(
                    "support-history-step",
                    what=t.plain(key),
                    when=fmt_datetime(event.at, tz, t.locale),
                    by=await staff_name(repo, event.actor_id) if event.actor_id else "—",
                )
            )
        if app.status == "cancelled":
            steps.append(
                t(
                    "support-history-cancelled",
                    when=fmt_datetime(app.updated_at, tz, t.locale),
                )
            )
        lines += [f"  {s}" for s in steps]
        if app.reason:
            lines.append("  " + t("my-app-reason", reason=app.reason))
        if group is not None and app.status == "accepted":
            groups.append(f"{t.pick(group.name)} ({t.pick(course.title) if course else '—'})")
    lines += ["", t("support-person-groups", groups="; ".join(groups) or "—")]
    yes, no, present, absent = await repo.people.attendance_counts(user_id)
    lines.append(t("support-person-attendance", yes=yes, no=no, present=present, absent=absent))
    for entry in await repo.people.attendance(user_id, limit=5):
        answer = {"yes": "✅", "no": "❌"}.get(entry.answer or "", "·")
        mark = (
            {True: "🟢", False: "🔴"}.get(entry.present, "·") if entry.present is not None else "·"
        )
        lines.append(f"  {fmt_datetime(entry.starts_at, DEFAULT_TZ, t.locale)} {answer} {mark}")
    announcements = await repo.people.announcements(user_id, limit=3)
    lines.append(
        t(
            "support-person-announcements",
            count=await repo.people.announcement_count(user_id),
            last=fmt_date(announcements[0].sent_at.date(), t.locale)
            if announcements and announcements[0].sent_at
            else "—",
        )
    )
    conversations = await repo.conversations.for_user(user_id)
    lines.append(t("support-person-conversations", count=len(conversations)))
    rows: list[list[InlineKeyboardButton]] = []
    for conversation, count in conversations[:5]:
        state = t.plain("support-state-open" if conversation.is_open else "support-state-closed")
        label = t.plain(
            "support-person-conversation",
            id=conversation.id,
            state=state,
            count=count,
            date=fmt_date(conversation.created_at.date(), t.locale),
        )
        lines.append("  " + label)
        rows.append(
            [
                InlineKeyboardButton(
                    text=clip("💬 " + label, 60),
                    callback_data=ConvCB(action=ConvAction.view, id=conversation.id).pack(),
                )
            ]
        )
    rows.append([home_button(t)])
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(PersonCB.filter(F.action == PersonAction.card))
async def open_person(
    callback: CallbackQuery,
    callback_data: PersonCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    if not await may_open(repo, settings, callback.from_user.id, callback_data.id):
        stale(t, callback_answer)
        return
    if await repo.users.get(callback_data.id) is None:
        stale(t, callback_answer)
        return
    await state.clear()
    text, markup = await person_card(t, repo, callback_data.id)
    message = callback.message
    if not isinstance(message, Message):
        return
    chunks = split_text(text)
    # A new message: the card or list it was opened from stays where it is.
    for chunk in chunks[:-1]:
        await message.answer(chunk)
    await message.answer(chunks[-1], reply_markup=markup)


@router.callback_query(PersonCB.filter(F.action == PersonAction.members))
async def group_members(
    callback: CallbackQuery,
    callback_data: PersonCB,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    context = await repo.courses.group_context(callback_data.id)
    if context is None:
        stale(t, callback_answer)
        return
    centres = await staff_centres(repo, settings, callback.from_user.id)
    if centres is not None and context.centre.id not in centres:
        stale(t, callback_answer)
        return
    members = await repo.people.group_members(context.group.id)
    rows = [
        [
            InlineKeyboardButton(
                text=clip(name, 60),
                callback_data=PersonCB(action=PersonAction.card, id=user_id).pack(),
            )
        ]
        for user_id, name in members[:90]
    ]
    rows.append(
        [
            InlineKeyboardButton(
                text=t.plain("btn-back"),
                callback_data=CoursesCB(action=CourseAction.group, id=context.group.id).pack(),
            ),
            home_button(t),
        ]
    )
    await show(
        callback,
        t(
            "support-group-members",
            group=t.pick(context.group.name),
            course=t.pick(context.course.title),
            count=len(members),
        ),
        InlineKeyboardMarkup(inline_keyboard=rows),
    )


__all__ = ["router"]
