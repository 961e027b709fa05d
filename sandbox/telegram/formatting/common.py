"""What the parsers share: entity types and tags, the error, the parsed text, UTF-16
lengths, URL checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import escape as _html_escape
from typing import Any, Final

Entity = dict[str, Any]
UserLookup = Callable[[int], dict[str, Any] | None]

ENTITY_TYPES: Final = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
        "date_time",
    }
)

HTML_TAGS: Final = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
SIMPLE_TAG_TYPES: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
SPACES: Final = frozenset(" \t\r\n\v\f")
TRIM_CHARS: Final = " \t\r\n\v\f"
HTML_SPECIAL: Final = re.compile(r"[<&]")
NAMED_ENTITIES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
TG_USER_LINK: Final = re.compile(r"^tg://user\?id=(\d+)$", re.IGNORECASE)


class FormattingError(Exception):
    """The text cannot be parsed; ``detail`` is TDLib's description of the problem."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ParsedText:
    """Plain text plus its entities (offsets and lengths in UTF-16 code units)."""

    text: str
    entities: tuple[Entity, ...] = ()


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram counts in."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def escape_html(text: str) -> str:
    """Escape text for Telegram HTML (``<``, ``>``, ``&`` and ``"``)."""
    return _html_escape(text, quote=True).replace("&#x27;", "'")


def byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


# --------------------------------------------------------------------------- URL checks


def check_url(url: str, *, https_only: bool = False) -> str | None:
    """Validate a URL the way Telegram does; return an error detail or None when valid."""
    if https_only:
        if not url.lower().startswith("https://") or len(url) <= len("https://"):
            return "Only HTTPS links are allowed"
        return None
    lowered = url.lower()
    if lowered.startswith("tg://"):
        return None if len(url) > len("tg://") else "Wrong HTTP URL"
    rest = url
    if "://" in url:
        scheme, rest = url.split("://", 1)
        if scheme.lower() not in {"http", "https", "ton"}:
            return "Unsupported URL protocol"
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in host:
        host = host.rsplit("@", 1)[1]
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if not host:
        return "URL host is empty"
    if any(ch.isspace() for ch in url):
        return "Wrong HTTP URL"
    if host.lower() == "localhost" or re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", host):
        return None
    labels = host.split(".")
    if len(labels) < 2 or not all(labels) or not re.fullmatch(r"[^\W_]{2,}", labels[-1]):
        return "Wrong HTTP URL"
    if not all(re.fullmatch(r"[\w-]+", label) for label in labels):
        return "Wrong HTTP URL"
    return None


def normalize_url(url: str) -> str:
    if "://" in url:
        return url
    return "http://" + url


def sorted_entities(entities: Iterable[Entity]) -> tuple[Entity, ...]:
    cleaned = []
    for entity in entities:
        entity.pop("_language", None)
        cleaned.append(entity)
    cleaned.sort(key=lambda e: (e["offset"], -e["length"]))
    return tuple(cleaned)
