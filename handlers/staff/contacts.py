"""Centre contacts, edited from the bot by the centre's manager (or a programme admin).

Each field is one button; the typed value is checked (international phones, https links,
@handles) and "-" clears the field. A text (hours, contact person) shows each language's
text first: the manager writes one language's text, or one text for every language; a
language without its own text shows Russian, else English (as a catalogue file may give
some languages only).
"""

from __future__ import annotations

from enum import StrEnum

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.contacts import contacts_block
from bot.filters import HasText
from bot.i18n import LANGUAGE_NAMES, BoundTranslator, escape, pick_text
from bot.keyboards import inline_rows
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.services.contacts import ALL_LANGUAGES, TEXT_FIELDS, ContactError, with_field
from bot.staff_menu import StaffMenuCB, StaffSection
from bot.telegram_utils import show
from db.dto import CentreDTO, StaffScope, UserDTO
from db.repo import Repos
from handlers.staff.chats import manageable
from handlers.staff.common import (
    StaffChats,
    StaffForm,
    StaffTraffic,
    cancel_markup,
    home_button,
    stale,
)
from handlers.staff.scope import centre_label

router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(admin_only=True, managers=True), StaffChats())
router.callback_query.filter(
    StaffTraffic(), RoleFilter(admin_only=True, managers=True), StaffChats()
)


class ContactsAction(StrEnum):
    centres = "l"
    centre = "c"
    edit = "e"  # a field: ask for it (a text: show its languages first)
    lang = "g"  # a text field in one language (lang: kk, ky, ru, en) or all ("*")


# Field codes kept short for the 64-byte callback data.
FIELD_CODES = {
    "p": "phones",
    "h": "hours",
    "n": "person",
    "m": "map_url",
    "w": "website",
    "i": "instagram",
    "t": "telegram",
}
# (button label, example) of each field.
FIELD_KEYS = {
    "phones": ("centres-field-phones", "centres-contacts-example-phones"),
    "hours": ("centres-field-hours", "centres-contacts-example-hours"),
    "person": ("centres-field-person", "centres-contacts-example-person"),
    "map_url": ("centres-field-map-url", "centres-contacts-example-map-url"),
    "website": ("centres-field-website", "centres-contacts-example-website"),
    "instagram": ("centres-field-instagram", "centres-contacts-example-instagram"),
    "telegram": ("centres-field-telegram", "centres-contacts-example-telegram"),
}
ERROR_KEYS = {
    "phone": "centres-contacts-error-phone",
    "phones-count": "centres-contacts-error-phones-count",
    "url": "centres-contacts-error-url",
    "handle": "centres-contacts-error-handle",
    "text": "centres-contacts-error-text",
    "field": "centres-contacts-error-field",
}


class ContactsCB(CallbackData, prefix="sct"):
    action: ContactsAction
    centre: int = 0
    field: str = ""
    lang: str = ""


def ct_button(
    text: str, action: ContactsAction, centre: int = 0, field: str = "", lang: str = ""
) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text[:64],
        callback_data=ContactsCB(action=action, centre=centre, field=field, lang=lang).pack(),
    )


FIELD_OF = {name: code for code, name in FIELD_CODES.items()}


def field_label(t: BoundTranslator, field: str) -> str:
    return t.plain(f"centres-field-{field.replace('_', '-')}")


def texts_view(
    t: BoundTranslator, centre: CentreDTO, field: str
) -> tuple[str, InlineKeyboardMarkup]:
    """A text field in each language: its own text, or what that language shows instead;
    a button per language and one for all of them."""
    texts: dict[str, str] = getattr(centre.contacts, field)
    lines = [t("centres-contacts-texts", field=field_label(t, field), centre=t.pick(centre.name))]
    for lang, name in LANGUAGE_NAMES.items():
        own = texts.get(lang)
        shown = pick_text(texts, lang) if texts else ""
        value = (
            escape(own) if own else t("centres-contacts-text-missing", text=shown) if shown else "—"
        )
        lines.append(f"{escape(name)}: {value}")
    lines += ["", t("centres-contacts-texts-hint")]
    code = FIELD_OF[field]
    buttons = [
        ct_button(name, ContactsAction.lang, centre.id, code, lang)
        for lang, name in LANGUAGE_NAMES.items()
    ]
    markup = inline_rows(buttons, width=2)
    markup.inline_keyboard.insert(
        0,
        [
            ct_button(
                t.plain("centres-contacts-btn-all-languages"),
                ContactsAction.lang,
                centre.id,
                code,
                ALL_LANGUAGES,
            )
        ],
    )
    markup.inline_keyboard.append(
        [ct_button(t.plain("btn-back"), ContactsAction.centre, centre.id), home_button(t)]
    )
    return "\n".join(lines), markup


async def managed_centre(repo: Repos, scope: StaffScope, centre_id: int) -> CentreDTO | None:
    centre = await repo.catalogue.centre(centre_id) if centre_id else None
    return centre if centre is not None and scope.manages(centre.id) else None


