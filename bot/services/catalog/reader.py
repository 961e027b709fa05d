"""Reading YAML nodes as typed fields: each reader checks one value, keeps its line
number, and records a ``file:line: where: what`` problem instead of raising.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.config import LOCALES
from bot.services.catalog.model import CODE_MAX, ROOM_MAX

_CODE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_OFFSET_RE = re.compile(r"^(?:UTC|GMT)?\s*[+-]\s*\d", re.IGNORECASE)

_TAG = "tag:yaml.org,2002:"
_NULL, _BOOL, _INT, _FLOAT = _TAG + "null", _TAG + "bool", _TAG + "int", _TAG + "float"
_MERGE = _TAG + "merge"
# A text missing in some languages shows the first of these that the file gives: Russian
# is read in both countries.
FALLBACK_ORDER = ("ru", "en", "kk", "ky")


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def suggest(word: str, choices: Iterable[str]) -> str:
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered:
        return f" (did you mean '{lowered[word.lower()]}'?)"
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a block of 'key: value' lines"
    if isinstance(node, SequenceNode):
        return "a list"
    return f"'{node.value}'"


class FieldReader:
    """Reads YAML nodes as checked fields, collecting every problem with its line."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[tuple[int, int, str]] = []
        self.warnings: list[tuple[int, int, str]] = []  # imported anyway, but said
        self._ctor = SafeConstructor()
        self.classes = 0  # classes made so far (listed or from weekly rules)

    # -- reporting

    def err(self, where_node: Node | int, where: str | None, message: str) -> None:
        line = where_node if isinstance(where_node, int) else line_of(where_node)
        text = f"{where}: {message}" if where else message
        self.problems.append((line, len(self.problems), f"{self.filename}:{line}: {text}"))

    def errors(self) -> list[str]:
        return [text for _, _, text in sorted(self.problems)]

    def warn(self, where_node: Node, where: str, message: str) -> None:
        line = line_of(where_node)
        self.warnings.append(
            (line, len(self.warnings), f"{self.filename}:{line}: {where}: {message}")
        )

    # -- structure

    def fields(
        self,
        node: Node,
        where: str,
        required: Sequence[str],
        optional: Sequence[str] = (),
    ) -> dict[str, Node] | None:
        """The keys of a mapping, checked: no unknown, duplicate or missing keys.

        YAML merge keys (``<<: *anchor``) are honoured: merged keys fill in only what the
        mapping does not give itself.
        """
        if not isinstance(node, MappingNode):
            self.err(node, where, f"expected a block of 'key: value' lines, not {_describe(node)}")
            return None
        allowed = (*required, *optional)
        own: dict[str, Node] = {}
        key_lines: dict[str, int] = {}
        merged: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                for source in self._merge_sources(value_node, where):
                    for k, v in source.value:
                        if isinstance(k, ScalarNode):
                            merged.setdefault(k.value, v)
                continue
            if not isinstance(key_node, ScalarNode):
                self.err(key_node, where, "a key must be a single word")
                continue
            key = str(key_node.value)
            if key in key_lines:
                self.err(
                    key_node, where, f"'{key}' is given twice (first on line {key_lines[key]})"
                )
                continue
            key_lines[key] = line_of(key_node)
            own[key] = value_node
        for key, value_node in merged.items():
            own.setdefault(key, value_node)
            key_lines.setdefault(key, line_of(value_node))
        out: dict[str, Node] = {}
        for key, value_node in own.items():
            if key not in allowed:
                self.err(
                    key_lines[key],
                    where,
                    f"unknown key '{key}'{suggest(key, allowed)}; "
                    f"allowed here: {', '.join(allowed)}",
                )
                continue
            if isinstance(value_node, ScalarNode) and value_node.tag == _NULL:
                if key in required:
                    self.err(key_lines[key], where, f"'{key}' has no value")
                continue
            out[key] = value_node
        for key in required:
            if key not in own:
                self.err(node, where, f"missing '{key}'")
        return out

    def _merge_sources(self, node: Node, where: str) -> list[MappingNode]:
        if isinstance(node, MappingNode):
            return [node]
        if isinstance(node, SequenceNode) and all(isinstance(n, MappingNode) for n in node.value):
            return list(node.value)
        self.err(node, where, "'<<' must refer to a block defined with '&name'")
        return []

    def items(self, node: Node, where: str, key: str) -> list[Node]:
        if isinstance(node, SequenceNode):
            return list(node.value)
        self.err(node, where, f"'{key}' must be a list (lines starting with '- ')")
        return []

    # -- scalars

    def text(self, node: Node, where: str, key: str) -> str | None:
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            self.err(node, where, f"'{key}' is empty")
            return None
        if not isinstance(node, ScalarNode):
            self.err(node, where, f"'{key}' must be text, not {_describe(node)}")
            return None
        value = str(node.value).strip()
        if not value:
            self.err(node, where, f"'{key}' is empty")
            return None
        return value

    def code(
        self, node: Node, where: str, key: str = "code", max_len: int = CODE_MAX
    ) -> str | None:
        value = self.text(node, where, key)
        if value is None:
            return None
        if not _CODE_RE.match(value):
            self.err(
                node,
                where,
                f"'{key}' '{value}' may only hold small Latin letters, digits, '-' and '_' "
                "(for example taraz-java)",
            )
            return None
        if len(value) > max_len:
            self.err(node, where, f"'{key}' '{value}' is longer than {max_len} characters")
            return None
        return value

    def room(self, node: Node, where: str) -> str | None:
        value = self.text(node, where, "room")
        if value is not None and len(value) > ROOM_MAX:
            self.err(node, where, f"'room' is longer than {ROOM_MAX} characters")
            return None
        return value

    def choice(self, node: Node, where: str, key: str, choices: Sequence[str]) -> str | None:
        value = self.text(node, where, key)
        if value is None:
            return None
        if value not in choices:
            self.err(
                node,
                where,
                f"'{key}' must be one of {', '.join(choices)}, not '{value}'"
                f"{suggest(value, choices)}",
            )
            return None
        return value

    def localized(self, node: Node, where: str, key: str) -> dict[str, str] | None:
        """A text in every language: {kk: …, ky: …, ru: …, en: …}."""
        if not isinstance(node, MappingNode):
            self.err(
                node,
                where,
                f"'{key}' needs a text in each language ({', '.join(LOCALES)}), "
                f"not {_describe(node)}",
            )
            return None
        seen: dict[str, str] = {}
        lines: dict[str, int] = {}
        ok = True
        previous: str | None = None
        for key_node, value_node in node.value:
            lang = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
            orphan = (
                node.flow_style
                and lang not in LOCALES
                and previous is not None
                and isinstance(value_node, ScalarNode)
                and value_node.tag == _NULL
            )
            if orphan and previous is not None:
                # {ru: Тараз, ул. Абая 1, kk: …}: YAML split the text at its comma into a
                # key of its own; the comma belongs to the text before it.
                seen[previous] = f"{seen[previous]}, {lang}"
                continue
            if lang not in LOCALES:
                self.err(
                    key_node,
                    where,
                    f"'{key}': unknown language '{lang}'{suggest(lang, LOCALES)}; "
                    f"use {', '.join(LOCALES)}"
                    + (
                        ' (a text with a comma or a colon goes in quotes: {ru: "…, …"})'
                        if node.flow_style
                        and previous is not None
                        and not (lang.isascii() and lang.isalpha() and len(lang) <= 3)
                        else ""
                    ),
                )
                ok = False
                continue
            if lang in lines:
                self.err(
                    key_node,
                    where,
                    f"'{key}': '{lang}' is given twice (first on line {lines[lang]})",
                )
                ok = False
                continue
            lines[lang] = line_of(key_node)
            value = self.text(value_node, where, f"{key}.{lang}")
            if value is None:
                ok = False
                continue
            seen[lang] = value
            previous = lang
        if not ok:
            return None
        if not seen:
            self.err(node, where, f"'{key}' has no text in any language ({', '.join(LOCALES)})")
            return None
        missing = [lang for lang in LOCALES if lang not in seen]
        if missing:
            # Imported with a fallback, and said: the missing languages show this text.
            source = next(lang for lang in FALLBACK_ORDER if lang in seen)
            self.warn(
                node,
                where,
                f"'{key}' has no text in {', '.join(missing)}: the {source} text is shown "
                "there until you add it",
            )
            seen.update(dict.fromkeys(missing, seen[source]))
        return {lang: seen[lang] for lang in LOCALES}

    def whole(self, node: Node, where: str, key: str, what: str) -> int | None:
        if isinstance(node, ScalarNode) and node.tag == _INT:
            value = int(self._ctor.construct_yaml_int(node))
            if value > 0:
                return value
        self.err(node, where, f"'{key}' must be {what}")
        return None

    def number(self, node: Node, where: str, key: str, low: float, high: float) -> float | None:
        if isinstance(node, ScalarNode) and node.tag in (_INT, _FLOAT):
            value = float(self._ctor.construct_yaml_float(node))
            if low <= value <= high:
                return value
            self.err(node, where, f"'{key}' must be between {low:g} and {high:g}, not {value:g}")
            return None
        self.err(node, where, f"'{key}' must be a number like 42.9, not {_describe(node)}")
        return None

    def boolean(self, node: Node, where: str, key: str) -> bool | None:
        if isinstance(node, ScalarNode) and node.tag == _BOOL:
            return bool(self._ctor.construct_yaml_bool(node))
        self.err(node, where, f"'{key}' must be true or false, not {_describe(node)}")
        return None

    def day(self, node: Node, where: str, key: str) -> date | None:
        raw = str(node.value).strip() if isinstance(node, ScalarNode) else ""
        if _DATE_RE.match(raw):
            try:
                return date.fromisoformat(raw)
            except ValueError:
                self.err(node, where, f"'{key}': there is no such date as {raw}")
                return None
        self.err(node, where, f"'{key}' must be a date like 2026-12-07, not {_describe(node)}")
        return None

    def clock(self, node: Node, where: str, key: str) -> time | None:
        # The raw text is used on purpose: YAML 1.1 would read 18:30 as the number 1110.
        raw = str(node.value).strip() if isinstance(node, ScalarNode) else ""
        match = _TIME_RE.match(raw)
        if match and int(match[1]) < 24 and int(match[2]) < 60:
            return time(int(match[1]), int(match[2]))
        self.err(node, where, f"'{key}' must be a time like 18:30, not {_describe(node)}")
        return None

    def timezone(self, node: Node, where: str, key: str) -> str | None:
        value = self.text(node, where, key)
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            # An offset like UTC+6 is not a zone: it cannot follow a change of the law.
            hint = "" if _OFFSET_RE.match(value) else suggest(value, available_timezones())
            self.err(
                node,
                where,
                f"'{key}': unknown time zone '{value}'{hint}; use an IANA name like Asia/Almaty",
            )
            return None
        return value


def entry_label(kind: str, node: Node, index: int) -> str:
    """How errors name an entry: by its code when it has a valid one, else by position."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if (
                isinstance(key, ScalarNode)
                and key.value == "code"
                and isinstance(value, ScalarNode)
            ):
                code = str(value.value).strip()
                if _CODE_RE.match(code):
                    return f"{kind} '{code}'"
    return f"{kind} #{index + 1}"
