"""Typed callback data. Every field is re-checked by the handler: never trust it."""

from __future__ import annotations

from enum import IntEnum, StrEnum

from aiogram.filters.callback_data import CallbackData


class LangCB(CallbackData, prefix="lang"):
    code: str


class CatAction(StrEnum):
    centres = "cs"
    region = "r"  # the centres of one region (id: the region)
    centre = "c"
    course = "k"
    venue = "v"
    signup = "s"


class CatCB(CallbackData, prefix="cat"):
    action: CatAction
    id: int = 0


class SignupAction(StrEnum):
    name = "n"  # use the name from the previous application
    region = "r"  # show districts of a region
    regions = "rs"  # show the region list
    district = "d"
    group = "g"
    any_group = "ag"
    consent = "ok"
    decline = "no"  # no consent: leave the form, nothing kept
    confirm = "cf"
    edit = "e"
    course = "c"
    q_option = "qo"  # one choice of an extra question (value: the option's index)
    q_toggle = "qt"  # a multiple-choice option on or off
    q_done = "qd"  # multiple choice finished
    q_skip = "qs"  # an optional question left out


class SignupCB(CallbackData, prefix="su"):
    action: SignupAction
    value: int = 0


class EditField(IntEnum):
    full_name = 1
    phone = 2
    district = 3
    group = 4
    course = 5
    questions = 6


class MyAction(StrEnum):
    list = "l"
    withdraw = "w"
    withdraw_yes = "wy"
    data = "d"
    erase = "e"
    erase_yes = "ey"
    reminders = "r"


class MyCB(CallbackData, prefix="my"):
    action: MyAction
    id: int = 0
