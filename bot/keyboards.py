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
    """The main menu (rendered once per language; shared: never modify it)."""
    key = ("main_menu", t.locale, staff)
    rendered = t.translator.rendered.get(key)
    if rendered is None:
        rendered = t.translator.rendered[key] = _main_menu(t, staff=staff)
    return rendered


def _main_menu(t: BoundTranslator, *, staff: bool) -> ReplyKeyboardMarkup:
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
    """A form step's reply keyboard: its own buttons on top, then Back and Cancel (the
    Back and Cancel row rendered once per language; without buttons of its own, the
    whole keyboard: shared, never modify it)."""
    if not top:
        key = ("form_keyboard", t.locale, back)
        rendered = t.translator.rendered.get(key)
        if rendered is None:
            rendered = t.translator.rendered[key] = _form_keyboard(t, (), back=back)
        return rendered
    return _form_keyboard(t, top, back=back)


def _form_keyboard(
    t: BoundTranslator, top: tuple[KeyboardButton, ...], *, back: bool
) -> ReplyKeyboardMarkup:
    key = ("form_nav", t.locale, back)
    nav: list[KeyboardButton] | None = t.translator.rendered.get(key)
    if nav is None:
        nav = [KeyboardButton(text=t.plain("btn-cancel"))]
        if back:
            nav.insert(0, KeyboardButton(text=t.plain("btn-back")))
        t.translator.rendered[key] = nav
    rows = [[b] for b in top]
    rows.append(list(nav))
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, is_persistent=True)


_PICKERS: dict[str | None, InlineKeyboardMarkup] = {}


def language_picker(selected: str | None = None) -> InlineKeyboardMarkup:
    """The language picker, ``selected`` first and ticked (built once per language;
    shared: never modify it)."""
    if selected is not None and selected not in LANGUAGE_NAMES:
        selected = None
    picker = _PICKERS.get(selected)
    if picker is None:
        picker = _PICKERS[selected] = _language_picker(selected)
    return picker


def _language_picker(selected: str | None) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    order = list(LANGUAGE_NAMES)
    if selected is not None:
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
