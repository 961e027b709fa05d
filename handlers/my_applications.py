"""A citizen's own applications and data: status, withdraw, see and delete what is stored."""

from __future__ import annotations

import logging

from aiogram import Bot, F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardRemove,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.callbacks import CatAction, CatCB, MyAction, MyCB
from bot.config import Settings
from bot.filters import PrivateChat, TextKey
from bot.formatting import fmt_date, reason_text, status_label
from bot.i18n import LANGUAGE_NAMES, BoundTranslator, Translator
from bot.navigation import leave_form
from bot.outcomes import MyCoursesCB
from bot.routing import FeatureRouter
from bot.support.scope import centre_hours
from bot.telegram_utils import show, split_text
from db.dto import ApplicationDTO, CentreDTO, UserDTO
from db.repo import Repos
from db.repo.applications import EnrolmentError
from handlers.my_courses import stored_outcomes
from handlers.staff.decisions import (
    announce_promotions,
    seat_freed,
    staff_chat_erased,
    staff_chat_withdrawn,
)

log = logging.getLogger(__name__)
router = FeatureRouter(__name__)
router.message.filter(PrivateChat())
router.callback_query.filter(PrivateChat())


async def _app_block(t: BoundTranslator, repo: Repos, app: ApplicationDTO) -> str:
    course = await repo.catalogue.course(app.course_id)
    centre = await repo.catalogue.centre(course.centre_id) if course else None
    group = await repo.catalogue.group(app.group_id) if app.group_id else None
    lines = [
        t(
            "my-app-title",
            id=app.id,
            course=t.pick(course.title) if course else "—",
            centre=t.pick(centre.name) if centre else "—",
        ),
        t("my-app-status", status=status_label(t, app.status)),
    ]
    if group is not None:
        lines.append(t("my-app-group", group=t.pick(group.name)))
    if app.status == "waitlisted":
        position = await repo.applications.waitlist_position(app.id)
        if position:
            lines.append(t("my-app-position", position=position))
    if app.status == "rejected" and app.reason:
        lines.append(t("my-app-reason", reason=reason_text(t, app.reason)))
    lines += await _history_lines(t, repo, app, centre)
    return "\n".join(lines)


NEXT_STEP = {
    "pending": "my-app-next-pending",
    "accepted": "my-app-next-accepted",
    "waitlisted": "my-app-next-waitlisted",
}
HISTORY_STATUS = {
    "application.accept": "accepted",
    "application.promote": "accepted",
    "application.waitlist": "waitlisted",
    "application.reject": "rejected",
}


async def _history_lines(
    t: BoundTranslator, repo: Repos, app: ApplicationDTO, centre: CentreDTO | None
) -> list[str]:
    """When it was submitted, each status since with its date, what happens next and
    the centre's contacts (address, and phones and hours where the catalogue has them)."""
    lines = [t("my-app-submitted", date=fmt_date(app.created_at.date(), t.locale))]
    for event in await repo.people.status_history([app.id]):
        status = HISTORY_STATUS.get(event.action)
        if status is not None:
            lines.append(
                "  "
                + t(
                    "my-app-history-step",
                    status=status_label(t, status),
                    date=fmt_date(event.at.date(), t.locale),
                )
            )
    if app.status == "cancelled":
        lines.append(
            "  "
            + t(
                "my-app-history-step",
                status=status_label(t, "cancelled"),
                date=fmt_date(app.updated_at.date(), t.locale),
            )
        )
    lines.append(t(NEXT_STEP.get(app.status, "my-app-next-closed")))
    if centre is not None:
        lines.append(
            t("my-app-contacts", centre=t.pick(centre.name), address=t.pick(centre.address))
        )
        phones = getattr(getattr(centre, "contacts", None), "phones", None)
        if phones:
            lines.append(t("my-app-phones", phones=", ".join(phones)))
        hours = centre_hours(centre, t.locale)
        if hours:
            lines.append(t("my-app-hours", hours=hours))
    return lines


