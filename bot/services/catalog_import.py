"""Catalogue import: a YAML file staff can edit → regions, districts, centres, courses,
groups and class sessions in the database.

Two steps, kept apart so each can be tested on its own:

* ``parse_catalog(text)`` is pure. It reads the YAML with PyYAML's node API so that every
  value keeps its line number, checks everything it can without a database, and returns
  frozen dataclasses — or raises ``CatalogError`` listing *all* problems, each as
  ``file:line: where: what``.
* ``apply_catalog(db, data)`` upserts by ``code`` in one transaction (all or nothing).
  References to codes not in the file are looked up in the database, so a partial file
  (say, only ``groups:`` with new timetables) works. Rows that are in the database but not
  in the file are kept, ``Group.seats_taken`` is never written, and importing the same
  file twice changes nothing.

The file format is described for programme staff in ``catalog/README.md``.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.config import LOCALES
from db.database import Database
from db.models import Centre, ClassSession, Course, District, Group, Region

__all__ = [
    "CODE_MAX",
    "COUNTRIES",
    "KINDS",
    "ROOM_MAX",
    "SECTIONS",
    "WEEKDAYS",
    "CatalogData",
    "CatalogError",
    "CentreData",
    "Counts",
    "CourseData",
    "DistrictData",
    "GroupData",
    "ImportReport",
    "RegionData",
    "SessionData",
    "apply_catalog",
    "import_catalog",
    "parse_catalog",
]

SECTIONS = ("regions", "centres", "courses", "groups")
COUNTRIES = ("KZ", "KG")
KINDS = ("region", "city")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CODE_MAX = 64  # the width of every `code` column
ROOM_MAX = 64  # the width of class_sessions.room
MAX_RULE_DAYS = 800  # a weekly rule longer than about two years is surely a typo

_CODE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_OFFSET_RE = re.compile(r"^(?:UTC|GMT)?\s*[+-]\s*\d", re.IGNORECASE)

_TAG = "tag:yaml.org,2002:"
_NULL, _BOOL, _INT, _FLOAT = _TAG + "null", _TAG + "bool", _TAG + "int", _TAG + "float"
_MERGE = _TAG + "merge"


# --------------------------------------------------------------------------- errors


class CatalogError(ValueError):
    """The catalogue file has problems; ``errors`` lists every one, line by line."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors: list[str] = list(errors)
        super().__init__("\n".join(self.errors))


# ----------------------------------------------------------------------- parsed data


@dataclass(frozen=True, slots=True)
class DistrictData:
    code: str
    name: dict[str, str]
    sort: int
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class RegionData:
    code: str
    country: str
    kind: str
    name: dict[str, str]
    districts: tuple[DistrictData, ...]
    sort: int
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CentreData:
    code: str
    region: str
    name: dict[str, str]
    city: dict[str, str]
    address: dict[str, str]
    latitude: float
    longitude: float
    timezone: str
    sort: int
    line: int = field(default=0, compare=False)
    region_line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CourseData:
    code: str
    centre: str
    title: dict[str, str]
    description: dict[str, str]
    languages: tuple[str, ...]
    duration_weeks: int
    modules: int | None
    certificate: dict[str, str]  # empty when the course gives no certificate
    start_date: date
    enrolment_open: bool
    free_of_charge: bool
    sort: int
    line: int = field(default=0, compare=False)
    centre_line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class SessionData:
    """One class, in the local time of its centre; ``starts_at(tz)`` gives UTC."""

    group: str
    code: str | None
    day: date
    start: time
    end: time
    room: str | None  # None: keep whatever the database has (new rows: no room)
    cancelled: bool | None  # None: keep whatever the database has (new rows: False)
    generated: bool = False  # expanded from a weekly rule
    line: int = field(default=0, compare=False)

    def local_start(self) -> datetime:
        return datetime.combine(self.day, self.start)

    def local_end(self) -> datetime:
        return datetime.combine(self.day, self.end)

    def starts_at(self, tz: ZoneInfo) -> datetime:
        return self.local_start().replace(tzinfo=tz).astimezone(UTC)

    def ends_at(self, tz: ZoneInfo) -> datetime:
        return self.local_end().replace(tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class GroupData:
    """A group; ``course``, ``name`` and ``capacity`` may be left out when the group is
    already in the database (a timetable-only file), and are then left as they are."""

    code: str
    course: str | None
    name: dict[str, str] | None
    capacity: int | None
    sessions: tuple[SessionData, ...]
    line: int = field(default=0, compare=False)
    course_line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class CatalogData:
    filename: str
    regions: tuple[RegionData, ...] = ()
    centres: tuple[CentreData, ...] = ()
    courses: tuple[CourseData, ...] = ()
    groups: tuple[GroupData, ...] = ()

    @property
    def districts(self) -> tuple[DistrictData, ...]:
        return tuple(d for r in self.regions for d in r.districts)

    @property
    def sessions(self) -> tuple[SessionData, ...]:
        return tuple(s for g in self.groups for s in g.sessions)


# --------------------------------------------------------------------------- report


@dataclass(slots=True)
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass(slots=True)
class ImportReport:
    """What an import did, per kind of row."""

    regions: Counts = field(default_factory=Counts)
    districts: Counts = field(default_factory=Counts)
    centres: Counts = field(default_factory=Counts)
    courses: Counts = field(default_factory=Counts)
    groups: Counts = field(default_factory=Counts)
    sessions: Counts = field(default_factory=Counts)

    KINDS = ("regions", "districts", "centres", "courses", "groups", "sessions")

    def items(self) -> Iterator[tuple[str, Counts]]:
        for kind in self.KINDS:
            yield kind, getattr(self, kind)

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated for _, c in self.items())

    def summary(self) -> str:
        """One line for the command line, e.g. ``courses: 1 updated, 10 unchanged; …``."""
        parts = []
        for kind, c in self.items():
            bits = [
                f"{n} {label}"
                for n, label in (
                    (c.created, "created"),
                    (c.updated, "updated"),
                    (c.unchanged, "unchanged"),
                )
                if n
            ]
            if bits:
                parts.append(f"{kind}: {', '.join(bits)}")
        if not parts:
            return "Catalogue import: the file has nothing to import."
        head = "Catalogue imported" if self.changed else "Catalogue already up to date"
        return f"{head} — {'; '.join(parts)}."


