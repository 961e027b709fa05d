"""Telegram text formatting: parse modes, message entities, UTF-16 lengths, HTML rendering.

The parsers follow TDLib (the library behind the Bot API server) closely, including its
error descriptions ("Unsupported start tag \"foo\" at byte offset 12"), so a message that
the real Bot API rejects is rejected here too. One deliberate difference: in strict mode
(the default) a ``&`` that does not start one of the supported HTML entities is an error,
as the Bot API documentation demands, while TDLib silently keeps it as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape as _html_escape
from typing import Any, Final

__all__ = [
    "ENTITY_TYPES",
    "FormattingError",
    "ParsedText",
    "check_url",
    "detect_entities",
    "escape_html",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "parse_text",
    "render_html",
    "trim_text",
    "utf16_len",
    "validate_entities",
]

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

_HTML_TAGS: Final = frozenset(
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
_SIMPLE_TAG_TYPES: Final = {
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
_SPACES: Final = frozenset(" \t\r\n\v\f")
_TRIM_CHARS: Final = " \t\r\n\v\f"
_HTML_SPECIAL: Final = re.compile(r"[<&]")
_NAMED_ENTITIES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TG_USER_LINK: Final = re.compile(r"^tg://user\?id=(\d+)$", re.IGNORECASE)


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


def _byte_offset(source: str, index: int) -> int:
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


def _normalize_url(url: str) -> str:
    if "://" in url:
        return url
    return "http://" + url


# --------------------------------------------------------------------------- HTML


@dataclass(slots=True)
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    text_index: int  # index into the list of output chunks, for <a> without href


def _decode_html_entity(source: str, pos: int) -> tuple[str, int, bool] | None:
    """Decode the HTML entity at ``pos`` (pointing at '&').

    Returns (character, end position, had terminating semicolon) or None when there is
    no supported entity, mirroring TDLib's ``decode_html_entity``.
    """
    n = len(source)
    end = pos + 1
    code = 0
    if end < n and source[end] == "#":
        end += 1
        if end < n and source[end] in "xX":
            end += 1
            start = end
            while end < n and source[end] in "0123456789abcdefABCDEF":
                code = code * 16 + int(source[end], 16)
                end += 1
                if code >= 0x10FFFF:
                    return None
        else:
            start = end
            while end < n and source[end].isascii() and source[end].isdigit():
                code = code * 10 + int(source[end])
                end += 1
                if code >= 0x10FFFF:
                    return None
        if end == start or code == 0 or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        while end < n and source[end].isascii() and source[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(source[pos + 1 : end])
        if named is None:
            return None
        char = named
    if end < n and source[end] == ";":
        return char, end + 1, True
    return char, end, False


def parse_html(
    source: str, *, strict: bool = True, user_lookup: UserLookup | None = None
) -> ParsedText:
    """Parse Telegram's HTML subset into plain text and entities.

    Raises FormattingError with TDLib's wording for unsupported or unbalanced tags. With
    ``strict`` a bare ``&`` (or an entity without its ``;``) is rejected as well.
    """
    out: list[str] = []
    utf16 = 0
    stack: list[_OpenTag] = []
    entities: list[Entity] = []
    i = 0
    n = len(source)
    while i < n:
        match = _HTML_SPECIAL.search(source, i)
        j = match.start() if match else n
        if j > i:
            chunk = source[i:j]
            out.append(chunk)
            utf16 += utf16_len(chunk)
            i = j
            if i >= n:
                break
        if source[i] == "&":
            decoded = _decode_html_entity(source, i)
            if decoded is None or (strict and not decoded[2]):
                if strict:
                    raise FormattingError(
                        f'Character "&" at byte offset {_byte_offset(source, i)} does not start '
                        'a supported HTML entity; escape it as "&amp;"'
                    )
                out.append("&")
                utf16 += 1
                i += 1
                continue
            char, i, _ = decoded
            out.append(char)
            utf16 += utf16_len(char)
            continue

        begin = i
        i += 1
        if i < n and source[i] == "/":
            i += 1
            if not stack:
                raise FormattingError(
                    f"Unexpected end tag at byte offset {_byte_offset(source, begin)}"
                )
            name_start = i
            while i < n and source[i] not in _SPACES and source[i] != ">":
                i += 1
            end_name = source[name_start:i]
            while i < n and source[i] in _SPACES:
                i += 1
            if i >= n or source[i] != ">":
                raise FormattingError(
                    f"Unclosed end tag at byte offset {_byte_offset(source, begin)}"
                )
            i += 1
            tag = stack.pop()
            if end_name and end_name != tag.name:
                raise FormattingError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                    f'expected "</{tag.name}>", found "</{end_name}>"'
                )
            _close_html_tag(tag, utf16, out, entities, user_lookup)
            continue

        name_start = i
        while i < n and source[i] not in _SPACES and source[i] != ">":
            i += 1
        if i >= n:
            raise FormattingError(
                f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
            )
        name = source[name_start:i].lower()
        if name not in _HTML_TAGS:
            raise FormattingError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, begin)}'
            )
        argument = ""
        while True:
            while i < n and source[i] in _SPACES:
                i += 1
            if i >= n:
                raise FormattingError(
                    f'Unclosed start tag "{name}" at byte offset {_byte_offset(source, begin)}'
                )
            if source[i] == ">":
                i += 1
                break
            attr_start = i
            while i < n and source[i] not in _SPACES and source[i] not in "=>":
                i += 1
            attr_name = source[attr_start:i]
            if not attr_name:
                raise FormattingError(
                    f'Empty attribute name in the tag "{name}" at byte offset '
                    f"{_byte_offset(source, begin)}"
                )
            while i < n and source[i] in _SPACES:
                i += 1
            if i >= n or source[i] != "=":
                if name == "blockquote" and attr_name.lower() == "expandable":
                    argument = "1"
                continue
            i += 1
            while i < n and source[i] in _SPACES:
                i += 1
            if i >= n:
                raise FormattingError(
                    f'Unclosed start tag "{name}" at byte offset {_byte_offset(source, begin)}'
                )
            value_chars: list[str] = []
            if source[i] not in "'\"":
                token_start = i
                while i < n and (source[i].isalnum() or source[i] in ".-"):
                    i += 1
                value = source[token_start:i].lower()
                if i < n and source[i] not in _SPACES and source[i] != ">":
                    raise FormattingError(
                        "Unexpected end of name token at byte offset "
                        f"{_byte_offset(source, token_start)}"
                    )
            else:
                quote = source[i]
                i += 1
                while i < n and source[i] != quote:
                    if source[i] == "&":
                        decoded = _decode_html_entity(source, i)
                        if decoded is not None:
                            value_chars.append(decoded[0])
                            i = decoded[1]
                            continue
                    value_chars.append(source[i])
                    i += 1
                if i < n:
                    i += 1
                value = "".join(value_chars)
            if i >= n:
                raise FormattingError(
                    f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
                )
            attr = attr_name.lower()
            if name == "a" and attr == "href":
                argument = value
            elif name == "code" and attr == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif name == "span" and attr == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif name == "tg-emoji" and attr == "emoji-id":
                argument = value
            elif name == "blockquote" and attr == "expandable":
                argument = "1"
        if name == "span" and argument != "spoiler":
            raise FormattingError(
                'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(source, begin)}"
            )
        if name == "tg-emoji" and not (argument.isascii() and argument.isdigit()):
            raise FormattingError("Invalid custom emoji identifier specified")
        stack.append(_OpenTag(name, argument, utf16, len(out)))

    if stack:
        raise FormattingError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return ParsedText("".join(out), _sorted_entities(entities))


def _close_html_tag(
    tag: _OpenTag,
    utf16: int,
    out: list[str],
    entities: list[Entity],
    user_lookup: UserLookup | None,
) -> None:
    length = utf16 - tag.utf16_offset
    if length <= 0:
        return
    offset = tag.utf16_offset
    simple = _SIMPLE_TAG_TYPES.get(tag.name)
    if simple is not None:
        entities.append({"type": simple, "offset": offset, "length": length})
    elif tag.name == "a":
        url = tag.argument or "".join(out[tag.text_index :])
        user = _TG_USER_LINK.match(url)
        if user is not None:
            found = user_lookup(int(user.group(1))) if user_lookup is not None else None
            if found is not None:
                entities.append(
                    {"type": "text_mention", "offset": offset, "length": length, "user": found}
                )
            else:
                entities.append(
                    {"type": "text_link", "offset": offset, "length": length, "url": url}
                )
        elif check_url(url) is None:
            entities.append(
                {
                    "type": "text_link",
                    "offset": offset,
                    "length": length,
                    "url": _normalize_url(url),
                }
            )
    elif tag.name == "pre":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "code"
            and last["offset"] == offset
            and last["length"] == length
        ):
            language = last.pop("_language", "")
            last["type"] = "pre"
            if language:
                last["language"] = language
        else:
            entities.append({"type": "pre", "offset": offset, "length": length})
    elif tag.name == "code":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "pre"
            and last["offset"] == offset
            and last["length"] == length
        ):
            if tag.argument:
                last["language"] = tag.argument
        else:
            entity: Entity = {"type": "code", "offset": offset, "length": length}
            if tag.argument:
                entity["_language"] = tag.argument
            entities.append(entity)
    elif tag.name == "tg-emoji":
        entities.append(
            {
                "type": "custom_emoji",
                "offset": offset,
                "length": length,
                "custom_emoji_id": tag.argument,
            }
        )
    elif tag.name == "blockquote":
        kind = "expandable_blockquote" if tag.argument else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})


def _sorted_entities(entities: Iterable[Entity]) -> tuple[Entity, ...]:
    cleaned = []
    for entity in entities:
        entity.pop("_language", None)
        cleaned.append(entity)
    cleaned.sort(key=lambda e: (e["offset"], -e["length"]))
    return tuple(cleaned)


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
                        lang_end < n and source[lang_end] not in _SPACES and source[lang_end] != "`"
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
            stack.append(_MdOpen(kind, argument, utf16, _byte_offset(source, begin), len(out)))
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
                        f"Can't find end of a URL at byte offset {_byte_offset(source, url_begin)}"
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
    return ParsedText("".join(out), _sorted_entities(entities))


def _markdown_entity(
    kind: str, offset: int, length: int, argument: str, user_lookup: UserLookup | None
) -> Entity | None:
    if kind == "pre_code":
        return {"type": "pre", "offset": offset, "length": length, "language": argument}
    if kind == "text_link":
        user = _TG_USER_LINK.match(argument)
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
            "url": _normalize_url(argument),
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
            while lang_end < n and source[lang_end] not in _SPACES and source[lang_end] != "`":
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
                "Can't find end of the entity starting at byte offset "
                f"{_byte_offset(source, begin)}"
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
    return ParsedText("".join(out), _sorted_entities(entities))


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
            entity["url"] = _normalize_url(url)
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
    return ParsedText(text, _sorted_entities(result))


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
    stripped = text.strip(_TRIM_CHARS)
    if stripped == text:
        return parsed
    if not stripped:
        return ParsedText("")
    lead = utf16_len(text[: len(text) - len(text.lstrip(_TRIM_CHARS))])
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


# --------------------------------------------------------------------------- rendering


def _open_tag(entity: Entity) -> tuple[str, str] | None:
    kind = entity["type"]
    simple = {
        "bold": "b",
        "italic": "i",
        "underline": "u",
        "strikethrough": "s",
        "spoiler": "tg-spoiler",
        "code": "code",
        "blockquote": "blockquote",
    }.get(kind)
    if simple is not None:
        return f"<{simple}>", f"</{simple}>"
    if kind == "expandable_blockquote":
        return "<blockquote expandable>", "</blockquote>"
    if kind == "pre":
        language = entity.get("language")
        if language:
            return f'<pre><code class="language-{escape_html(language)}">', "</code></pre>"
        return "<pre>", "</pre>"
    if kind == "text_link":
        return f'<a href="{escape_html(entity["url"])}">', "</a>"
    if kind == "text_mention":
        return f'<a href="tg://user?id={entity["user"]["id"]}">', "</a>"
    if kind == "custom_emoji":
        return f'<tg-emoji emoji-id="{escape_html(entity["custom_emoji_id"])}">', "</tg-emoji>"
    return None


def render_html(text: str, entities: Sequence[Entity]) -> str:
    """Render plain text plus entities as Telegram HTML (properly nested)."""
    if not entities:
        return escape_html(text)
    # Map UTF-16 offsets to string indexes.
    index_of: dict[int, int] = {}
    pos = 0
    for idx, ch in enumerate(text):
        index_of[pos] = idx
        pos += 2 if ord(ch) > 0xFFFF else 1
    index_of[pos] = len(text)
    spans: list[tuple[int, int, str, str]] = []
    for entity in entities:
        tags = _open_tag(entity)
        if tags is None:
            continue
        start = index_of.get(entity["offset"])
        end = index_of.get(entity["offset"] + entity["length"])
        if start is None or end is None or end <= start:
            continue
        spans.append((start, end, tags[0], tags[1]))
    if not spans:
        return escape_html(text)
    spans.sort(key=lambda s: (s[0], -s[1]))
    boundaries = sorted({0, len(text)} | {s[0] for s in spans} | {s[1] for s in spans})
    parts: list[str] = []
    stack: list[tuple[int, int, str, str]] = []
    span_iter = 0
    for b_idx, boundary in enumerate(boundaries):
        # Close every span ending here; reopen spans that are still running above them.
        if any(span[1] == boundary for span in stack):
            reopen: list[tuple[int, int, str, str]] = []
            while any(span[1] == boundary for span in stack):
                top = stack.pop()
                parts.append(top[3])
                if top[1] != boundary:
                    reopen.append(top)
            for span in reversed(reopen):
                parts.append(span[2])
                stack.append(span)
        while span_iter < len(spans) and spans[span_iter][0] == boundary:
            span = spans[span_iter]
            parts.append(span[2])
            stack.append(span)
            span_iter += 1
        if b_idx + 1 < len(boundaries):
            parts.append(escape_html(text[boundary : boundaries[b_idx + 1]]))
    return "".join(parts)
