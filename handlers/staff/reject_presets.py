"""Preset rejection reasons: buttons under the reason question, besides typing one.

A preset is stored as its code and shown to each reader in their own language, so the
citizen reads it in theirs whatever language the staff member uses."""

from __future__ import annotations

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.config import Settings
from bot.formatting import PRESET_PREFIX, REJECT_PRESETS
from bot.i18n import BoundTranslator, Translator
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.staff_callbacks import RejectCB
from bot.telegram_utils import drop_keyboard
from db.dto import StaffScope, UserDTO
from db.repo import Repos
from handlers.staff.common import StaffChats, StaffForm, StaffTraffic, stale
from handlers.staff.decisions import finish_reject

router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(), StaffChats())
router.callback_query.filter(StaffTraffic(), RoleFilter(), StaffChats())


@router.callback_query(RejectCB.filter())
async def preset_pressed(
    callback: CallbackQuery,
    callback_data: RejectCB,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    data = await state.get_data()
    fresh = (
        await state.get_state() == StaffForm.reject_reason.state
        and data.get("app_id") == callback_data.app
        and 0 <= callback_data.preset < len(REJECT_PRESETS)
    )
    if not fresh or not isinstance(callback.message, Message):
        stale(t, callback_answer)
        return
    await state.clear()
    await drop_keyboard(callback)
    code = REJECT_PRESETS[callback_data.preset]
    await finish_reject(
        callback.message,
        data,
        PRESET_PREFIX + code,
        user,
        t,
        translator,
        repo,
        settings,
        bot,
        scope,
    )
