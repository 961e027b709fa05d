"""Centre contacts: checking what staff type or the catalogue gives (no aiogram here).

Phones are kept as written (spaces and dashes help people read them) but must be an
international number: a "+", then 7 to 15 digits. Links must be https. Instagram and
Telegram take a @handle or a link and keep the handle.
"""

from __future__ import annotations

import re

from bot.config import LOCALES
from db.dto import CentreContacts

PHONES_MAX = 3
TEXT_MAX = 200
URL_MAX = 200
_PHONE_CHARS = re.compile(r"^\+[0-9 ()\-]{6,24}$")
_HANDLE = re.compile(r"^[A-Za-z0-9_.]{3,32}$")
_URL = re.compile(r"^https://[^\s/$.?#][^\s]*$", re.IGNORECASE)
FIELDS = ("phones", "hours", "person", "map_url", "website", "instagram", "telegram")
TEXT_FIELDS = frozenset({"hours", "person"})
ALL_LANGUAGES = "*"  # a text typed once for every language


class ContactError(ValueError):
    """A value that cannot be a contact; ``code`` names what is wrong."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def clean_phone(raw: str) -> str:
    phone = " ".join(raw.split())
    digits = re.sub(r"[^0-9]", "", phone)
    if not _PHONE_CHARS.match(phone) or not 7 <= len(digits) <= 15:
        raise ContactError("phone")
    return phone


def clean_phones(raw: str) -> tuple[str, ...]:
    """One to three phones, separated by commas or new lines."""
    parts = [p.strip() for p in re.split(r"[,;\n]", raw) if p.strip()]
    if not parts or len(parts) > PHONES_MAX:
        raise ContactError("phones-count")
    return tuple(clean_phone(p) for p in parts)


def clean_url(raw: str) -> str:
    url = raw.strip()
    if len(url) > URL_MAX or not _URL.match(url):
        raise ContactError("url")
    return url


def clean_handle(raw: str, site: str) -> str:
    """A @handle, from "@name", "name" or a link to the account on ``site``."""
    value = raw.strip()
    for prefix in (f"https://{site}/", f"http://{site}/", f"https://www.{site}/", f"{site}/"):
        if value.lower().startswith(prefix):
            value = value[len(prefix) :]
    value = value.strip("/").removeprefix("@").split("?")[0]
    if not _HANDLE.match(value):
        raise ContactError("handle")
    return value


def clean_text(raw: str) -> str:
    text = " ".join(raw.split())
    if not text or len(text) > TEXT_MAX:
        raise ContactError("text")
    return text


def with_field(
    contacts: CentreContacts, field: str, raw: str, locale: str = ALL_LANGUAGES
) -> CentreContacts:
    """The contacts with one field set from what staff typed ("-" clears it). A text
    (hours, contact person) is typed in one language (``locale``: that language's text
    changes, the others stay) or for all of them (``ALL_LANGUAGES``: the same text in
    every language); a language without a text shows Russian, else English, else any.
    Set by hand, the contacts are real: the demo mark goes."""
    if field not in FIELDS:
        raise ContactError("field")
    if field in TEXT_FIELDS and locale != ALL_LANGUAGES and locale not in LOCALES:
        raise ContactError("field")
    data = contacts.to_json()
    data.pop("demo", None)
    clear = raw.strip() in ("-", "—")
    if field in TEXT_FIELDS and locale != ALL_LANGUAGES:
        texts = dict(data.get(field) or {})
        if clear:
            texts.pop(locale, None)
        else:
            texts[locale] = clean_text(raw)
        data[field] = texts
        return CentreContacts.from_json(data)
    if clear:
        data.pop(field, None)
        return CentreContacts.from_json(data)
    if field == "phones":
        data[field] = list(clean_phones(raw))
    elif field in TEXT_FIELDS:
        data[field] = dict.fromkeys(LOCALES, clean_text(raw))
    elif field in ("map_url", "website"):
        data[field] = clean_url(raw)
    else:
        data[field] = clean_handle(raw, "instagram.com" if field == "instagram" else "t.me")
    return CentreContacts.from_json(data)
