"""Text and entities back to Telegram-flavoured HTML (for the sandbox and the tests)."""

from __future__ import annotations

from collections.abc import Sequence

from .common import Entity, escape_html

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
