"""/start, language choice, the main menu, help and cancel."""

from __future__ import annotations

import re

from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.callbacks import LangCB
from bot.config import LOCALES, Settings
from bot.contacts import contacts_block
from bot.filters import TextKey
from bot.i18n import BoundTranslator, Translator
from bot.keyboards import language_picker
from bot.navigation import leave_form, send_main_menu
from bot.routing import FeatureRouter
from bot.telegram_utils import show
from db.dto import UserDTO
from db.repo import Repos
from handlers import catalogue

router = FeatureRouter(__name__)
_PAYLOAD_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@router.message(CommandStart())
async def cmd_start(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
) -> None:
    await state.clear()
    payload = command.args.strip() if command.args else None
    if payload and not _PAYLOAD_RE.match(payload):
        payload = None
    if user.id in settings.admin_ids:
        await repo.staff.ensure_admins(frozenset({user.id}))
    course_code = centre_code = None
    if payload:
        if payload.startswith("c_"):
            course_code = payload[2:]
        elif payload.startswith("ctr_"):
            centre_code = payload[4:]
        else:
            await repo.users.set_source_if_empty(user.id, payload)
    if user.locale is None:
        # First visit: choose the language first (Telegram's language pre-selected).
        if course_code or centre_code:
            await state.update_data(pending_course=course_code, pending_centre=centre_code)
        await message.answer(t("start-choose-language"), reply_markup=language_picker(t.locale))
        return
    await send_main_menu(message, t, repo, settings, "start-welcome-back")
    if course_code:
        await catalogue.open_course_by_code(message, course_code, t, repo, user)
    elif centre_code:
        await catalogue.open_centre_by_code(message, centre_code, t, repo)


@router.message(Command("language"))
@router.message(TextKey("menu-language"))
async def ask_language(
    message: Message, state: FSMContext, t: BoundTranslator, repo: Repos, settings: Settings
) -> None:
    await leave_form(message, state, t, repo, settings)
    await message.answer(t("language-choose"), reply_markup=language_picker(t.locale))


@router.callback_query(LangCB.filter())
async def set_language(
    callback: CallbackQuery,
    callback_data: LangCB,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    if callback_data.code not in LOCALES:
        callback_answer.text = t.plain("error-stale-button")
        callback_answer.show_alert = True
        return
    first_time = user.locale is None
    message = callback.message
    if isinstance(message, Message):
        # An old picker pressed inside a form ends the form, and says so. Cleared before
        # anything is shown, so the language and the form are saved in one write.
        had_form = await state.get_state() is not None
        data = await state.get_data()
        await state.clear()
    await repo.users.set_locale(user.id, callback_data.code)
    t = translator.bind(callback_data.code)
    callback_answer.text = t.plain("language-set")
    if not isinstance(message, Message):
        return
    # `show` tolerates "message is not modified": a double tap on slow data, or an old
    # picker pressed again, edits the same text a second time.
    await show(callback, t("language-current"))
    if first_time:
        key = "start-welcome"
    elif had_form:
        key = "form-cancelled"
    else:
        key = "menu-main"
    await send_main_menu(message, t, repo, settings, key)
    course_code = data.get("pending_course")
    centre_code = data.get("pending_centre")
    if isinstance(course_code, str):
        await catalogue.open_course_by_code(message, course_code, t, repo, user)
    elif isinstance(centre_code, str):
        await catalogue.open_centre_by_code(message, centre_code, t, repo)


@router.message(Command("help"))
@router.message(TextKey("menu-help"))
async def show_help(
    message: Message,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    user: UserDTO | None = None,
) -> None:
    # Inside a form, say that it ended before the help (as every menu button does).
    await leave_form(message, state, t, repo, settings)
    await send_main_menu(message, t, repo, settings, "help-text")
    # The contacts of the centres they applied to: whom to call.
    blocks: list[str] = []
    seen: set[int] = set()
    for app in await repo.applications.live_for_user(user.id) if user else []:
        course = await repo.catalogue.course(app.course_id)
        if course is None or course.centre_id in seen:
            continue
        seen.add(course.centre_id)
        centre = await repo.catalogue.centre(course.centre_id)
        block = contacts_block(t, centre) if centre else ""
        if block:
            blocks.append(block)
    if blocks:
        await message.answer("\n\n".join([t("contacts-help-header"), *blocks]))


@router.message(Command("cancel"))
@router.message(Command("menu"))
async def cmd_cancel(
    message: Message,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
) -> None:
    had_form = await state.get_state() is not None
    await state.clear()
    await send_main_menu(message, t, repo, settings, "form-cancelled" if had_form else "menu-main")
