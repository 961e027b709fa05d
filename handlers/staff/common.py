"""What every staff router shares: the form states, chat filters and small view helpers."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.config import Settings
from bot.i18n import BoundTranslator, strip_bidi
from bot.staff_callbacks import CancelCB, StaffHomeCB
from db.dto import StaffScope, UserDTO
from db.repo import Repos

TEXT_INPUT_MAX = 500


class StaffForm(StatesGroup):
    """Typed answers staff give; each state's data names the rows it acts on."""

    reject_reason = State()
    capacity = State()
    group_name = State()
    group_capacity = State()
    session_add = State()
    session_move = State()
    timetable = State()
    team_add = State()
    contact = State()  # a centre's contact field (handlers/staff/contacts.py)


def _chat_of(event: TelegramObject) -> Any:
    if isinstance(event, Message):
        return event.chat
    if isinstance(event, CallbackQuery) and event.message is not None:
        return event.message.chat
    return None


class StaffChats(Filter):
    """Private chats, and with ``staff_chat`` also the staff groups: STAFF_CHAT_ID and
    the chats bound to centres (one query, for group updates of staff only)."""

    def __init__(self, *, staff_chat: bool = False) -> None:
        self.staff_chat = staff_chat

    async def __call__(
        self, event: TelegramObject, settings: Settings, repo: Repos, **_: Any
    ) -> bool:
        chat = _chat_of(event)
        if chat is None:
            return False
        if chat.type == "private":
            return True
        if not self.staff_chat:
            return False
        return chat.id == settings.staff_chat_id or bool(
            await repo.centres.centres_of_chat(chat.id)
        )


class HasDocument(Filter):
    async def __call__(self, message: Message, **_: Any) -> bool:
        return message.document is not None


def home_button(t: BoundTranslator) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=t.plain("staff-btn-menu"), callback_data=StaffHomeCB().pack())


def cancel_markup(t: BoundTranslator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=t.plain("btn-cancel"), callback_data=CancelCB().pack())]
        ]
    )


def stale(t: BoundTranslator, callback_answer: CallbackAnswer) -> None:
    """The button names rows that are gone or no longer belong together."""
    callback_answer.text = t.plain("error-stale-button")
    callback_answer.show_alert = True


def alert(callback_answer: CallbackAnswer, text: str) -> None:
    callback_answer.text = text[:200]
    callback_answer.show_alert = True


def name_label(first_name: str | None, username: str | None, user_id: int) -> str:
    """How staff see a Telegram account: first name and @username, else the id."""
    parts = [strip_bidi(first_name) if first_name else f"id {user_id}"]
    if username:
        parts.append(f"@{username}")
    return " ".join(parts)


def person_label(user: UserDTO | None, user_id: int) -> str:
    if user is None:
        return f"id {user_id}"
    return name_label(user.first_name, user.username, user_id)


async def person(repo: Repos, user_id: int | None) -> str:
    if user_id is None or user_id == 0:
        return "—"
    return person_label(await repo.users.get(user_id), user_id)


def clip(text: str, limit: int) -> str:
    text = " ".join(strip_bidi(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


STAFF_PREFIXES = frozenset(
    {
        "sm",
        "shm",
        "sdc",
        "sap",
        "scr",
        "ssc",
        "sst",
        "stm",
        "sau",
        "sxc",
        "soc",
        "sch",
        "sct",
        "srj",
        "srh",
    }
)
STAFF_STATE_GROUPS = ("StaffForm:", "OutcomeForm:")


class StaffTraffic(Filter):
    """A cheap first check, so citizen traffic never costs a role lookup.

    Passes callbacks with a staff prefix, commands, the staff menu button and messages
    sent in a staff form state; ``RoleFilter`` then decides who may go on.
    """

    async def __call__(
        self, event: TelegramObject, raw_state: str | None = None, **data: Any
    ) -> bool:
        if isinstance(event, CallbackQuery):
            return (event.data or "").split(":", 1)[0] in STAFF_PREFIXES
        if not isinstance(event, Message):
            return False
        if raw_state is not None and raw_state.startswith(STAFF_STATE_GROUPS):
            return True
        text = event.text
        if not text:
            return False
        if text.startswith("/"):
            return True
        t: BoundTranslator | None = data.get("t")
        return t is not None and text in t.translator.variants("menu-staff")


async def course_names(
    t: BoundTranslator, repo: Repos, scope: StaffScope | None = None
) -> dict[int, str]:
    """Course titles in the reader's language; a title that several centres share gets the
    centre's city, so buttons and charts tell them apart. With ``scope``, only the
    courses of the reader's centres."""
    courses = await repo.catalogue.courses()
    if scope is not None:
        courses = [c for c in courses if scope.allows(c.centre_id)]
    cities = {c.id: t.pick(c.city) for c in await repo.catalogue.centres()}
    titles = {c.id: t.pick(c.title) for c in courses}
    counts: dict[str, int] = {}
    for title in titles.values():
        counts[title] = counts.get(title, 0) + 1
    return {
        c.id: titles[c.id]
        if counts[titles[c.id]] == 1
        else f"{titles[c.id]} ({cities.get(c.centre_id, '—')})"
        for c in courses
    }