async def applications_view(
    t: BoundTranslator, repo: Repos, user_id: int
) -> tuple[list[str], InlineKeyboardMarkup]:
    apps = await repo.applications.for_user(user_id)
    if not apps:
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=t.plain("menu-catalogue"),
                        callback_data=CatCB(action=CatAction.centres).pack(),
                    )
                ]
            ]
        )
        return [t("my-apps-empty")], markup
    blocks = [t("my-apps-header")]
    rows: list[list[InlineKeyboardButton]] = []
    for app in apps[:30]:
        blocks.append(await _app_block(t, repo, app))
        if app.is_live:
            course = await repo.catalogue.course(app.course_id)
            title = t.pick(course.title) if course else str(app.id)
            rows.append(
                [
                    InlineKeyboardButton(
                        text=t.plain("my-withdraw-button", course=title)[:64],
                        callback_data=MyCB(action=MyAction.withdraw, id=app.id).pack(),
                    )
                ]
            )
    blocks.append(t("my-apps-ask"))
    if any(app.status == "accepted" for app in apps):
        rows.append(
            [
                InlineKeyboardButton(
                    text=t.plain("mycourses-button"),
                    callback_data=MyCoursesCB(action="l").pack(),
                )
            ]
        )
    return split_text("\n\n".join(blocks)), InlineKeyboardMarkup(inline_keyboard=rows)


@router.message(Command("my"))
@router.message(TextKey("menu-my-applications"))
async def my_applications(
    message: Message,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
) -> None:
    await leave_form(message, state, t, repo, settings)
    chunks, markup = await applications_view(t, repo, user.id)
    for chunk in chunks[:-1]:
        await message.answer(chunk)
    await message.answer(chunks[-1], reply_markup=markup)


# MyCB(action=list, id=IN_PLACE) replaces the pressed message with the list (the "No" of a
# withdraw question); any other id sends the list as a new message (from a course card).
IN_PLACE = 1


@router.callback_query(MyCB.filter(F.action == MyAction.list))
async def my_applications_cb(
    callback: CallbackQuery, callback_data: MyCB, user: UserDTO, t: BoundTranslator, repo: Repos
) -> None:
    chunks, markup = await applications_view(t, repo, user.id)
    if not isinstance(callback.message, Message):
        return
    if callback_data.id == IN_PLACE:
        # Back from the withdraw question: the question must not stay answerable.
        await show(callback, chunks[0], markup if len(chunks) == 1 else None)
        chunks = chunks[1:]
    for number, chunk in enumerate(chunks, 1):
        await callback.message.answer(chunk, reply_markup=markup if number == len(chunks) else None)


@router.callback_query(MyCB.filter(F.action == MyAction.withdraw))
async def ask_withdraw(
    callback: CallbackQuery,
    callback_data: MyCB,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    app = await repo.applications.get(callback_data.id)
    if app is None or app.user_id != user.id or not app.is_live:
        callback_answer.text = t.plain("error-stale-button")
        callback_answer.show_alert = True
        return
    course = await repo.catalogue.course(app.course_id)
    # Only an accepted application holds a seat that goes to the waitlist.
    key = {
        "accepted": "my-withdraw-confirm-accepted",
        "waitlisted": "my-withdraw-confirm-waitlisted",
    }.get(app.status, "my-withdraw-confirm")
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t.plain("my-withdraw-yes"),
                    callback_data=MyCB(action=MyAction.withdraw_yes, id=app.id).pack(),
                ),
                InlineKeyboardButton(
                    text=t.plain("btn-no"),
                    callback_data=MyCB(action=MyAction.list, id=IN_PLACE).pack(),
                ),
            ]
        ]
    )
    await show(callback, t(key, course=t.pick(course.title) if course else "—"), markup)


@router.callback_query(MyCB.filter(F.action == MyAction.withdraw_yes))
async def do_withdraw(
    callback: CallbackQuery,
    callback_data: MyCB,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    callback_answer: CallbackAnswer,
) -> None:
    try:
        outcome = await repo.applications.cancel_by_user(user.id, callback_data.id)
    except EnrolmentError:
        callback_answer.text = t.plain("error-stale-button")
        callback_answer.show_alert = True
        return
    await show(callback, t("my-withdrawn", id=outcome.application.id))
    await staff_chat_withdrawn(
        bot,
        settings,
        translator,
        repo,
        outcome.application,
        outcome.previous_status,
        outcome.promoted,
    )


# ---- my data ------------------------------------------------------------------------


