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
from db.dto import StaffScope
from db.repo import Repos
from handlers.staff.common import StaffChats, StaffTraffic
from handlers.staff.scope import centres_in_scope

router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(), StaffChats())
router.callback_query.filter(StaffTraffic(), RoleFilter(), StaffChats())


def menu_markup(t: BoundTranslator, scope: StaffScope) -> InlineKeyboardMarkup:
    """Sections this role may open; a section whose label has no translation yet (its
    feature is not merged) is hidden, so the menu never shows a dead button."""
    known = t.translator.catalogs["en"].messages
    buttons = [
        InlineKeyboardButton(
            text=t.plain(s.label_key), callback_data=StaffMenuCB(section=s.section).pack()
        )
        for s in SECTIONS
        if s.open_to(scope) and s.label_key in known
    ]
    return inline_rows(buttons, width=2)


ROLE_LABELS = {
    "admin": "staff-role-admin",
    "manager": "centres-role-manager",
    "staff": "staff-role-staff",
}


async def menu_text(t: BoundTranslator, repo: Repos, scope: StaffScope) -> str:
    overview = await repo.courses.overview(scope.centre_ids)
    pending = sum(c.pending for c in overview)
    waitlisted = sum(c.waitlisted for c in overview)
    text = t(
        "staff-menu",
        role=t.plain(ROLE_LABELS[scope.kind]),
        pending=pending,
        waitlisted=waitlisted,
    )
    if scope.is_admin:
        return text
    names = [t.pick(c.city) for c in await centres_in_scope(repo, scope)]
    key = "centres-menu-yours" if names else "centres-menu-none"
    return f"{text}\n{t(key, centres=', '.join(names))}"


@router.message(Command("admin"))
@router.message(TextKey("menu-staff"))
async def open_menu(
    message: Message, state: FSMContext, t: BoundTranslator, repo: Repos, scope: StaffScope
) -> None:
    await state.clear()
    await message.answer(await menu_text(t, repo, scope), reply_markup=menu_markup(t, scope))


@router.callback_query(StaffHomeCB.filter())
async def back_to_menu(
    callback: CallbackQuery, state: FSMContext, t: BoundTranslator, repo: Repos, scope: StaffScope
) -> None:
    await state.clear()
    await show(callback, await menu_text(t, repo, scope), menu_markup(t, scope))


@router.callback_query(CancelCB.filter())
async def cancel_form(
    callback: CallbackQuery, state: FSMContext, t: BoundTranslator, repo: Repos, scope: StaffScope
) -> None:
    await state.clear()
    text = t("staff-form-cancelled") + "\n\n" + await menu_text(t, repo, scope)
    await show(callback, text, menu_markup(t, scope))
