"""Keyboard builders; every label comes from the translator."""

from __future__ import annotations

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import LangCB
from bot.i18n import LANGUAGE_NAMES, BoundTranslator

MENU_KEYS = (
    "menu-catalogue",
    "menu-my-applications",
    "menu-my-data",
    "menu-language",
    "menu-help",
)


def main_menu(t: BoundTranslator, *, staff: bool = False) -> ReplyKeyboardMarkup:
    rows = [
        [KeyboardButton(text=t.plain("menu-catalogue"))],
        [
            KeyboardButton(text=t.plain("menu-my-applications")),
            KeyboardButton(text=t.plain("menu-my-data")),
        ],
        [KeyboardButton(text=t.plain("menu-language")), KeyboardButton(text=t.plain("menu-help"))],
    ]
    if staff:
        rows.append([KeyboardButton(text=t.plain("menu-staff"))])
    return ReplyKeyboardMarkup(
        keyboard=rows,
        resize_keyboard=True,
        is_persistent=True,
        input_field_placeholder=t.plain("menu-placeholder"),
    )


def form_keyboard(
    t: BoundTranslator, *top: KeyboardButton, back: bool = True
) -> ReplyKeyboardMarkup:
    """A form step's reply keyboard: its own buttons on top, then Back and Cancel."""
    nav = [KeyboardButton(text=t.plain("btn-cancel"))]
    if back:
        nav.insert(0, KeyboardButton(text=t.plain("btn-back")))
    rows = [[b] for b in top]
    rows.append(nav)
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, is_persistent=True)


def language_picker(selected: str | None = None) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    order = list(LANGUAGE_NAMES)
    if selected is not None and selected in LANGUAGE_NAMES:
        order.remove(selected)
        order.insert(0, selected)
    for code in order:
        label = LANGUAGE_NAMES[code]
        if code == selected:
            label = f"✓ {label}"
        builder.button(text=label, callback_data=LangCB(code=code))
    builder.adjust(2)
    return builder.as_markup()


def inline_rows(buttons: list[InlineKeyboardButton], width: int = 1) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[buttons[i : i + width] for i in range(0, len(buttons), width)]
    )
