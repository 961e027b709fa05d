"""parse_mode MarkdownV2 and the legacy Markdown, as TDLib parses them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from .common import (
    SPACES,
    TG_USER_LINK,
    Entity,
    FormattingError,
    ParsedText,
    UserLookup,
    byte_offset,
    check_url,
    normalize_url,
    sorted_entities,
)

# --------------------------------------------------------------------------- MarkdownV2

_MDV2_RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_TYPE_NAMES: Final = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


@dataclass(slots=True)
class _MdOpen:
    kind: str
    argument: str
    utf16_offset: int
    byte_index: int
    text_index: int


def _reserved_error(char: str) -> FormattingError:
    return FormattingError(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def parse_markdown_v2(source: str, *, user_lookup: UserLookup | None = None) -> ParsedText:
    """Parse MarkdownV2 like TDLib's ``parse_markdown_v2`` (block quotes simplified)."""
    out: list[str] = []
    utf16 = 0
    stack: list[_MdOpen] = []
    entities: list[Entity] = []
    quote_start: int | None = None
    n = len(source)
    i = 0

    def char_at(k: int) -> str:
        return source[k] if k < n else ""

    while i < n:
        c = source[i]
        if c == "\\" and i + 1 < n and 0 < ord(source[i + 1]) <= 126:
            out.append(source[i + 1])
            utf16 += 1
            i += 2
            continue
        in_code = bool(stack) and stack[-1].kind in {"code", "pre", "pre_code"}
        at_line_start = i == 0 or source[i - 1] == "\n"
        if c == "\n" and quote_start is not None and char_at(i + 1) != ">":
            entities.append(
                {"type": "blockquote", "offset": quote_start, "length": utf16 - quote_start}
            )
            quote_start = None
        if c == ">" and at_line_start and not in_code:
            if quote_start is None:
                quote_start = utf16
            i += 1
            continue
        reserved = c == "`" if in_code else c in _MDV2_RESERVED
        if not reserved:
            out.append(c)
            utf16 += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue

        closing = False
        if stack:
            kind = stack[-1].kind
            nxt = char_at(i + 1)
            closing = (
                (kind == "bold" and c == "*")
                or (kind == "italic" and c == "_" and nxt != "_")
                or (kind == "code" and c == "`")
                or (kind in {"pre", "pre_code"} and source.startswith("```", i))
                or (kind in {"text_link", "custom_emoji"} and c == "]")
                or (kind == "underline" and c == "_" and nxt == "_")
                or (kind == "strikethrough" and c == "~")
                or (kind == "spoiler" and c == "|" and nxt == "|")
            )
        if not closing:
            begin = i
            argument = ""
            if c == "_":
                if char_at(i + 1) == "_":
                    kind = "underline"
                    i += 1
                else:
                    kind = "italic"
            elif c == "*":
                kind = "bold"
            elif c == "~":
                kind = "strikethrough"
            elif c == "|":
                if char_at(i + 1) != "|":
                    raise _reserved_error(c)
                kind = "spoiler"
                i += 1
            elif c == "[":
                kind = "text_link"
            elif c == "`":
                if source.startswith("```", i):
                    i += 3
                    kind = "pre"
                    lang_end = i
                    while (
                        lang_end < n and source[lang_end] not in SPACES and source[lang_end] != "`"
                    ):
                        lang_end += 1
                    if i != lang_end and lang_end < n and source[lang_end] != "`":
                        kind = "pre_code"
                        argument = source[i:lang_end]
                        i = lang_end
                    if char_at(i) in "\r\n" and char_at(i):
                        if (
                            char_at(i + 1) in "\r\n"
                            and char_at(i + 1)
                            and source[i] != source[i + 1]
                        ):
                            i += 2
                        else:
                            i += 1
                    i -= 1
                else:
                    kind = "code"
            elif c == "!" and char_at(i + 1) == "[":
                kind = "custom_emoji"
                i += 1
            else:
                raise _reserved_error(c)
            stack.append(_MdOpen(kind, argument, utf16, byte_offset(source, begin), len(out)))
            i += 1
            continue

        opened = stack.pop()
        skip = utf16 == opened.utf16_offset
        kind = opened.kind
        argument = opened.argument
        if kind in {"underline", "spoiler"}:
            i += 1
        elif kind in {"pre", "pre_code"}:
            i += 2
        elif kind in {"text_link", "custom_emoji"}:
            if char_at(i + 1) != "(":
                if kind == "custom_emoji":
                    raise FormattingError("Custom emoji entity must contain a tg://emoji URL")
                url = "".join(out[opened.text_index :])
            else:
                i += 2
                url_begin = i
                url_chars: list[str] = []
                while i < n and source[i] != ")":
                    if source[i] == "\\" and i + 1 < n and 0 < ord(source[i + 1]) <= 126:
                        url_chars.append(source[i + 1])
                        i += 2
                        continue
                    url_chars.append(source[i])
                    i += 1
                if i >= n:
                    raise FormattingError(
                        f"Can't find end of a URL at byte offset {byte_offset(source, url_begin)}"
                    )
                url = "".join(url_chars)
            if kind == "custom_emoji":
                emoji = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
                if emoji is None:
                    raise FormattingError("Custom emoji URL must have an emoji identifier")
                argument = emoji.group(1)
            else:
                argument = url
        i += 1
        if skip:
            continue
        length = utf16 - opened.utf16_offset
        entity = _markdown_entity(kind, opened.utf16_offset, length, argument, user_lookup)
        if entity is not None:
            entities.append(entity)

    if quote_start is not None and utf16 > quote_start:
        entities.append(
            {"type": "blockquote", "offset": quote_start, "length": utf16 - quote_start}
        )
    if stack:
        opened = stack[-1]
        raise FormattingError(
            f"Can't find end of {_MDV2_TYPE_NAMES[opened.kind]} entity at byte offset "
            f"{opened.byte_index}"
        )
    return ParsedText("".join(out), sorted_entities(entities))


