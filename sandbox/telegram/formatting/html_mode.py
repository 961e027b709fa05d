"""parse_mode HTML, as TDLib parses it (strict about ``&`` by default)."""

from __future__ import annotations

from dataclasses import dataclass

from .common import (
    HTML_SPECIAL,
    HTML_TAGS,
    NAMED_ENTITIES,
    SIMPLE_TAG_TYPES,
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
    utf16_len,
)


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
        named = NAMED_ENTITIES.get(source[pos + 1 : end])
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
        match = HTML_SPECIAL.search(source, i)
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
                        f'Character "&" at byte offset {byte_offset(source, i)} does not start '
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
                    f"Unexpected end tag at byte offset {byte_offset(source, begin)}"
                )
            name_start = i
            while i < n and source[i] not in SPACES and source[i] != ">":
                i += 1
            end_name = source[name_start:i]
            while i < n and source[i] in SPACES:
                i += 1
            if i >= n or source[i] != ">":
                raise FormattingError(
                    f"Unclosed end tag at byte offset {byte_offset(source, begin)}"
                )
            i += 1
            tag = stack.pop()
            if end_name and end_name != tag.name:
                raise FormattingError(
                    f"Unmatched end tag at byte offset {byte_offset(source, begin)}, "
                    f'expected "</{tag.name}>", found "</{end_name}>"'
                )
            _close_html_tag(tag, utf16, out, entities, user_lookup)
            continue

        name_start = i
        while i < n and source[i] not in SPACES and source[i] != ">":
            i += 1
        if i >= n:
            raise FormattingError(f"Unclosed start tag at byte offset {byte_offset(source, begin)}")
        name = source[name_start:i].lower()
        if name not in HTML_TAGS:
            raise FormattingError(
                f'Unsupported start tag "{name}" at byte offset {byte_offset(source, begin)}'
            )
        argument = ""
        while True:
            while i < n and source[i] in SPACES:
                i += 1
            if i >= n:
                raise FormattingError(
                    f'Unclosed start tag "{name}" at byte offset {byte_offset(source, begin)}'
                )
            if source[i] == ">":
                i += 1
                break
            attr_start = i
            while i < n and source[i] not in SPACES and source[i] not in "=>":
                i += 1
            attr_name = source[attr_start:i]
            if not attr_name:
                raise FormattingError(
                    f'Empty attribute name in the tag "{name}" at byte offset '
                    f"{byte_offset(source, begin)}"
                )
            while i < n and source[i] in SPACES:
                i += 1
            if i >= n or source[i] != "=":
                if name == "blockquote" and attr_name.lower() == "expandable":
                    argument = "1"
                continue
            i += 1
            while i < n and source[i] in SPACES:
                i += 1
            if i >= n:
                raise FormattingError(
                    f'Unclosed start tag "{name}" at byte offset {byte_offset(source, begin)}'
                )
            value_chars: list[str] = []
            if source[i] not in "'\"":
                token_start = i
                while i < n and (source[i].isalnum() or source[i] in ".-"):
                    i += 1
                value = source[token_start:i].lower()
                if i < n and source[i] not in SPACES and source[i] != ">":
                    raise FormattingError(
                        "Unexpected end of name token at byte offset "
                        f"{byte_offset(source, token_start)}"
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
                    f"Unclosed start tag at byte offset {byte_offset(source, begin)}"
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
                f"{byte_offset(source, begin)}"
            )
        if name == "tg-emoji" and not (argument.isascii() and argument.isdigit()):
            raise FormattingError("Invalid custom emoji identifier specified")
        stack.append(_OpenTag(name, argument, utf16, len(out)))

    if stack:
        raise FormattingError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return ParsedText("".join(out), sorted_entities(entities))


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
    simple = SIMPLE_TAG_TYPES.get(tag.name)
    if simple is not None:
        entities.append({"type": simple, "offset": offset, "length": length})
    elif tag.name == "a":
        url = tag.argument or "".join(out[tag.text_index :])
        user = TG_USER_LINK.match(url)
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
                    "url": normalize_url(url),
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
