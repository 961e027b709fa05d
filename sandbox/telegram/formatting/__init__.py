"""Telegram text formatting: parse modes, message entities, UTF-16 lengths, HTML rendering.

The parsers follow TDLib (the library behind the Bot API server) closely, including its
error descriptions ("Unsupported start tag \"foo\" at byte offset 12"), so a message that
the real Bot API rejects is rejected here too. One deliberate difference: in strict mode
(the default) a ``&`` that does not start one of the supported HTML entities is an error,
as the Bot API documentation demands, while TDLib silently keeps it as text.

The package, by concern: ``common`` (entity types, the error, UTF-16 lengths, URLs),
``html_mode``, ``markdown`` (MarkdownV2 and legacy), ``entities`` (explicit entities, the
pipeline, auto-detected entities) and ``rendering`` (back to HTML).
"""

from __future__ import annotations

from .common import ENTITY_TYPES, FormattingError, ParsedText, check_url, escape_html, utf16_len
from .entities import (
    detect_entities,
    is_plain_entity_error,
    parse_text,
    trim_text,
    validate_entities,
)
from .html_mode import parse_html
from .markdown import parse_markdown, parse_markdown_v2
from .rendering import render_html

__all__ = [
    "ENTITY_TYPES",
    "FormattingError",
    "ParsedText",
    "check_url",
    "detect_entities",
    "escape_html",
    "is_plain_entity_error",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "parse_text",
    "render_html",
    "trim_text",
    "utf16_len",
    "validate_entities",
]