async def data_view(t: BoundTranslator, repo: Repos, user: UserDTO) -> str:
    lines = [
        t("my-data-header"),
        t(
            "my-data-telegram",
            id=user.id,
            name=user.first_name or "—",
            username=("@" + user.username) if user.username else "—",
        ),
        t("my-data-language", language=LANGUAGE_NAMES.get(t.locale, t.locale)),
        t(
            "my-data-consent",
            consent=fmt_date(user.consent_at.date(), t.locale) if user.consent_at else "—",
        ),
        t(
            "my-data-reminders",
            state=t.plain("state-on") if user.reminders_enabled else t.plain("state-off"),
        ),
    ]
    for app in await repo.applications.for_user(user.id):
        course = await repo.catalogue.course(app.course_id)
        district = await repo.catalogue.district(app.district_id) if app.district_id else None
        lines.append(
            t(
                "my-data-application",
                id=app.id,
                course=t.pick(course.title) if course else "—",
                name=app.full_name,
                phone=app.phone,
                district=t.pick(district.name) if district else "—",
                status=status_label(t, app.status),
            )
        )
        lines.extend(await stored_outcomes(t, repo, app.id))
    conversations = await repo.conversations.for_user(user.id)
    if conversations:
        lines.append(t("my-data-conversations", count=len(conversations)))
    lines.append(t("my-data-footer"))
    return "\n".join(lines)


def data_keyboard(t: BoundTranslator, user: UserDTO) -> InlineKeyboardMarkup:
    toggle = "my-reminders-off" if user.reminders_enabled else "my-reminders-on"
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t.plain(toggle), callback_data=MyCB(action=MyAction.reminders).pack()
                )
            ],
            [
                InlineKeyboardButton(
                    text=t.plain("my-erase-button"),
                    callback_data=MyCB(action=MyAction.erase).pack(),
                )
            ],
        ]
    )


@router.message(TextKey("menu-my-data"))
async def my_data(
    message: Message,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
) -> None:
    await leave_form(message, state, t, repo, settings)
    chunks = split_text(await data_view(t, repo, user))
    for chunk in chunks[:-1]:
        await message.answer(chunk)
    await message.answer(chunks[-1], reply_markup=data_keyboard(t, user))


@router.callback_query(MyCB.filter(F.action == MyAction.reminders))
async def toggle_reminders(
    callback: CallbackQuery,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    await repo.users.set_reminders(user.id, not user.reminders_enabled)
    fresh = await repo.users.get(user.id)
    if fresh is None:
        return
    callback_answer.text = t.plain(
        "my-reminders-now-on" if fresh.reminders_enabled else "my-reminders-now-off"
    )
    text = split_text(await data_view(t, repo, fresh))[-1]
    await show(callback, text, data_keyboard(t, fresh))


@router.callback_query(MyCB.filter(F.action == MyAction.erase))
async def ask_erase(callback: CallbackQuery, t: BoundTranslator) -> None:
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t.plain("my-erase-yes"),
                    callback_data=MyCB(action=MyAction.erase_yes).pack(),
                ),
                InlineKeyboardButton(
                    text=t.plain("btn-no"), callback_data=MyCB(action=MyAction.data).pack()
                ),
            ]
        ]
    )
    await show(callback, t("my-erase-confirm"), markup)


@router.callback_query(MyCB.filter(F.action == MyAction.data))
async def back_to_data(
    callback: CallbackQuery, user: UserDTO, t: BoundTranslator, repo: Repos
) -> None:
    await show(callback, split_text(await data_view(t, repo, user))[-1], data_keyboard(t, user))


@router.callback_query(MyCB.filter(F.action == MyAction.erase_yes))
async def do_erase(
    callback: CallbackQuery,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
) -> None:
    promoted: list[ApplicationDTO] = []
    freed: list[ApplicationDTO] = []
    apps = await repo.applications.for_user(user.id)
    for app in apps:
        if not app.is_live:
            continue
        try:
            outcome = await repo.applications.cancel_by_user(user.id, app.id)
        except EnrolmentError:
            continue
        promoted += outcome.promoted
        if outcome.previous_status == "accepted":
            freed.append(outcome.application)
    await state.clear()
    await repo.users.erase(user.id)
    await show(callback, t("my-erased"))
    if callback.message is not None:
        await bot.send_message(
            callback.message.chat.id, t("my-erased-restart"), reply_markup=ReplyKeyboardRemove()
        )
    await staff_chat_erased(bot, settings, translator, repo, [a.id for a in apps])
    try:
        for app in freed:
            await seat_freed(bot, settings, translator, repo, app)
        await announce_promotions(bot, settings, translator, repo, promoted)
    except Exception:  # logged; the applicant's flow is over already
        log.exception("staff chat not updated after a data erasure")
