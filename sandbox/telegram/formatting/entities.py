"""Explicit entities, the parsing pipeline (parse mode or entities, trimming) and the
entities Telegram detects by itself (URLs, mentions, commands ...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from .common import (
    ENTITY_TYPES,
    TRIM_CHARS,
    Entity,
    FormattingError,
    ParsedText,
    UserLookup,
    check_url,
    normalize_url,
    sorted_entities,
    utf16_len,
)
from .html_mode import parse_html
from .markdown import parse_markdown, parse_markdown_v2

# --------------------------------------------------------------------------- explicit entities


def validate_entities(text: str, raw: Any, *, user_lookup: UserLookup | None = None) -> ParsedText:
    """Validate a client-supplied ``entities`` array against ``text`` like the Bot API."""
    if raw is None:
        return ParsedText(text)
    if not isinstance(raw, list):
        raise _EntityError("can't parse entities JSON object")
    total = utf16_len(text)
    result: list[Entity] = []
    for item in raw:
        if not isinstance(item, dict):
            raise _EntityError("can't parse MessageEntity: Object expected")
        for field in ("type", "offset", "length"):
            if field not in item:
                raise _EntityError(f"can't parse MessageEntity: Can't find field \"{field}\"")
        kind = item["type"]
        offset = item["offset"]
        length = item["length"]
        if not isinstance(kind, str) or kind not in ENTITY_TYPES:
            raise _EntityError("can't parse MessageEntity: Unsupported type specified")
        if not isinstance(offset, int) or not isinstance(length, int):
            raise _EntityError('can\'t parse MessageEntity: Field "offset" must be a valid Number')
        if offset < 0:
            raise _EntityError(f"receive an entity with incorrect offset {offset}")
        if length < 0:
            raise _EntityError(f"receive an entity with incorrect length {length}")
        if offset > total:
            raise _EntityError(f"entity begins after the end of the text at UTF-16 offset {offset}")
        if offset + length > total:
            raise _EntityError(
                f"entity beginning at UTF-16 offset {offset} ends after the end of the text at "
                f"UTF-16 offset {offset + length}"
            )
        entity: Entity = {"type": kind, "offset": offset, "length": length}
        if kind == "text_link":
            url = item.get("url")
            if not isinstance(url, str):
                raise _EntityError("can't parse MessageEntity: Can't find field \"url\"")
            problem = check_url(url)
            if problem is not None:
                raise _EntityError(f"entity URL '{url}' is invalid: {problem}")
            entity["url"] = normalize_url(url)
        elif kind == "text_mention":
            user = item.get("user")
            if not isinstance(user, dict):
                raise _EntityError("can't parse MessageEntity: Can't find field \"user\"")
            user_id = user.get("id")
            found = user_lookup(user_id) if user_lookup and isinstance(user_id, int) else None
            if found is None:
                raise _EntityError("user not found")
            entity["user"] = found
        elif kind == "custom_emoji":
            emoji_id = item.get("custom_emoji_id")
            if emoji_id is None:
                raise _EntityError(
                    "can't parse MessageEntity: Can't find field \"custom_emoji_id\""
                )
            if not (isinstance(emoji_id, str) and emoji_id.isdigit() and len(emoji_id) < 20):
                raise _EntityError(
                    'can\'t parse MessageEntity: Field "custom_emoji_id" must be a valid Number'
                )
            entity["custom_emoji_id"] = emoji_id
        elif kind == "pre" and isinstance(item.get("language"), str) and item["language"]:
            entity["language"] = item["language"]
        if length > 0:
            result.append(entity)
    return ParsedText(text, sorted_entities(result))


class _EntityError(FormattingError):
    """An invalid explicit entity; reported without the "can't parse entities" prefix."""


def is_plain_entity_error(error: FormattingError) -> bool:
    """True for explicit-entity errors, whose description has no "can't parse" prefix."""
    return isinstance(error, _EntityError)


# --------------------------------------------------------------------------- pipeline


def parse_text(
    text: str,
    parse_mode: str | None,
    entities: Any = None,
    *,
    strict_html: bool = True,
    user_lookup: UserLookup | None = None,
) -> ParsedText:
    """Apply the Bot API's rules: a parse mode wins over explicit entities.

    Raises FormattingError; ``ValueError`` for an unsupported parse mode.
    """
    mode = (parse_mode or "").lower()
    if text and mode and mode != "none":
        if mode == "html":
            return parse_html(text, strict=strict_html, user_lookup=user_lookup)
        if mode == "markdownv2":
            return parse_markdown_v2(text, user_lookup=user_lookup)
        if mode == "markdown":
            return parse_markdown(text, user_lookup=user_lookup)
        raise ValueError("unsupported parse_mode")
    if mode and mode not in {"html", "markdownv2", "markdown", "none"}:
        raise ValueError("unsupported parse_mode")
    return validate_entities(text, entities, user_lookup=user_lookup)


def trim_text(parsed: ParsedText) -> ParsedText:
    """Strip leading and trailing whitespace and shift/clip the entities, as Telegram does."""
    text = parsed.text
    stripped = text.strip(TRIM_CHARS)
    if stripped == text:
        return parsed
    if not stripped:
        return ParsedText("")
    lead = utf16_len(text[: len(text) - len(text.lstrip(TRIM_CHARS))])
    new_len = utf16_len(stripped)
    entities: list[Entity] = []
    for entity in parsed.entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, new_len)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return ParsedText(stripped, tuple(entities))


_AUTO_PATTERNS: Final = (
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")),
    ("url", re.compile(r"(?<![\w@])https?://[^\s<>\"]+[^\s<>\".,;:!?)\]']", re.IGNORECASE)),
    ("email", re.compile(r"(?<![\w.@])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}(?!\w)")),
    ("hashtag", re.compile(r"(?<![\w#])#[^\W\d][\w]{0,255}")),
)
_NO_AUTO_INSIDE: Final = frozenset({"code", "pre", "text_link", "url", "email", "text_mention"})


def detect_entities(text: str, existing: Sequence[Entity] = ()) -> tuple[Entity, ...]:
    """Add the entities Telegram detects by itself (commands, URLs, e-mails, mentions, tags)."""
    if not any(ch in text for ch in "/@#:"):
        return tuple(existing)
    found: list[Entity] = list(existing)
    blocked = [
        (e["offset"], e["offset"] + e["length"]) for e in existing if e["type"] in _NO_AUTO_INSIDE
    ]
    for kind, pattern in _AUTO_PATTERNS:
        for match in pattern.finditer(text):
            start = utf16_len(text[: match.start()])
            length = utf16_len(match.group(0))
            end = start + length
            if any(start < b_end and b_start < end for b_start, b_end in blocked):
                continue
            found.append({"type": kind, "offset": start, "length": length})
            blocked.append((start, end))
    found.sort(key=lambda e: (e["offset"], -e["length"]))
    return tuple(found)
