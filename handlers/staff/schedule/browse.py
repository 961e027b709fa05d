"""Browsing: a group's classes page by page, and one class."""

from __future__ import annotations

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.clock import Clock
from bot.i18n import BoundTranslator
from bot.routing import FeatureRouter
from bot.staff_callbacks import ScheduleAction, ScheduleCB
from bot.telegram_utils import show
from db.dto import StaffScope
from db.repo import Repos
from handlers.staff.common import (
    StaffForm,
    stale,
)
from handlers.staff.schedule.views import session_context, session_view, sessions_view
from handlers.staff.scope import context_in_scope

router = FeatureRouter(__name__)

# ---- browsing -----------------------------------------------------------------------------


@router.callback_query(ScheduleCB.filter(F.action == ScheduleAction.sessions))
async def on_sessions(
    callback: CallbackQuery,
    callback_data: ScheduleCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    clock: Clock,
    scope: StaffScope,
) -> None:
    context = await context_in_scope(repo, scope, callback_data.id)
    if context is None:
        stale(t, callback_answer)
        return
    await state.clear()
    await show(callback, *await sessions_view(t, repo, context, callback_data.value, clock.now()))


@router.callback_query(ScheduleCB.filter(F.action == ScheduleAction.session))
async def on_session(
    callback: CallbackQuery,
    callback_data: ScheduleCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    clock: Clock,
    scope: StaffScope,
) -> None:
    found = await session_context(repo, callback_data.id, scope)
    if found is None:
        stale(t, callback_answer)
        return
    session, context = found
    if await state.get_state() == StaffForm.session_move.state:
        await state.clear()  # a move left unconfirmed
    await show(callback, *await session_view(t, context, session, clock.now()))
