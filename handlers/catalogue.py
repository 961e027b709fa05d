"""The course catalogue: centres → courses → a course card, with the centre's location."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.callbacks import CatAction, CatCB, MyAction, MyCB
from bot.config import Settings
from bot.filters import PrivateChat, TextKey
from bot.formatting import course_card
from bot.i18n import BoundTranslator
from bot.keyboards import inline_rows
from bot.navigation import leave_form
from bot.routing import FeatureRouter
from bot.telegram_utils import show
from db.dto import UserDTO
from db.repo import Repos

router = FeatureRouter(__name__)
router.message.filter(PrivateChat())
router.callback_query.filter(PrivateChat())


async def centres_view(t: BoundTranslator, repo: Repos) -> tuple[str, InlineKeyboardMarkup]:
    centres = await repo.catalogue.centres()
    if not centres:
        return t("catalogue-empty"), InlineKeyboardMarkup(inline_keyboard=[])
    buttons = [
        InlineKeyboardButton(
            text=t.plain("catalogue-centre-button", name=t.pick(c.name), city=t.pick(c.city)),
            callback_data=CatCB(action=CatAction.centre, id=c.id).pack(),
        )
        for c in centres
    ]
    return t("catalogue-choose-centre"), inline_rows(buttons)


async def courses_view(
    t: BoundTranslator, repo: Repos, centre_id: int
) -> tuple[str, InlineKeyboardMarkup] | None:
    centre = await repo.catalogue.centre(centre_id)
    if centre is None:
        return None
    buttons = []
    for course in await repo.catalogue.courses(centre_id):
        if not course.enrolment_open:
            mark = "🔒"
        elif course.seats_left <= 0:
            mark = "🕒"
        else:
            mark = "🟢"
        buttons.append(
            InlineKeyboardButton(
                text=f"{mark} {t.pick(course.title)}",
                callback_data=CatCB(action=CatAction.course, id=course.id).pack(),
            )
        )
    buttons.append(
        InlineKeyboardButton(
            text=t.plain("btn-back"), callback_data=CatCB(action=CatAction.centres).pack()
        )
    )
    text = t("catalogue-choose-course", centre=t.pick(centre.name), city=t.pick(centre.city))
    return text, inline_rows(buttons)


async def course_view(
    t: BoundTranslator, repo: Repos, course_id: int, user: UserDTO | None
) -> tuple[str, InlineKeyboardMarkup] | None:
    course = await repo.catalogue.course(course_id)
    if course is None:
        return None
    centre = await repo.catalogue.centre(course.centre_id)
    if centre is None:
        return None
    groups = await repo.catalogue.groups(course.id)
    sessions = await repo.catalogue.sessions([g.id for g in groups], limit=200)
    by_group = [(g, [s for s in sessions if s.group_id == g.id][:21]) for g in groups]
    live = None
    if user is not None:
        live = next(
            (a for a in await repo.applications.live_for_user(user.id) if a.course_id == course.id),
            None,
        )
    text = course_card(t, course, centre, by_group, live)
    rows: list[list[InlineKeyboardButton]] = []
    if live is not None:
        rows.append(
            [
                InlineKeyboardButton(
                    text=t.plain("course-open-my-applications"),
                    callback_data=MyCB(action=MyAction.list).pack(),
                )
            ]
        )
    elif course.enrolment_open:
        key = "course-signup" if course.seats_left > 0 else "course-join-waitlist"
        rows.append(
            [
                InlineKeyboardButton(
                    text=t.plain(key),
                    callback_data=CatCB(action=CatAction.signup, id=course.id).pack(),
                )
            ]
        )
    rows.append(
        [
            InlineKeyboardButton(
                text=t.plain("course-location"),
                callback_data=CatCB(action=CatAction.venue, id=course.id).pack(),
            ),
            InlineKeyboardButton(
                text=t.plain("btn-back"),
                callback_data=CatCB(action=CatAction.centre, id=centre.id).pack(),
            ),
        ]
    )
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def open_course_by_code(
    message: Message, code: str, t: BoundTranslator, repo: Repos, user: UserDTO | None
) -> None:
    course = await repo.catalogue.course_by_code(code)
    view = await course_view(t, repo, course.id, user) if course else None
    if view is None:
        text, markup = await centres_view(t, repo)
        await message.answer(t("catalogue-course-not-found"))
        await message.answer(text, reply_markup=markup)
        return
    await message.answer(view[0], reply_markup=view[1])


@router.message(Command("courses"))
@router.message(TextKey("menu-catalogue"))
async def open_catalogue(
    message: Message, state: FSMContext, t: BoundTranslator, repo: Repos, settings: Settings
) -> None:
    await leave_form(message, state, t, repo, settings)
    text, markup = await centres_view(t, repo)
    await message.answer(text, reply_markup=markup)


@router.callback_query(CatCB.filter(F.action != CatAction.signup))
async def on_catalogue(
    callback: CallbackQuery,
    callback_data: CatCB,
    t: BoundTranslator,
    repo: Repos,
    user: UserDTO,
    callback_answer: CallbackAnswer,
) -> None:
    action = callback_data.action
    if action is CatAction.centres:
        text, markup = await centres_view(t, repo)
        await show(callback, text, markup)
        return
    if action is CatAction.centre:
        view = await courses_view(t, repo, callback_data.id)
    elif action is CatAction.course:
        view = await course_view(t, repo, callback_data.id, user)
    else:  # venue
        course = await repo.catalogue.course(callback_data.id)
        centre = await repo.catalogue.centre(course.centre_id) if course else None
        if centre is None or callback.message is None:
            callback_answer.text = t.plain("error-stale-button")
            callback_answer.show_alert = True
            return
        await callback.bot.send_venue(  # type: ignore[union-attr]
            chat_id=callback.message.chat.id,
            latitude=centre.latitude,
            longitude=centre.longitude,
            title=t.plain("venue-title", name=t.pick(centre.name))[:100],
            address=t.pick(centre.address)[:100],
        )
        return
    if view is None:
        callback_answer.text = t.plain("error-stale-button")
        callback_answer.show_alert = True
        return
    await show(callback, view[0], view[1])