# --------------------------------------------------------------------------- parsing


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _suggest(word: str, choices: Iterable[str]) -> str:
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


class _Parser:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[tuple[int, int, str]] = []
        self._ctor = SafeConstructor()

    # -- reporting

    def err(self, where_node: Node | int, where: str | None, message: str) -> None:
        line = where_node if isinstance(where_node, int) else _line(where_node)
        text = f"{where}: {message}" if where else message
        self.problems.append((line, len(self.problems), f"{self.filename}:{line}: {text}"))

    def errors(self) -> list[str]:
        return [text for _, _, text in sorted(self.problems)]

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
            key_lines[key] = _line(key_node)
            own[key] = value_node
        for key, value_node in merged.items():
            own.setdefault(key, value_node)
            key_lines.setdefault(key, _line(value_node))
        out: dict[str, Node] = {}
        for key, value_node in own.items():
            if key not in allowed:
                self.err(
                    key_lines[key],
                    where,
                    f"unknown key '{key}'{_suggest(key, allowed)}; "
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
                f"{_suggest(value, choices)}",
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
        for key_node, value_node in node.value:
            lang = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
            if lang not in LOCALES:
                self.err(
                    key_node,
                    where,
                    f"'{key}': unknown language '{lang}'{_suggest(lang, LOCALES)}; "
                    f"use {', '.join(LOCALES)}",
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
            lines[lang] = _line(key_node)
            value = self.text(value_node, where, f"{key}.{lang}")
            if value is None:
                ok = False
                continue
            seen[lang] = value
        missing = [lang for lang in LOCALES if lang not in lines]
        if missing:
            self.err(node, where, f"'{key}' has no text in {', '.join(missing)}")
            ok = False
        return {lang: seen[lang] for lang in LOCALES} if ok else None

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
            hint = "" if _OFFSET_RE.match(value) else _suggest(value, available_timezones())
            self.err(
                node,
                where,
                f"'{key}': unknown time zone '{value}'{hint}; use an IANA name like Asia/Almaty",
            )
            return None
        return value


def _label(kind: str, node: Node, index: int) -> str:
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


def parse_catalog(text: str, filename: str = "<catalog>") -> CatalogData:
    """Read and check a catalogue file; raise ``CatalogError`` listing every problem."""
    p = _Parser(filename)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or "cannot read the file"
        if exc.context and exc.problem and exc.context_mark is not None:
            problem += f" ({exc.context} on line {exc.context_mark.line + 1})"
        raise CatalogError([f"{filename}:{line}: YAML syntax error: {problem}"]) from exc
    except yaml.YAMLError as exc:
        raise CatalogError([f"{filename}: cannot read the file: {exc}"]) from exc
    if root is None:
        raise CatalogError(
            [f"{filename}:1: the file is empty; expected some of: {', '.join(SECTIONS)}"]
        )

    top = p.fields(root, "file", (), SECTIONS)
    regions: list[RegionData] = []
    centres: list[CentreData] = []
    courses: list[CourseData] = []
    groups: list[GroupData] = []
    if top is not None:
        if "regions" in top:
            for i, n in enumerate(p.items(top["regions"], "file", "regions")):
                if (r := _parse_region(p, n, i)) is not None:
                    regions.append(r)
        if "centres" in top:
            for i, n in enumerate(p.items(top["centres"], "file", "centres")):
                if (c := _parse_centre(p, n, i)) is not None:
                    centres.append(c)
        if "courses" in top:
            for i, n in enumerate(p.items(top["courses"], "file", "courses")):
                if (k := _parse_course(p, n, i)) is not None:
                    courses.append(k)
        if "groups" in top:
            for i, n in enumerate(p.items(top["groups"], "file", "groups")):
                if (g := _parse_group(p, n, i)) is not None:
                    groups.append(g)

    data = CatalogData(filename, tuple(regions), tuple(centres), tuple(courses), tuple(groups))
    _check_file(p, data)
    if p.problems:
        raise CatalogError(p.errors())
    return data


def _parse_region(p: _Parser, node: Node, index: int) -> RegionData | None:
    where = _label("region", node, index)
    f = p.fields(node, where, ("code", "country", "name"), ("kind", "districts"))
    if f is None:
        return None
    code = p.code(f["code"], where) if "code" in f else None
    country = p.choice(f["country"], where, "country", COUNTRIES) if "country" in f else None
    kind = p.choice(f["kind"], where, "kind", KINDS) if "kind" in f else "region"
    name = p.localized(f["name"], where, "name") if "name" in f else None
    districts: list[DistrictData] = []
    districts_ok = True
    if "districts" in f:
        for i, n in enumerate(p.items(f["districts"], where, "districts")):
            dwhere = _label("district", n, i)
            if dwhere.startswith("district #"):
                dwhere = f"{where}, {dwhere}"
            df = p.fields(n, dwhere, ("code", "name"))
            if df is None:
                districts_ok = False
                continue
            dcode = p.code(df["code"], dwhere) if "code" in df else None
            dname = p.localized(df["name"], dwhere, "name") if "name" in df else None
            if dcode is None or dname is None:
                districts_ok = False
                continue
            districts.append(DistrictData(dcode, dname, i, _line(n)))
    if code is None or country is None or kind is None or name is None or not districts_ok:
        return None
    return RegionData(code, country, kind, name, tuple(districts), index, _line(node))


def _parse_centre(p: _Parser, node: Node, index: int) -> CentreData | None:
    keys = ("code", "region", "name", "city", "address", "latitude", "longitude", "timezone")
    where = _label("centre", node, index)
    f = p.fields(node, where, keys)
    if f is None:
        return None
    code = p.code(f["code"], where) if "code" in f else None
    region = p.code(f["region"], where, "region") if "region" in f else None
    name = p.localized(f["name"], where, "name") if "name" in f else None
    city = p.localized(f["city"], where, "city") if "city" in f else None
    address = p.localized(f["address"], where, "address") if "address" in f else None
    lat = p.number(f["latitude"], where, "latitude", -90, 90) if "latitude" in f else None
    lon = p.number(f["longitude"], where, "longitude", -180, 180) if "longitude" in f else None
    tz = p.timezone(f["timezone"], where, "timezone") if "timezone" in f else None
    if (
        code is None
        or region is None
        or name is None
        or city is None
        or address is None
        or lat is None
        or lon is None
        or tz is None
    ):
        return None
    return CentreData(
        code, region, name, city, address, lat, lon, tz, index, _line(node), _line(f["region"])
    )


def _parse_course(p: _Parser, node: Node, index: int) -> CourseData | None:
    required = (
        "code",
        "centre",
        "title",
        "description",
        "languages",
        "duration_weeks",
        "start_date",
        "enrolment_open",
        "free_of_charge",
    )
    where = _label("course", node, index)
    f = p.fields(node, where, required, ("modules", "certificate"))
    if f is None:
        return None
    code = p.code(f["code"], where) if "code" in f else None
    centre = p.code(f["centre"], where, "centre") if "centre" in f else None
    title = p.localized(f["title"], where, "title") if "title" in f else None
    description = (
        p.localized(f["description"], where, "description") if "description" in f else None
    )
    languages = _parse_languages(p, f["languages"], where) if "languages" in f else None
    weeks = (
        p.whole(f["duration_weeks"], where, "duration_weeks", "a positive whole number of weeks")
        if "duration_weeks" in f
        else None
    )
    modules: int | None = None
    modules_ok = True
    if "modules" in f:
        modules = p.whole(f["modules"], where, "modules", "a positive whole number")
        modules_ok = modules is not None
    certificate: dict[str, str] | None = {}
    if "certificate" in f:
        certificate = p.localized(f["certificate"], where, "certificate")
    start = p.day(f["start_date"], where, "start_date") if "start_date" in f else None
    is_open = (
        p.boolean(f["enrolment_open"], where, "enrolment_open") if "enrolment_open" in f else None
    )
    free = (
        p.boolean(f["free_of_charge"], where, "free_of_charge") if "free_of_charge" in f else None
    )
    if (
        code is None
        or centre is None
        or title is None
        or description is None
        or languages is None
        or weeks is None
        or not modules_ok
        or certificate is None
        or start is None
        or is_open is None
        or free is None
    ):
        return None
    return CourseData(
        code,
        centre,
        title,
        description,
        languages,
        weeks,
        modules,
        certificate,
        start,
        is_open,
        free,
        index,
        _line(node),
        _line(f["centre"]),
    )


def _parse_languages(p: _Parser, node: Node, where: str) -> tuple[str, ...] | None:
    if not isinstance(node, SequenceNode) or not node.value:
        p.err(node, where, f"'languages' must be a list like [kk, ru] of: {', '.join(LOCALES)}")
        return None
    out: list[str] = []
    ok = True
    for item in node.value:
        lang = p.choice(item, where, "languages", LOCALES)
        if lang is None:
            ok = False
        elif lang in out:
            p.err(item, where, f"'languages': '{lang}' is listed twice")
            ok = False
        else:
            out.append(lang)
    return tuple(out) if ok else None


def _parse_group(p: _Parser, node: Node, index: int) -> GroupData | None:
    where = _label("group", node, index)
    f = p.fields(node, where, ("code",), ("course", "name", "capacity", "sessions", "weekly"))
    if f is None:
        return None
    # Weekly rules append -YYYYMMDDHHMM (13 characters) to the group code.
    max_len = CODE_MAX - 13 if "weekly" in f else CODE_MAX
    code = p.code(f["code"], where, max_len=max_len) if "code" in f else None
    ok = code is not None
    course = name = capacity = None
    if "course" in f:
        course = p.code(f["course"], where, "course")
        ok = ok and course is not None
    if "name" in f:
        name = p.localized(f["name"], where, "name")
        ok = ok and name is not None
    if "capacity" in f:
        capacity = p.whole(f["capacity"], where, "capacity", "a positive whole number")
        ok = ok and capacity is not None
    group_code = code or f"#{index + 1}"
    explicit: list[SessionData] = []
    if "sessions" in f:
        for n in p.items(f["sessions"], where, "sessions"):
            s = _parse_session(p, n, where, group_code)
            if s is None:
                ok = False
            else:
                explicit.append(s)
    generated: list[SessionData] = []
    if "weekly" in f:
        rules_node = f["weekly"]
        rules = (
            [rules_node]
            if isinstance(rules_node, MappingNode)
            else p.items(rules_node, where, "weekly")
        )
        for n in rules:
            expanded = _parse_weekly(p, n, where, group_code)
            if expanded is None:
                ok = False
            else:
                generated.extend(expanded)
    if not ok or code is None:
        return None
    # A listed class with the code a weekly rule gives replaces that generated class:
    # that is how one class of a weekly rule is moved or cancelled.
    explicit_codes = {s.code for s in explicit if s.code}
    sessions = [s for s in generated if s.code not in explicit_codes] + explicit
    sessions.sort(key=lambda s: (s.day, s.start, s.line))
    return GroupData(
        code,
        course,
        name,
        capacity,
        tuple(sessions),
        _line(node),
        _line(f["course"]) if "course" in f else 0,
    )


def _parse_session(p: _Parser, node: Node, group_where: str, group: str) -> SessionData | None:
    where = f"{group_where}, class"
    f = p.fields(node, where, ("date", "start", "end"), ("code", "room", "cancelled"))
    if f is None:
        return None
    code = room = None
    cancelled: bool | None = None
    ok = True
    if "code" in f:
        code = p.code(f["code"], where)
        ok = code is not None
        where = f"{group_where}, class '{code}'" if code else where
    day = p.day(f["date"], where, "date") if "date" in f else None
    start = p.clock(f["start"], where, "start") if "start" in f else None
    end = p.clock(f["end"], where, "end") if "end" in f else None
    if "room" in f:
        room = p.room(f["room"], where)
        ok = ok and room is not None
    if "cancelled" in f:
        cancelled = p.boolean(f["cancelled"], where, "cancelled")
        ok = ok and cancelled is not None
    if start is not None and end is not None and end <= start:
        p.err(f["end"], where, f"'end' {end:%H:%M} must be after 'start' {start:%H:%M}")
        ok = False
    if not ok or day is None or start is None or end is None:
        return None
    return SessionData(group, code, day, start, end, room, cancelled, False, _line(node))


def _parse_weekly(p: _Parser, node: Node, group_where: str, group: str) -> list[SessionData] | None:
    where = f"{group_where}, weekly"
    f = p.fields(node, where, ("days", "start", "end", "from", "until"), ("room", "skip"))
    if f is None:
        return None
    ok = True
    days: list[int] = []
    if "days" in f:
        day_nodes = p.items(f["days"], where, "days")
        ok = bool(day_nodes)
        if not day_nodes:
            p.err(f["days"], where, "'days' must list week days like [mon, wed, fri]")
        for n in day_nodes:
            name = p.choice(n, where, "days", WEEKDAYS)
            if name is None:
                ok = False
            elif WEEKDAYS.index(name) in days:
                p.err(n, where, f"'days': '{name}' is listed twice")
                ok = False
            else:
                days.append(WEEKDAYS.index(name))
    start = p.clock(f["start"], where, "start") if "start" in f else None
    end = p.clock(f["end"], where, "end") if "end" in f else None
    first = p.day(f["from"], where, "from") if "from" in f else None
    last = p.day(f["until"], where, "until") if "until" in f else None
    room = None
    if "room" in f:
        room = p.room(f["room"], where)
        ok = ok and room is not None
    skip: set[date] = set()
    if "skip" in f:
        for n in p.items(f["skip"], where, "skip"):
            d = p.day(n, where, "skip")
            if d is None:
                ok = False
            else:
                skip.add(d)
    if start is not None and end is not None and end <= start:
        p.err(f["end"], where, f"'end' {end:%H:%M} must be after 'start' {start:%H:%M}")
        ok = False
    if first is not None and last is not None:
        if last < first:
            p.err(f["until"], where, f"'until' {last} is before 'from' {first}")
            ok = False
        elif (last - first).days > MAX_RULE_DAYS:
            p.err(f["until"], where, "a weekly rule may span at most two years")
            ok = False
    if not ok or start is None or end is None or first is None or last is None:
        return None
    out: list[SessionData] = []
    line = _line(node)
    current = first
    while current <= last:
        if current.weekday() in days and current not in skip:
            code = f"{group}-{current:%Y%m%d}{start:%H%M}"
            out.append(SessionData(group, code, current, start, end, room, None, True, line))
        current += timedelta(days=1)
    if not out:
        p.err(node, where, f"no class falls on these days between {first} and {last}")
        return None
    return out


def _check_file(p: _Parser, data: CatalogData) -> None:
    """Checks across entries: codes used twice, and two classes of a group at one time."""

    def unique(kind: str, entries: Iterable[tuple[str, int]]) -> None:
        seen: dict[str, int] = {}
        for code, line in entries:
            if code in seen:
                p.err(line, f"{kind} '{code}'", f"code is already used on line {seen[code]}")
            else:
                seen[code] = line

    unique("region", ((r.code, r.line) for r in data.regions))
    unique("district", ((d.code, d.line) for d in data.districts))
    unique("centre", ((c.code, c.line) for c in data.centres))
    unique("course", ((c.code, c.line) for c in data.courses))
    unique("group", ((g.code, g.line) for g in data.groups))

    # Two weekly rules that overlap clash on many days; say so once per pair of lines.
    clashes: dict[tuple[int, int], list[str]] = {}
    codes: dict[str, int] = {}
    code_pairs: set[tuple[int, int]] = set()
    for s in data.sessions:
        if s.code is not None and s.code in codes:
            first = codes[s.code]
            code_pairs.add((s.line, first))
            clashes.setdefault((s.line, first), []).append(
                f"class code '{s.code}' is already used on line {first}"
            )
        elif s.code is not None:
            codes[s.code] = s.line
    for g in data.groups:
        starts: dict[datetime, int] = {}
        for s in g.sessions:
            at = s.local_start()
            if at not in starts:
                starts[at] = s.line
                continue
            first = starts[at]
            if (s.line, first) in code_pairs:
                continue
            clashes.setdefault((s.line, first), []).append(
                f"group '{g.code}' has two classes at {at:%Y-%m-%d %H:%M} (see line {first})"
            )
    for (line, _first), messages in clashes.items():
        more = f" — and {len(messages) - 1} more like it" if len(messages) > 1 else ""
        p.err(line, None, messages[0] + more)


# --------------------------------------------------------------------------- applying

_M = TypeVar("_M", Region, District, Centre, Course, Group, ClassSession)
_CHUNK = 500


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = sorted(values)
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _assign(row: object, values: dict[str, Any]) -> bool:
    """Set the attributes that differ; True when anything changed."""
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


class _Applier:
    def __init__(self, session: AsyncSession, data: CatalogData) -> None:
        self.s = session
        self.data = data
        self.report = ImportReport()
        self.problems: list[tuple[int, int, str]] = []

    def err(self, line: int, where: str, message: str) -> None:
        text = f"{self.data.filename}:{line}: {where}: {message}"
        self.problems.append((line, len(self.problems), text))

    async def by_code(self, model: type[_M], codes: Iterable[str]) -> dict[str, _M]:
        out: dict[str, _M] = {}
        for chunk in _chunks(set(codes)):
            rows = await self.s.scalars(select(model).where(model.code.in_(chunk)))
            out.update({row.code: row for row in rows if row.code is not None})
        return out

    async def by_id(self, model: type[_M], ids: Iterable[int]) -> dict[int, _M]:
        out: dict[int, _M] = {}
        for chunk in _chunks(set(ids)):
            rows = await self.s.scalars(select(model).where(model.id.in_(chunk)))
            out.update({row.id: row for row in rows})
        return out

    async def unknown(
        self,
        model: type[Region] | type[Centre] | type[Course],
        kind: str,
        code: str,
        in_file: Iterable[str],
    ) -> str:
        known = set(in_file) | set(await self.s.scalars(select(model.code)))
        return f"{kind} '{code}' is neither in this file nor in the database{_suggest(code, known)}"

    async def run(self) -> ImportReport:
        d = self.data
        file_regions = {r.code: r for r in d.regions}
        file_centres = {c.code: c for c in d.centres}
        file_courses = {c.code: c for c in d.courses}

        # ---- read what the database already holds
        regions = await self.by_code(Region, [*file_regions, *(c.region for c in d.centres)])
        districts = await self.by_code(District, (x.code for x in d.districts))
        centres = await self.by_code(Centre, [*file_centres, *(c.centre for c in d.courses)])
        courses = await self.by_code(
            Course, [*file_courses, *(g.course for g in d.groups if g.course)]
        )
        groups = await self.by_code(Group, (g.code for g in d.groups))
        courses_by_id = {c.id: c for c in courses.values()}
        courses_by_id |= await self.by_id(
            Course, {g.course_id for g in groups.values()} - set(courses_by_id)
        )
        centres_by_id = {c.id: c for c in centres.values()}
        centres_by_id |= await self.by_id(
            Centre, {c.centre_id for c in courses_by_id.values()} - set(centres_by_id)
        )

        # ---- check references and rules that need the database
        for c in d.centres:
            if c.region not in file_regions and c.region not in regions:
                msg = await self.unknown(Region, "region", c.region, file_regions)
                self.err(c.region_line, f"centre '{c.code}'", msg)
        for k in d.courses:
            if k.centre not in file_centres and k.centre not in centres:
                msg = await self.unknown(Centre, "centre", k.centre, file_centres)
                self.err(k.centre_line, f"course '{k.code}'", msg)
        for g in d.groups:
            await self._check_group(g, groups.get(g.code), file_courses, courses, courses_by_id)

        # Which time zone each group's classes are in: the file wins over the database.
        course_centre = {c.code: centres_by_id[c.centre_id].code for c in courses_by_id.values()}
        course_centre |= {k.code: k.centre for k in d.courses}
        centre_tz = {c.code: c.timezone for c in centres_by_id.values()}
        centre_tz |= {c.code: c.timezone for c in d.centres}
        planned: list[tuple[GroupData, SessionData, datetime, datetime]] = []
        if not self.problems:
            for g in d.groups:
                if not g.sessions:
                    continue
                db_group = groups.get(g.code)
                course_code = g.course or (
                    courses_by_id[db_group.course_id].code if db_group else None
                )
                centre_code = course_centre.get(course_code or "")
                tz_name = centre_tz.get(centre_code or "")
                tz = self._zone(tz_name, g)
                if tz is None:
                    continue
                for s in g.sessions:
                    times = self._utc(s, tz, g)
                    if times is not None:
                        planned.append((g, s, *times))

        # Classes already stored: by code, and (for classes without a code) by group.
        existing_by_code = await self.by_code(
            ClassSession, (s.code for _, s, _, _ in planned if s.code)
        )
        db_group_ids = {groups[g.code].id for g, _, _, _ in planned if g.code in groups}
        existing_by_group: dict[int, list[ClassSession]] = {}
        for chunk in _chunks(db_group_ids):
            rows = await self.s.scalars(
                select(ClassSession)
                .where(ClassSession.group_id.in_(chunk))
                .order_by(ClassSession.id)
            )
            for row in rows:
                existing_by_group.setdefault(row.group_id, []).append(row)
        for g, s, _, _ in planned:
            stored = existing_by_code.get(s.code) if s.code else None
            db_group = groups.get(g.code)
            if stored is not None and (db_group is None or stored.group_id != db_group.id):
                self.err(
                    s.line,
                    f"group '{g.code}'",
                    f"class code '{s.code}' already belongs to another group in the database",
                )
        if self.problems:
            raise CatalogError([text for _, _, text in sorted(self.problems)])

        # ---- write
        await self._write_regions(regions, districts)
        await self._write_centres(centres, regions)
        await self._write_courses(courses, centres)
        await self._write_groups(groups, courses)
        await self._write_sessions(planned, groups, existing_by_code, existing_by_group)
        return self.report

    async def _check_group(
        self,
        g: GroupData,
        row: Group | None,
        file_courses: dict[str, CourseData],
        courses: dict[str, Course],
        courses_by_id: dict[int, Course],
    ) -> None:
        where = f"group '{g.code}'"
        if g.course and g.course not in file_courses and g.course not in courses:
            msg = await self.unknown(Course, "course", g.course, file_courses)
            self.err(g.course_line or g.line, where, msg)
            return
        if row is None and g.course is None and g.name is None and g.capacity is None:
            known = {x.code for x in self.data.groups} | set(
                await self.s.scalars(select(Group.code))
            )
            known.discard(g.code)
            self.err(
                g.line,
                where,
                f"no such group in the database{_suggest(g.code, known)}; a new group "
                "needs course, name and capacity",
            )
            return
        if row is None:
            missing = [
                key
                for key, value in (("course", g.course), ("name", g.name), ("capacity", g.capacity))
                if value is None
            ]
            if missing:
                self.err(
                    g.line,
                    where,
                    f"the group is not in the database yet, so it needs {', '.join(missing)}",
                )
            return
        current_course = courses_by_id[row.course_id].code
        if g.course and g.course != current_course:
            self.err(
                g.course_line or g.line,
                where,
                f"the group belongs to course '{current_course}'; a group cannot move to "
                "another course — give the new group a new code",
            )
        if g.capacity is not None and g.capacity < row.seats_taken:
            self.err(
                g.line,
                where,
                f"capacity {g.capacity} is below the {row.seats_taken} seats already taken",
            )

    def _zone(self, name: str | None, g: GroupData) -> ZoneInfo | None:
        if name is None:
            self.err(g.line, f"group '{g.code}'", "cannot tell the centre's time zone")
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.err(g.line, f"group '{g.code}'", f"the centre's time zone '{name}' is unknown")
            return None

    def _utc(self, s: SessionData, tz: ZoneInfo, g: GroupData) -> tuple[datetime, datetime] | None:
        starts, ends = s.starts_at(tz), s.ends_at(tz)
        for local, utc in ((s.local_start(), starts), (s.local_end(), ends)):
            if utc.astimezone(tz).replace(tzinfo=None) != local:
                self.err(
                    s.line,
                    f"group '{g.code}'",
                    f"{local:%Y-%m-%d %H:%M} does not exist in {tz.key} (the clocks change)",
                )
                return None
        return starts, ends

    def _count(self, kind: str, created: bool, changed: bool) -> None:
        counts: Counts = getattr(self.report, kind)
        if created:
            counts.created += 1
        elif changed:
            counts.updated += 1
        else:
            counts.unchanged += 1

    async def _write_regions(
        self, regions: dict[str, Region], districts: dict[str, District]
    ) -> None:
        for r in self.data.regions:
            values = {"country": r.country, "kind": r.kind, "name": r.name, "sort": r.sort}
            row = regions.get(r.code)
            if row is None:
                regions[r.code] = Region(code=r.code, **values)
                self.s.add(regions[r.code])
                self._count("regions", True, True)
            else:
                self._count("regions", False, _assign(row, values))
        await self.s.flush()
        for r in self.data.regions:
            region_id = regions[r.code].id
            for x in r.districts:
                values = {"region_id": region_id, "name": x.name, "sort": x.sort}
                drow = districts.get(x.code)
                if drow is None:
                    self.s.add(District(code=x.code, **values))
                    self._count("districts", True, True)
                else:
                    self._count("districts", False, _assign(drow, values))
        await self.s.flush()

    async def _write_centres(self, centres: dict[str, Centre], regions: dict[str, Region]) -> None:
        for c in self.data.centres:
            values = {
                "region_id": regions[c.region].id,
                "name": c.name,
                "city": c.city,
                "address": c.address,
                "latitude": c.latitude,
                "longitude": c.longitude,
                "timezone": c.timezone,
                "sort": c.sort,
            }
            row = centres.get(c.code)
            if row is None:
                centres[c.code] = Centre(code=c.code, **values)
                self.s.add(centres[c.code])
                self._count("centres", True, True)
            else:
                self._count("centres", False, _assign(row, values))
        await self.s.flush()

    async def _write_courses(self, courses: dict[str, Course], centres: dict[str, Centre]) -> None:
        for k in self.data.courses:
            values = {
                "centre_id": centres[k.centre].id,
                "title": k.title,
                "description": k.description,
                "languages": ",".join(k.languages),
                "duration_weeks": k.duration_weeks,
                "modules": k.modules,
                "certificate": k.certificate,
                "start_date": k.start_date,
                "enrolment_open": k.enrolment_open,
                "free_of_charge": k.free_of_charge,
                "sort": k.sort,
            }
            row = courses.get(k.code)
            if row is None:
                courses[k.code] = Course(code=k.code, **values)
                self.s.add(courses[k.code])
                self._count("courses", True, True)
            else:
                self._count("courses", False, _assign(row, values))
        await self.s.flush()

    async def _write_groups(self, groups: dict[str, Group], courses: dict[str, Course]) -> None:
        for g in self.data.groups:
            values: dict[str, Any] = {}
            if g.course is not None:
                values["course_id"] = courses[g.course].id
            if g.name is not None:
                values["name"] = g.name
            if g.capacity is not None:
                values["capacity"] = g.capacity
            row = groups.get(g.code)
            if row is None:
                # seats_taken is left to its default (0) and never written here.
                groups[g.code] = Group(code=g.code, **values)
                self.s.add(groups[g.code])
                self._count("groups", True, True)
            else:
                self._count("groups", False, _assign(row, values))
        await self.s.flush()

    async def _write_sessions(
        self,
        planned: list[tuple[GroupData, SessionData, datetime, datetime]],
        groups: dict[str, Group],
        existing_by_code: dict[str, ClassSession],
        existing_by_group: dict[int, list[ClassSession]],
    ) -> None:
        claimed: set[int] = {row.id for row in existing_by_code.values()}

        def free_row_at(
            group_id: int, starts_at: datetime, *, uncoded: bool
        ) -> ClassSession | None:
            for row in existing_by_group.get(group_id, []):
                if row.id in claimed or row.starts_at != starts_at:
                    continue
                if uncoded and row.code is not None:
                    continue
                claimed.add(row.id)
                return row
            return None

        # Classes with a code first, so that a class without one never takes their row.
        ordered = sorted(planned, key=lambda item: item[1].code is None)
        for g, s, starts_at, ends_at in ordered:
            group_id = groups[g.code].id
            values: dict[str, Any] = {"starts_at": starts_at, "ends_at": ends_at}
            if s.room is not None:
                values["room"] = s.room
            if s.cancelled is not None:
                values["cancelled"] = s.cancelled
            row = existing_by_code.get(s.code) if s.code else None
            if row is None:
                # A class stored without a code at the same time is this class: adopt it
                # rather than adding a twin.
                row = free_row_at(group_id, starts_at, uncoded=s.code is not None)
                if row is not None and s.code is not None:
                    values["code"] = s.code
            if row is None:
                self.s.add(
                    ClassSession(
                        code=s.code,
                        group_id=group_id,
                        starts_at=starts_at,
                        ends_at=ends_at,
                        room=s.room,
                        cancelled=bool(s.cancelled),
                    )
                )
                self._count("sessions", True, True)
            else:
                self._count("sessions", False, _assign(row, values))
        await self.s.flush()


async def apply_catalog(db: Database, data: CatalogData) -> ImportReport:
    """Upsert parsed catalogue data in one transaction; nothing is written on error."""
    async with db.transaction() as session:
        return await _Applier(session, data).run()


async def import_catalog(db: Database, path: Path) -> ImportReport:
    """Read, check and import a catalogue file (also a partial one, e.g. only groups)."""
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogError([f"{path.name}: the file is not UTF-8 text; save it as UTF-8"]) from exc
    except OSError as exc:
        raise CatalogError([f"{path}: cannot read the file ({exc.strerror or exc})"]) from exc
    return await apply_catalog(db, parse_catalog(text, path.name))
