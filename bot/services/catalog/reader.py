"""Reading YAML nodes as typed fields: each reader checks one value, keeps its line
number, and records a ``Problem`` (line, where, message key) instead of raising.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.config import LOCALES
from bot.services.catalog.model import CODE_MAX, ROOM_MAX
from bot.services.catalog.problems import (
    Place,
    Problem,
    Text,
    coded,
    listing,
    numbered,
    say,
    suggest,
)

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
_EXAMPLE = "{ru: …, kk: …}"  # texts by language, as a file writes them


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def describe(node: Node) -> Text:
    """What a value is, for «…, not {found}»."""
    if isinstance(node, MappingNode):
        return say("catalog-value-block")
    if isinstance(node, SequenceNode):
        return say("catalog-value-list")
    return say("catalog-value-text", value=str(node.value))


class FieldReader:
    """Reads YAML nodes as checked fields, collecting every problem with its line."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []  # imported anyway, but said
        self._ctor = SafeConstructor()
        self.classes = 0  # classes made so far (listed or from weekly rules)

    # -- reporting

    def err(self, where_node: Node | int, where: Place, message: Text) -> None:
        line = where_node if isinstance(where_node, int) else line_of(where_node)
        self.problems.append(Problem(line, where, message))

    def errors(self) -> list[Problem]:
        """The problems in line order (in the order found within a line)."""
        return sorted(self.problems, key=lambda problem: problem.line)

    def warn(self, where_node: Node, where: Place, message: Text) -> None:
        self.warnings.append(Problem(line_of(where_node), where, message))

    # -- structure

    def fields(
        self,
        node: Node,
        where: Place,
        required: Sequence[str],
        optional: Sequence[str] = (),
    ) -> dict[str, Node] | None:
        """The keys of a mapping, checked: no unknown, duplicate or missing keys.

        YAML merge keys (``<<: {…}``) are honoured: merged keys fill in only what the
        mapping does not give itself.
        """
        if not isinstance(node, MappingNode):
            self.err(node, where, say("catalog-err-not-block", found=describe(node)))
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
                self.err(key_node, where, say("catalog-err-key-not-word"))
                continue
            key = str(key_node.value)
            if key in key_lines:
                self.err(
                    key_node, where, say("catalog-err-key-twice", key=key, number=key_lines[key])
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
                    say("catalog-err-unknown-key", key=key, allowed=listing(allowed)).and_then(
                        suggest(key, allowed)
                    ),
                )
                continue
            if isinstance(value_node, ScalarNode) and value_node.tag == _NULL:
                if key in required:
                    self.err(key_lines[key], where, say("catalog-err-no-value", key=key))
                continue
            out[key] = value_node
        for key in required:
            if key not in own:
                self.err(node, where, say("catalog-err-missing-key", key=key))
        return out

    def _merge_sources(self, node: Node, where: Place) -> list[MappingNode]:
        if isinstance(node, MappingNode):
            return [node]
        if isinstance(node, SequenceNode) and all(isinstance(n, MappingNode) for n in node.value):
            return list(node.value)
        self.err(node, where, say("catalog-err-merge", key="<<"))
        return []

    def items(self, node: Node, where: Place, key: str) -> list[Node]:
        if isinstance(node, SequenceNode):
            return list(node.value)
        self.err(node, where, say("catalog-err-not-list", key=key))
        return []

    # -- scalars

    def text(self, node: Node, where: Place, key: str) -> str | None:
        if isinstance(node, ScalarNode) and node.tag == _NULL:
            self.err(node, where, say("catalog-err-empty", key=key))
            return None
        if not isinstance(node, ScalarNode):
            self.err(node, where, say("catalog-err-not-text", key=key, found=describe(node)))
            return None
        value = str(node.value).strip()
        if not value:
            self.err(node, where, say("catalog-err-empty", key=key))
            return None
        return value

    def code(
        self, node: Node, where: Place, key: str = "code", max_len: int = CODE_MAX
    ) -> str | None:
        value = self.text(node, where, key)
        if value is None:
            return None
        if not _CODE_RE.match(value):
            self.err(node, where, say("catalog-err-code-letters", key=key, value=value))
            return None
        if len(value) > max_len:
            self.err(node, where, say("catalog-err-too-long", key=key, max=max_len))
            return None
        return value

    def room(self, node: Node, where: Place) -> str | None:
        value = self.text(node, where, "room")
        if value is not None and len(value) > ROOM_MAX:
            self.err(node, where, say("catalog-err-too-long", key="room", max=ROOM_MAX))
            return None
        return value

    def choice(self, node: Node, where: Place, key: str, choices: Sequence[str]) -> str | None:
        value = self.text(node, where, key)
        if value is None:
            return None
        if value not in choices:
            self.err(
                node,
                where,
                say(
                    "catalog-err-not-one-of", key=key, value=value, choices=listing(choices)
                ).and_then(suggest(value, choices)),
            )
            return None
        return value

    def unknown_language(
        self, key_node: Node, where: Place, key: str, lang: str, *, flow: bool = False
    ) -> None:
        """A language key that is not kk, ky, ru or en. In the one-line form, a word that
        is no language code at all is most likely a piece of text cut at a comma."""
        hint = None
        if flow and not (lang.isascii() and lang.isalpha() and len(lang) <= 3):
            hint = say("catalog-hint-quotes", example='{ru: "…, …"}')
        self.err(
            key_node,
            where,
            say(
                "catalog-err-unknown-language", key=key, lang=lang, languages=listing(LOCALES)
            ).and_then(suggest(lang, LOCALES), hint),
        )

    def localized(self, node: Node, where: Place, key: str) -> dict[str, str] | None:
        """A text in every language: {kk: …, ky: …, ru: …, en: …}. A language left out
        shows the text of another (``FALLBACK_ORDER``), and a warning says so."""
        if not isinstance(node, MappingNode):
            self.err(
                node,
                where,
                say(
                    "catalog-err-needs-languages",
                    key=key,
                    languages=listing(LOCALES),
                    found=describe(node),
                ),
            )
            return None
        seen = self._by_language(node, where, key)
        if seen is None:
            return None
        missing = [lang for lang in LOCALES if lang not in seen]
        if missing:
            # Imported with a fallback, and said: the missing languages show this text.
            source = next(lang for lang in FALLBACK_ORDER if lang in seen)
            self.warn(
                node,
                where,
                say(
                    "catalog-warn-missing-languages",
                    key=key,
                    missing=listing(missing),
                    source=source,
                ),
            )
            seen.update(dict.fromkeys(missing, seen[source]))
        return {lang: seen[lang] for lang in LOCALES}

    def some_languages(self, node: Node, where: Place, key: str) -> dict[str, str] | None:
        """Texts in some of the four languages (at least one); the caller fills in the
        others (a question's ``fallback``, a centre's FAQ and contacts at display)."""
        if not isinstance(node, MappingNode):
            self.err(node, where, say("catalog-err-texts-by-language", key=key, example=_EXAMPLE))
            return None
        return self._by_language(node, where, key)

    def _by_language(self, node: MappingNode, where: Place, key: str) -> dict[str, str] | None:
        """The texts of a {lang: text} block, each language once, at least one."""
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
                self.unknown_language(
                    key_node, where, key, lang, flow=bool(node.flow_style) and previous is not None
                )
                ok = False
                continue
            if lang in lines:
                self.err(
                    key_node,
                    where,
                    say("catalog-err-language-twice", key=key, lang=lang, number=lines[lang]),
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
            self.err(node, where, say("catalog-err-no-text", key=key, languages=listing(LOCALES)))
            return None
        return seen

    def whole(self, node: Node, where: Place, key: str, *, weeks: bool = False) -> int | None:
        if isinstance(node, ScalarNode) and node.tag == _INT:
            value = int(self._ctor.construct_yaml_int(node))
            if value > 0:
                return value
        if weeks:
            self.err(node, where, say("catalog-err-whole-weeks", key=key, found=describe(node)))
        else:
            self.err(node, where, say("catalog-err-whole", key=key, found=describe(node)))
        return None

    def number(self, node: Node, where: Place, key: str, low: float, high: float) -> float | None:
        if isinstance(node, ScalarNode) and node.tag in (_INT, _FLOAT):
            value = float(self._ctor.construct_yaml_float(node))
            if low <= value <= high:
                return value
            self.err(
                node,
                where,
                say(
                    "catalog-err-out-of-range",
                    key=key,
                    low=f"{low:g}",
                    high=f"{high:g}",
                    value=f"{value:g}",
                ),
            )
            return None
        self.err(node, where, say("catalog-err-not-number", key=key, found=describe(node)))
        return None

    def boolean(self, node: Node, where: Place, key: str) -> bool | None:
        if isinstance(node, ScalarNode) and node.tag == _BOOL:
            return bool(self._ctor.construct_yaml_bool(node))
        self.err(node, where, say("catalog-err-not-boolean", key=key, found=describe(node)))
        return None

    def day(self, node: Node, where: Place, key: str) -> date | None:
        raw = str(node.value).strip() if isinstance(node, ScalarNode) else ""
        if _DATE_RE.match(raw):
            try:
                return date.fromisoformat(raw)
            except ValueError:
                self.err(node, where, say("catalog-err-no-such-date", key=key, value=raw))
                return None
        self.err(node, where, say("catalog-err-not-date", key=key, found=describe(node)))
        return None

    def clock(self, node: Node, where: Place, key: str) -> time | None:
        # The raw text is used on purpose: YAML 1.1 would read 18:30 as the number 1110.
        raw = str(node.value).strip() if isinstance(node, ScalarNode) else ""
        match = _TIME_RE.match(raw)
        if match and int(match[1]) < 24 and int(match[2]) < 60:
            return time(int(match[1]), int(match[2]))
        self.err(node, where, say("catalog-err-not-time", key=key, found=describe(node)))
        return None

    def timezone(self, node: Node, where: Place, key: str) -> str | None:
        value = self.text(node, where, key)
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            # An offset like UTC+6 is not a zone: it cannot follow a change of the law.
            hint = None if _OFFSET_RE.match(value) else suggest(value, available_timezones())
            self.err(
                node,
                where,
                say("catalog-err-unknown-zone", key=key, value=value).and_then(hint),
            )
            return None
        return value


def entry_label(kind: Text, node: Node, index: int) -> Text:
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
                    return coded(kind, code)
    return numbered(kind, index + 1)
