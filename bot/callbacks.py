"""Typed callback data. Every field is re-checked by the handler: never trust it."""

from __future__ import annotations

from enum import IntEnum, StrEnum

from aiogram.filters.callback_data import CallbackData


class LangCB(CallbackData, prefix="lang"):
    code: str


class CatAction(StrEnum):
    centres = "cs"
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


class SignupCB(CallbackData, prefix="su"):
    action: SignupAction
    value: int = 0


class EditField(IntEnum):
    full_name = 1
    phone = 2
    district = 3
    group = 4
    course = 5


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
