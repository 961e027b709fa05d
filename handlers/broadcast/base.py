"""The broadcast wizard's shared parts: its cheap first filter, callback data, form
states, and the draft kept in the FSM.
"""

from __future__ import annotations

from dataclasses import replace
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
from db.dto import Audience, BroadcastDTO, StaffScope
from db.repo import Repos

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


async def load_draft(
    state: FSMContext, scope: StaffScope, repo: Repos
) -> tuple[tuple[int, int], Audience] | None:
    """The draft message and its audience, limited to the author's centres (whatever the
    stored form says: a centre's staff reach only people who applied to their centres)."""
    data = await state.get_data()
    draft = data.get("draft")
    if not (isinstance(draft, list) and len(draft) == 2 and all(isinstance(x, int) for x in draft)):
        return None
    audience = await scoped_audience(repo, scope, Audience.from_json(data.get("aud")))
    return (draft[0], draft[1]), audience


def scoped(audience: Audience, scope: StaffScope) -> Audience:
    """The audience limited to the author's centres (a programme admin: no limit)."""
    if scope.is_admin:
        return replace(audience, centres=None)
    return replace(audience, centres=tuple(sorted(scope.centres)))


async def scoped_audience(repo: Repos, scope: StaffScope, audience: Audience) -> Audience:
    """``scoped``, and a course or group of another centre dropped from the filters."""
    audience = scoped(audience, scope)
    if scope.is_admin:
        return audience
    if audience.course_id is not None:
        course = await repo.catalogue.course(audience.course_id)
        if course is None or not scope.allows(course.centre_id):
            audience = replace(audience, course_id=None, group_id=None)
    if audience.group_id is not None:
        group = await repo.catalogue.group(audience.group_id)
        if group is None or group.course_id != audience.course_id:
            audience = replace(audience, group_id=None)
    return audience


def broadcast_in_scope(broadcast: BroadcastDTO, scope: StaffScope) -> bool:
    """A programme admin reaches every broadcast; centre staff those limited to centres
    of theirs (a programme-wide one is not theirs to see, stop or cancel)."""
    if scope.is_admin:
        return True
    centres = broadcast.audience.centres
    return centres is not None and set(centres) <= scope.centres


async def draft_content(state: FSMContext) -> dict[str, Any] | None:
    """The draft's content, frozen when the staff member sent it (bot/broadcast_content.py)."""
    content = (await state.get_data()).get("content")
    return content if isinstance(content, dict) else None


def answer_stale(t: BoundTranslator, callback_answer: CallbackAnswer) -> None:
    callback_answer.text = t.plain("error-stale-button")
    callback_answer.show_alert = True
