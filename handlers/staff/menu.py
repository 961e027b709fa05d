"""The staff menu: /admin or the 🛠 button; sections as inline buttons."""

from __future__ import annotations

from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.filters import TextKey
from bot.i18n import BoundTranslator
from bot.keyboards import inline_rows
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.staff_callbacks import CancelCB, StaffHomeCB
from bot.staff_menu import SECTIONS, StaffMenuCB
from bot.telegram_utils import show
from db.repo import Repos
from handlers.staff.common import StaffChats, StaffTraffic

router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(), StaffChats())
router.callback_query.filter(StaffTraffic(), RoleFilter(), StaffChats())


def menu_markup(t: BoundTranslator, role: str) -> InlineKeyboardMarkup:
    """Sections this role may open; a section whose label has no translation yet (its
    feature is not merged) is hidden, so the menu never shows a dead button."""
    known = t.translator.catalogs["en"].messages
    buttons = [
        InlineKeyboardButton(
            text=t.plain(s.label_key), callback_data=StaffMenuCB(section=s.section).pack()
        )
        for s in SECTIONS
        if (role == "admin" or not s.admin_only) and s.label_key in known
    ]
    return inline_rows(buttons, width=2)


async def menu_text(t: BoundTranslator, repo: Repos, role: str) -> str:
    overview = await repo.courses.overview()
    pending = sum(c.pending for c in overview)
    waitlisted = sum(c.waitlisted for c in overview)
    return t(
        "staff-menu",
        role=t.plain("staff-role-admin" if role == "admin" else "staff-role-staff"),
        pending=pending,
        waitlisted=waitlisted,
    )


@router.message(Command("admin"))
@router.message(TextKey("menu-staff"))
async def open_menu(
    message: Message, state: FSMContext, t: BoundTranslator, repo: Repos, role: str
) -> None:
    await state.clear()
    await message.answer(await menu_text(t, repo, role), reply_markup=menu_markup(t, role))


@router.callback_query(StaffHomeCB.filter())
async def back_to_menu(
    callback: CallbackQuery, state: FSMContext, t: BoundTranslator, repo: Repos, role: str
) -> None:
    await state.clear()
    await show(callback, await menu_text(t, repo, role), menu_markup(t, role))


@router.callback_query(CancelCB.filter())
async def cancel_form(
    callback: CallbackQuery, state: FSMContext, t: BoundTranslator, repo: Repos, role: str
) -> None:
    await state.clear()
    text = t("staff-form-cancelled") + "\n\n" + await menu_text(t, repo, role)
    await show(callback, text, menu_markup(t, role))