def card(t: BoundTranslator, centre: CentreDTO, several: bool) -> tuple[str, InlineKeyboardMarkup]:
    block = contacts_block(t, centre) or t("contacts-title", centre=t.pick(centre.name)) + "\n" + t(
        "contacts-none"
    )
    text = f"{block}\n\n{t('centres-contacts-hint')}"
    buttons = [
        ct_button(
            t.plain(f"centres-field-{name.replace('_', '-')}"), ContactsAction.edit, centre.id, code
        )
        for code, name in FIELD_CODES.items()
    ]
    markup = inline_rows(buttons, width=2)
    back = (
        [ct_button(t.plain("btn-back"), ContactsAction.centres), home_button(t)]
        if several
        else [home_button(t)]
    )
    markup.inline_keyboard.append(back)
    return text, markup


@router.callback_query(StaffMenuCB.filter(F.section == StaffSection.contacts))
@router.callback_query(ContactsCB.filter(F.action == ContactsAction.centres))
async def open_section(
    callback: CallbackQuery, state: FSMContext, t: BoundTranslator, repo: Repos, scope: StaffScope
) -> None:
    await state.clear()
    centres = await manageable(repo, scope)
    if len(centres) == 1:
        await show(callback, *card(t, centres[0], several=False))
        return
    rows = [[ct_button(centre_label(t, c), ContactsAction.centre, c.id)] for c in centres]
    rows.append([home_button(t)])
    await show(callback, t("centres-pick-centre"), InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(ContactsCB.filter(F.action == ContactsAction.centre))
async def on_centre(
    callback: CallbackQuery,
    callback_data: ContactsCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    centre = await managed_centre(repo, scope, callback_data.centre)
    if centre is None:
        stale(t, callback_answer)
        return
    await state.clear()
    await show(callback, *card(t, centre, several=len(await manageable(repo, scope)) > 1))


@router.callback_query(ContactsCB.filter(F.action.in_({ContactsAction.edit, ContactsAction.lang})))
async def ask_value(
    callback: CallbackQuery,
    callback_data: ContactsCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    centre = await managed_centre(repo, scope, callback_data.centre)
    field = FIELD_CODES.get(callback_data.field)
    lang = callback_data.lang if callback_data.action is ContactsAction.lang else ""
    if (
        centre is None
        or field is None
        or (lang and (field not in TEXT_FIELDS or lang not in (*LANGUAGE_NAMES, ALL_LANGUAGES)))
        or (callback_data.action is ContactsAction.lang and not lang)
    ):
        stale(t, callback_answer)
        return
    if field in TEXT_FIELDS and not lang:  # which language first
        await state.clear()
        await show(callback, *texts_view(t, centre, field))
        return
    await state.set_state(StaffForm.contact)
    await state.set_data({"centre": centre.id, "field": field, "lang": lang})
    label = field_label(t, field)
    if lang == ALL_LANGUAGES:
        text = t("centres-contacts-ask-all", field=label, centre=t.pick(centre.name))
    elif lang:
        text = t(
            "centres-contacts-ask-lang",
            field=label,
            centre=t.pick(centre.name),
            language=LANGUAGE_NAMES[lang],
        )
    else:
        text = t("centres-contacts-ask", field=label, centre=t.pick(centre.name))
    await show(
        callback,
        f"{text}\n{t('centres-contacts-example-' + field.replace('_', '-'))}",
        cancel_markup(t),
    )


@router.message(StateFilter(StaffForm.contact), HasText())
async def got_value(
    message: Message,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    scope: StaffScope,
) -> None:
    data = await state.get_data()
    centre_id, field, lang = data.get("centre"), data.get("field"), data.get("lang")
    centre = await managed_centre(repo, scope, centre_id) if isinstance(centre_id, int) else None
    if centre is None or not isinstance(field, str):
        await state.clear()
        await message.answer(t("error-stale-button"))
        return
    # A form from before texts were written per language: the text is for all of them.
    lang = lang if isinstance(lang, str) and lang else ALL_LANGUAGES
    try:
        contacts = with_field(centre.contacts, field, message.text or "", lang)
    except ContactError as exc:
        key = ERROR_KEYS.get(exc.code, "centres-contacts-error-text")
        await message.answer(t(key), reply_markup=cancel_markup(t))
        return
    await state.clear()
    await repo.centres.set_contacts(user.id, centre.id, contacts)
    fresh = await repo.catalogue.centre(centre.id)
    assert fresh is not None
    if field in TEXT_FIELDS:
        text, markup = texts_view(t, fresh, field)
    else:
        text, markup = card(t, fresh, several=len(await manageable(repo, scope)) > 1)
    await message.answer(f"{t('centres-saved')}\n\n{text}", reply_markup=markup)


@router.message(StateFilter(StaffForm.contact))
async def expected_text(message: Message, t: BoundTranslator) -> None:
    await message.answer(t("staff-expect-text"), reply_markup=cancel_markup(t))