def _markdown_entity(
    kind: str, offset: int, length: int, argument: str, user_lookup: UserLookup | None
) -> Entity | None:
    if kind == "pre_code":
        return {"type": "pre", "offset": offset, "length": length, "language": argument}
    if kind == "text_link":
        user = TG_USER_LINK.match(argument)
        if user is not None and user_lookup is not None:
            found = user_lookup(int(user.group(1)))
            if found is not None:
                return {"type": "text_mention", "offset": offset, "length": length, "user": found}
        if user is None and check_url(argument) is not None:
            return None
        return {
            "type": "text_link",
            "offset": offset,
            "length": length,
            "url": normalize_url(argument),
        }
    if kind == "custom_emoji":
        return {
            "type": "custom_emoji",
            "offset": offset,
            "length": length,
            "custom_emoji_id": argument,
        }
    return {"type": kind, "offset": offset, "length": length}


# --------------------------------------------------------------------------- legacy Markdown


def parse_markdown(source: str, *, user_lookup: UserLookup | None = None) -> ParsedText:
    """Parse legacy Markdown like TDLib's ``parse_markdown``."""
    out: list[str] = []
    utf16 = 0
    entities: list[Entity] = []
    n = len(source)
    i = 0
    while i < n:
        c = source[i]
        if c == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.append(source[i + 1])
            utf16 += 1
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            utf16 += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        end_char = "]" if c == "[" else c
        is_pre = False
        language = ""
        i += 1
        if c == "`" and source.startswith("``", i):
            i += 2
            is_pre = True
            lang_end = i
            while lang_end < n and source[lang_end] not in SPACES and source[lang_end] != "`":
                lang_end += 1
            if i != lang_end and lang_end < n and source[lang_end] != "`":
                language = source[i:lang_end]
                i = lang_end
            if i < n and source[i] in "\r\n":
                if i + 1 < n and source[i + 1] in "\r\n" and source[i] != source[i + 1]:
                    i += 2
                else:
                    i += 1
        entity_offset = utf16
        start_index = len(out)
        while i < n and (source[i] != end_char or (is_pre and not source.startswith("```", i))):
            out.append(source[i])
            utf16 += 2 if ord(source[i]) > 0xFFFF else 1
            i += 1
        if i >= n:
            raise FormattingError(
                f"Can't find end of the entity starting at byte offset {byte_offset(source, begin)}"
            )
        length = utf16 - entity_offset
        if length > 0:
            if c == "_":
                entities.append({"type": "italic", "offset": entity_offset, "length": length})
            elif c == "*":
                entities.append({"type": "bold", "offset": entity_offset, "length": length})
            elif c == "`":
                if is_pre:
                    pre: Entity = {"type": "pre", "offset": entity_offset, "length": length}
                    if language:
                        pre["language"] = language
                    entities.append(pre)
                else:
                    entities.append({"type": "code", "offset": entity_offset, "length": length})
            else:
                if i + 1 < n and source[i + 1] == "(":
                    i += 2
                    url_chars: list[str] = []
                    while i < n and source[i] != ")":
                        url_chars.append(source[i])
                        i += 1
                    url = "".join(url_chars)
                else:
                    url = "".join(out[start_index:])
                entity = _markdown_entity("text_link", entity_offset, length, url, user_lookup)
                if entity is not None:
                    entities.append(entity)
        if is_pre:
            i += 2
        i += 1
    return ParsedText("".join(out), sorted_entities(entities))
