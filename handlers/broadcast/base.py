"""The broadcast wizard's shared parts: its cheap first filter, callback data, form
states, and the draft kept in the FSM.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    Message,
    TelegramObject,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.i18n import BoundTranslator
from bot.staff_menu import StaffMenuCB, StaffSection
from db.dto import Audience

STATUSES = ("pending", "accepted", "waitlisted", "rejected", "cancelled")
PICK_MAX = 60  # buttons in a picker (Telegram allows 100)
DRAFT_KINDS = ("text", "photo", "video", "document", "animation", "audio", "voice")


# ---- callback data, states, the cheap first filter ---------------------------------------


class BcAction(StrEnum):
    new = "n"  # write a new announcement
    list = "l"  # the scheduled ones
    everyone = "e"  # audience: everyone active → preview and confirm
    filters = "f"  # the audience screen
    pick = "p"  # a picker (dim)
    set = "s"  # set a filter (dim, value; "" = any)
    reset = "r"
    done = "d"  # filters chosen → preview and confirm
    now = "go"  # send now
    when = "w"  # ask for a time
    at = "at"  # a picked time (value: Unix seconds)
    plan = "ok"  # schedule at the chosen time
    cancel_ask = "x"  # cancel scheduled #id?
    cancel_yes = "xy"
    stop = "st"  # stop sending #id
    csv = "csv"  # recipients not reached, #id
    quit = "q"  # drop the draft


class BcCB(CallbackData, prefix="bc"):
    action: BcAction
    dim: str = ""
    value: str = ""
    id: int = 0


class BroadcastForm(StatesGroup):
    compose = State()  # waiting for the message
    audience = State()  # a draft in hand: audience, preview, confirm
    when = State()  # waiting for a typed time


_SECTION_DATA = StaffMenuCB(section=StaffSection.broadcast).pack()


class BroadcastTraffic(Filter):
    """Cheap, before the role lookup: our callbacks, /broadcast, and messages sent while a
    broadcast form is open. Citizen traffic never costs a database read here."""

    async def __call__(self, event: TelegramObject, raw_state: str | None = None, **_: Any) -> bool:
        if isinstance(event, CallbackQuery):
            data = event.data or ""
            return data.startswith("bc:") or data == _SECTION_DATA
        if not isinstance(event, Message):
            return False
        if raw_state is not None and raw_state.startswith("BroadcastForm:"):
            return True
        return (event.text or "").startswith("/broadcast")


def bc_button(text: str, action: BcAction, **fields: Any) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=BcCB(action=action, **fields).pack())


# ---- the draft in the FSM ----------------------------------------------------------------


async def load_draft(state: FSMContext) -> tuple[tuple[int, int], Audience] | None:
    data = await state.get_data()
    draft = data.get("draft")
    if not (isinstance(draft, list) and len(draft) == 2 and all(isinstance(x, int) for x in draft)):
        return None
    return (draft[0], draft[1]), Audience.from_json(data.get("aud"))


async def draft_content(state: FSMContext) -> dict[str, Any] | None:
    """The draft's content, frozen when the staff member sent it (bot/broadcast_content.py)."""
    content = (await state.get_data()).get("content")
    return content if isinstance(content, dict) else None


def answer_stale(t: BoundTranslator, callback_answer: CallbackAnswer) -> None:
    callback_answer.text = t.plain("error-stale-button")
    callback_answer.show_alert = True
