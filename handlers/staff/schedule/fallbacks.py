"""Answers of the wrong kind inside the schedule forms: say what is expected."""

from __future__ import annotations

from aiogram.filters import StateFilter
from aiogram.types import (
    Message,
)

from bot.i18n import BoundTranslator
from bot.routing import FeatureRouter
from handlers.staff.common import (
    StaffForm,
    cancel_markup,
)

router = FeatureRouter(__name__)


@router.message(StateFilter(StaffForm.timetable))
async def expected_document(message: Message, t: BoundTranslator) -> None:
    await message.answer(t("schedule-import-expect-file"), reply_markup=cancel_markup(t))


@router.message(StateFilter(StaffForm.session_add, StaffForm.session_move))
async def expected_slot(message: Message, t: BoundTranslator) -> None:
    await message.answer(t("schedule-error-format"), reply_markup=cancel_markup(t))
