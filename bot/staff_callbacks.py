"""Typed callback data of the staff workspace (prefixes: sdc, sap, scr, ssc, sst, stm, sau,
shm). Every value is re-checked by the handler: rows are re-loaded and must belong
together, whatever the button said."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.formatting import REJECT_PRESETS
from bot.i18n import BoundTranslator

# Application statuses as one letter, to keep callback data short.
STATUS_CODES = {
    "pending": "p",
    "accepted": "a",
    "waitlisted": "w",
    "rejected": "r",
    "cancelled": "c",
}
CODE_STATUSES = {code: status for status, code in STATUS_CODES.items()}


class StaffHomeCB(CallbackData, prefix="shm"):
    """Back to the staff menu."""


class Decision(StrEnum):
    accept = "a"
    waitlist = "w"
    reject = "r"


class DecisionCB(CallbackData, prefix="sdc"):
    """Accept / Waitlist / Reject an application the staff member saw in ``seen`` status."""

    action: Decision
    id: int
    seen: str


class AppsAction(StrEnum):
    filters = "f"  # the filter screen
    list = "l"  # a page of the list
    courses = "pc"  # pick a course
    groups = "pg"  # pick a group of the chosen course
    statuses = "ps"  # pick a status
    districts = "pd"  # pick a district
    questions = "pq"  # pick a choice question to filter by its answer
    options = "po"  # pick an answer (value: the question)
    open = "o"  # one application's card
    move = "m"  # pick a group to move an accepted trainee to
    move_to = "mt"  # move (value: the group)
    xlsx = "x"
    csv = "c"


class AppsCB(CallbackData, prefix="sap"):
    """The applications list; the filter travels in the button (course, group, status
    letter, district, and an answer: a choice question and its option's place, from 1;
    0 or "" means any) with the page, the export flag and a target id. Ids, not codes,
    keep it under Telegram's 64 bytes."""

    action: AppsAction
    course: int = 0
    group: int = 0
    status: str = ""
    district: int = 0
    page: int = 0
    export: int = 0
    id: int = 0
    value: int = 0
    question: int = 0
    option: int = 0


class CourseAction(StrEnum):
    list = "l"
    course = "c"
    enrolment = "e"  # value: 1 open, 0 close
    group = "g"
    capacity = "cp"  # value: the new capacity
    capacity_ask = "ca"  # type a capacity
    add_group = "ag"


class CoursesCB(CallbackData, prefix="scr"):
    action: CourseAction
    id: int = 0
    value: int = 0


class ScheduleAction(StrEnum):
    sessions = "s"  # a group's upcoming classes (id: group, value: page)
    session = "o"  # one class
    add = "a"  # add a class to a group
    move = "m"
    cancel = "c"  # ask to confirm
    cancel_yes = "cy"
    imports = "i"  # wait for a timetable file
    import_yes = "iy"  # import the previewed timetable file
    add_day = "ad"  # add a class on a day picked with a button (value: see day_value)


class ScheduleCB(CallbackData, prefix="ssc"):
    action: ScheduleAction
    id: int = 0
    value: int = 0


class RejectCB(CallbackData, prefix="srj"):
    """A preset rejection reason pressed under the reason question (private chat)."""

    app: int
    preset: int  # index in bot.formatting.REJECT_PRESETS


class StatsCB(CallbackData, prefix="sst"):
    days: int  # 0 for all time


class TeamAction(StrEnum):
    list = "l"
    add_staff = "as"  # pick the centre of a new staff member
    add_role = "ar"  # centre chosen (value: role letter): ask for the person
    add_admin = "aa"
    member = "m"
    remove = "r"  # ask to confirm
    remove_yes = "ry"
    make_admin = "ma"
    make_staff = "ms"
    add_confirm = "ac"  # the person found by @username is the right one
    grant_pick = "gp"  # pick a centre to grant a member
    grant = "g"  # grant (centre, value: role letter)
    revoke = "rv"  # take a centre away (centre)
    reach = "rh"  # whom each centre's announcements reach (handlers/staff/team_reach.py)


class TeamCB(CallbackData, prefix="stm"):
    """The team; ``centre`` and ``value`` (m: manager, s: centre staff) name a grant."""

    action: TeamAction
    id: int = 0
    centre: int = 0
    value: str = ""


class AuditCB(CallbackData, prefix="sau"):
    page: int = 0


class CancelCB(CallbackData, prefix="sxc"):
    """Leave a staff form (typed input) without changing anything."""


def staff_message_key(application_id: int) -> str:
    """Key (in the kv table) of the staff-chat message that shows an application."""
    return f"staff-msg:{application_id}"


def decision_buttons(
    t: BoundTranslator, application_id: int, status: str
) -> list[InlineKeyboardButton]:
    """The decisions that make sense for an application in this status."""
    actions = {
        "pending": (Decision.accept, Decision.waitlist, Decision.reject),
        "waitlisted": (Decision.accept, Decision.reject),
        "accepted": (Decision.reject,),
    }.get(status, ())
    labels = {
        Decision.accept: "staff-btn-accept",
        Decision.waitlist: "staff-btn-waitlist",
        Decision.reject: "staff-btn-reject",
    }
    seen = STATUS_CODES[status]
    return [
        InlineKeyboardButton(
            text=t.plain(labels[action]),
            callback_data=DecisionCB(action=action, id=application_id, seen=seen).pack(),
        )
        for action in actions
    ]


def decision_markup(
    t: BoundTranslator, application_id: int, status: str
) -> InlineKeyboardMarkup | None:
    buttons = decision_buttons(t, application_id, status)
    return InlineKeyboardMarkup(inline_keyboard=[buttons]) if buttons else None


def reject_markup(t: BoundTranslator, app_id: int) -> InlineKeyboardMarkup:
    """One button per preset reason, then Cancel."""
    rows = [
        [
            InlineKeyboardButton(
                text=t.plain(f"reject-btn-{code}"),
                callback_data=RejectCB(app=app_id, preset=i).pack(),
            )
        ]
        for i, code in enumerate(REJECT_PRESETS)
    ]
    cancel = InlineKeyboardButton(text=t.plain("btn-cancel"), callback_data=CancelCB().pack())
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [cancel]])
