"""``parse_catalog``: the catalogue file's text → ``CatalogData``, one function per
section (regions, centres, courses, groups and their classes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time, timedelta
from typing import Any, TypeVar

import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.config import LOCALES
from bot.services.catalog.model import (
    CODE_MAX,
    COUNTRIES,
    KINDS,
    MAX_CLASSES,
    MAX_RULE_DAYS,
    SECTIONS,
    WEEKDAY_NAMES,
    WEEKDAYS,
    CatalogData,
    CatalogError,
    CentreData,
    CourseData,
    DistrictData,
    GroupData,
    RegionData,
    SessionData,
    generated_code,
)
from bot.services.catalog.problems import (
    FILE,
    KIND_CENTRE,
    KIND_CLASS,
    KIND_CONTACTS,
    KIND_COURSE,
    KIND_DISTRICT,
    KIND_FAQ,
    KIND_GROUP,
    KIND_REGION,
    KIND_WEEKLY,
    Place,
    Problem,
    Text,
    coded,
    listing,
    numbered,
    say,
    suggest,
)
from bot.services.catalog.questions import parse_course_questions, parse_question
from bot.services.catalog.reader import FieldReader, entry_label, line_of
from bot.services.catalog.validation import check_file
from bot.services.contacts import (
    PHONES_MAX,
    TEXT_FIELDS,
    ContactError,
    clean_handle,
    clean_phone,
    clean_text,
    clean_url,
)


class _AnchorError(ComposerError):
    """An anchor or an alias in the file (``_PlainLoader``)."""


class _PlainLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: an alias repeats a whole subtree wherever it is
    used, so a few kilobytes can stand for millions of classes (and every repeat is
    walked). A catalogue never needs them; copy the lines instead."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        found = (
            "aliases (*name)"
            if isinstance(event, yaml.AliasEvent)
            else "anchors (&name)"
            if getattr(event, "anchor", None) is not None
            else None
        )
        if found is not None:
            raise _AnchorError(
                None, None, f"{found} are not allowed; write the lines out", event.start_mark
            )
        return super().compose_node(parent, index)


# PyYAML's most common complaints, said in the coordinator's language; anything else is
# shown as PyYAML words it (in English) inside a translated sentence.
_YAML_PROBLEMS = (
    ("mapping values are not allowed", "catalog-yaml-colon"),
    ("could not find expected ':'", "catalog-yaml-no-colon"),
    ("cannot start any token", "catalog-yaml-tab"),
    ("expected <block end>", "catalog-yaml-indent"),
    ("found unexpected end of stream", "catalog-yaml-unclosed"),
)


def _yaml_problem(exc: yaml.MarkedYAMLError) -> Text:
    if isinstance(exc, _AnchorError):
        return say("catalog-yaml-anchors", anchor="&name", alias="*name")
    words = " ".join(x for x in (exc.context, exc.problem) if x)
    known = next((key for marker, key in _YAML_PROBLEMS if marker in words), None)
    if known is not None:
        text = say(known)
    else:
        text = say("catalog-yaml-other", problem=exc.problem or exc.context or "?")
    if exc.context and exc.problem and exc.context_mark is not None:
        text = text.and_then(say("catalog-yaml-started", number=exc.context_mark.line + 1))
    if "flow mapping" in (exc.context or ""):
        text = text.and_then(say("catalog-hint-quotes", example='{ru: "…, …"}'))
    return text


def parse_catalog(text: str, filename: str = "<catalog>") -> CatalogData:
    """Read and check a catalogue file; raise ``CatalogError`` listing every problem.
    CPU-bound: the bot runs it in a thread (``asyncio.to_thread``)."""
    p = FieldReader(filename)
    try:
        root = yaml.compose(text, Loader=_PlainLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise CatalogError([Problem(line, (), _yaml_problem(exc))], filename) from exc
    except yaml.YAMLError as exc:
        problem = say("catalog-yaml-other", problem=str(exc))
        raise CatalogError([Problem(0, (), problem)], filename) from exc
    if root is None:
        empty = Problem(1, (), say("catalog-err-empty-file", sections=listing(SECTIONS)))
        raise CatalogError([empty], filename)

    top = p.fields(root, (FILE,), (), SECTIONS)
    # Questions first: the courses name them.
    questions = _section(p, top, "questions", parse_question)
    regions = _section(p, top, "regions", _parse_region)
    centres = _section(p, top, "centres", _parse_centre)
    courses = _section(p, top, "courses", _parse_course)
    groups = _section(p, top, "groups", _parse_group)
    warnings = tuple(sorted(p.warnings, key=lambda w: w.line))
    data = CatalogData(filename, regions, centres, courses, groups, questions, warnings)
    check_file(p, data)
    if p.problems:
        raise CatalogError(p.errors(), filename)
    return data


_E = TypeVar("_E")


def _section(
    p: FieldReader,
    top: dict[str, Node] | None,
    name: str,
    parse: Callable[[FieldReader, Node, int], _E | None],
) -> tuple[_E, ...]:
    """The entries of one section of the file, each parsed on its own (a broken entry is
    left out, its problems said)."""
    if top is None or name not in top:
        return ()
    entries = (parse(p, node, i) for i, node in enumerate(p.items(top[name], (FILE,), name)))
    return tuple(entry for entry in entries if entry is not None)


def _parse_region(p: FieldReader, node: Node, index: int) -> RegionData | None:
    where: Place = (entry_label(KIND_REGION, node, index),)
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
            label = entry_label(KIND_DISTRICT, n, i)
            # A district without a valid code is named by its place in its region.
            dwhere = (*where, label) if label.key == "catalog-where-numbered" else (label,)
            df = p.fields(n, dwhere, ("code", "name"))
            if df is None:
                districts_ok = False
                continue
            dcode = p.code(df["code"], dwhere) if "code" in df else None
            dname = p.localized(df["name"], dwhere, "name") if "name" in df else None
            if dcode is None or dname is None:
                districts_ok = False
                continue
            districts.append(DistrictData(dcode, dname, i, line_of(n)))
    if code is None or country is None or kind is None or name is None or not districts_ok:
        return None
    return RegionData(code, country, kind, name, tuple(districts), index, line_of(node))


def _parse_centre(p: FieldReader, node: Node, index: int) -> CentreData | None:
    keys = ("code", "region", "name", "city", "address", "latitude", "longitude", "timezone")
    where: Place = (entry_label(KIND_CENTRE, node, index),)
    f = p.fields(node, where, keys, ("faq", "contacts"))
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
    contacts = _parse_contacts(p, f["contacts"], where) if "contacts" in f else None
    if (
        ("contacts" in f and contacts is None)
        or code is None
        or region is None
        or name is None
        or city is None
        or address is None
        or lat is None
        or lon is None
        or tz is None
    ):
        return None
    faq = _parse_faq(p, f["faq"], where) if "faq" in f else None
    if "faq" in f and faq is None:
        return None
    return CentreData(
        code,
        region,
        name,
        city,
        address,
        lat,
        lon,
        tz,
        index,
        line_of(node),
        line_of(f["region"]),
        faq,
        contacts,
    )


FAQ_MAX = 6  # questions shown as buttons under the offer to ask staff
FAQ_QUESTION_MAX = 60  # a question is a button


def _parse_faq(
    p: FieldReader, node: Node, where: Place
) -> tuple[tuple[dict[str, str], dict[str, str]], ...] | None:
    """``faq: [{question: {ru: …, kk: …}, answer: {…}}, …]``; a text may leave languages
    out (the bot falls back to ru, then en), but a question and its answer need one."""
    items = p.items(node, where, "faq")
    if len(items) > FAQ_MAX:
        p.err(node, where, say("catalog-err-faq-too-many", count=len(items), max=FAQ_MAX))
        return None
    out: list[tuple[dict[str, str], dict[str, str]]] = []
    ok = True
    for n, item in enumerate(items, 1):
        label = (*where, numbered(KIND_FAQ, n))
        f = p.fields(item, label, ("question", "answer"))
        if f is None or "question" not in f or "answer" not in f:
            ok = False
            continue
        question = p.some_languages(f["question"], label, "question")
        answer = p.some_languages(f["answer"], label, "answer")
        if question is None or answer is None:
            ok = False
            continue
        if any(len(q) > FAQ_QUESTION_MAX for q in question.values()):
            p.err(f["question"], label, say("catalog-err-faq-question-long", max=FAQ_QUESTION_MAX))
            ok = False
            continue
        out.append((question, answer))
    return tuple(out) if ok else None


def _parse_contacts(p: FieldReader, node: Node, where: Place) -> dict[str, Any] | None:
    """A centre's optional contacts, checked as the bot checks them when staff type them;
    texts may be given in some languages only (the others fall back) or as one text."""
    keys = ("phones", "hours", "person", "map_url", "website", "instagram", "telegram", "demo")
    f = p.fields(node, (*where, KIND_CONTACTS), (), keys)
    if f is None:
        return None
    out: dict[str, Any] = {}
    ok = True
    for key, value in f.items():
        label = f"contacts.{key}"
        try:
            if key == "demo":
                flag = p.boolean(value, where, "contacts.demo")
                if flag is None:
                    ok = False
                elif flag:
                    out["demo"] = True
            elif key == "phones":
                items = value.value if isinstance(value, SequenceNode) else [value]
                phones = [p.text(n, where, "contacts.phones") for n in items]
                if any(x is None for x in phones) or not 1 <= len(phones) <= PHONES_MAX:
                    p.err(value, where, say("catalog-err-phones-count", key=label, max=PHONES_MAX))
                    ok = False
                    continue
                out["phones"] = [clean_phone(str(x)) for x in phones]
            elif key in TEXT_FIELDS:
                texts = _partial_texts(p, value, where, label)
                if texts is None:
                    ok = False
                    continue
                out[key] = {lang: clean_text(text) for lang, text in texts.items()}
            else:
                raw = p.text(value, where, f"contacts.{key}")
                if raw is None:
                    ok = False
                elif key in ("map_url", "website"):
                    out[key] = clean_url(raw)
                else:
                    out[key] = clean_handle(raw, "instagram.com" if key == "instagram" else "t.me")
        except ContactError as exc:
            problem = CONTACT_PROBLEMS.get(exc.code, "catalog-err-contact-invalid")
            p.err(value, where, say(problem, key=label))
            ok = False
    return out if ok else None


CONTACT_PROBLEMS = {
    "phone": "catalog-err-contact-phone",
    "url": "catalog-err-contact-url",
    "handle": "catalog-err-contact-handle",
    "text": "catalog-err-contact-text",
}


def _partial_texts(p: FieldReader, node: Node, where: Place, key: str) -> dict[str, str] | None:
    """One text for every language, or texts in some of kk, ky, ru, en."""
    if isinstance(node, ScalarNode):
        text = p.text(node, where, key)
        return {"ru": text} if text is not None else None
    return p.some_languages(node, where, key)


def _parse_course(p: FieldReader, node: Node, index: int) -> CourseData | None:
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
    where: Place = (entry_label(KIND_COURSE, node, index),)
    f = p.fields(node, where, required, ("modules", "certificate", "questions"))
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
        p.whole(f["duration_weeks"], where, "duration_weeks", weeks=True)
        if "duration_weeks" in f
        else None
    )
    modules: int | None = None
    modules_ok = True
    if "modules" in f:
        modules = p.whole(f["modules"], where, "modules")
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
    questions: tuple[str, ...] | None = None
    questions_ok = True
    if "questions" in f:
        questions = parse_course_questions(p, f["questions"], where)
        questions_ok = questions is not None
    if (
        not questions_ok
        or code is None
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
        line_of(node),
        line_of(f["centre"]),
        questions,
        line_of(f["questions"]) if "questions" in f else 0,
    )


def _parse_languages(p: FieldReader, node: Node, where: Place) -> tuple[str, ...] | None:
    if not isinstance(node, SequenceNode) or not node.value:
        p.err(node, where, say("catalog-err-languages-list", languages=listing(LOCALES)))
        return None
    out: list[str] = []
    ok = True
    for item in node.value:
        lang = p.choice(item, where, "languages", LOCALES)
        if lang is None:
            ok = False
        elif lang in out:
            p.err(item, where, say("catalog-err-listed-twice", key="languages", value=lang))
            ok = False
        else:
            out.append(lang)
    return tuple(out) if ok else None


def _parse_group(p: FieldReader, node: Node, index: int) -> GroupData | None:
    where: Place = (entry_label(KIND_GROUP, node, index),)
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
        capacity = p.whole(f["capacity"], where, "capacity")
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
        line_of(node),
        line_of(f["course"]) if "course" in f else 0,
    )


def _parse_session(
    p: FieldReader, node: Node, group_where: Place, group: str
) -> SessionData | None:
    where = (*group_where, KIND_CLASS)
    p.classes += 1  # listed classes count towards MAX_CLASSES too
    f = p.fields(node, where, ("date", "start", "end"), ("code", "room", "cancelled"))
    if f is None:
        return None
    code = room = None
    cancelled: bool | None = None
    ok = True
    if "code" in f:
        code = p.code(f["code"], where)
        ok = code is not None
        where = (*group_where, coded(KIND_CLASS, code)) if code else where
    day = p.day(f["date"], where, "date") if "date" in f else None
    hours = _hours(p, f, where)
    if "room" in f:
        room = p.room(f["room"], where)
        ok = ok and room is not None
    if "cancelled" in f:
        cancelled = p.boolean(f["cancelled"], where, "cancelled")
        ok = ok and cancelled is not None
    if not ok or day is None or hours is None:
        return None
    start, end = hours
    return SessionData(group, code, day, start, end, room, cancelled, False, line_of(node))


def _hours(p: FieldReader, f: dict[str, Node], where: Place) -> tuple[time, time] | None:
    """A class's 'start' and 'end' (both required by the caller), the end after the start."""
    start = p.clock(f["start"], where, "start") if "start" in f else None
    end = p.clock(f["end"], where, "end") if "end" in f else None
    if start is None or end is None:
        return None
    if end <= start:
        p.err(
            f["end"],
            where,
            say("catalog-err-end-before-start", end=f"{end:%H:%M}", start=f"{start:%H:%M}"),
        )
        return None
    return start, end


def _parse_weekly(
    p: FieldReader, node: Node, group_where: Place, group: str
) -> list[SessionData] | None:
    where = (*group_where, KIND_WEEKLY)
    f = p.fields(node, where, ("days", "start", "end", "from", "until"), ("room", "skip"))
    if f is None:
        return None
    ok = True
    days: list[int] = []
    if "days" in f:
        day_nodes = p.items(f["days"], where, "days")
        ok = bool(day_nodes)
        if not day_nodes:
            p.err(f["days"], where, say("catalog-err-days-empty"))
        for n in day_nodes:
            name = p.text(n, where, "days")
            index = WEEKDAY_NAMES.get(name.strip().rstrip(".").lower()) if name else None
            if name is None:
                ok = False
            elif index is None:
                p.err(
                    n,
                    where,
                    say("catalog-err-not-weekday", value=name).and_then(suggest(name, WEEKDAYS)),
                )
                ok = False
            elif index in days:
                p.err(n, where, say("catalog-err-listed-twice", key="days", value=name))
                ok = False
            else:
                days.append(index)
    hours = _hours(p, f, where)
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
    if first is not None and last is not None:
        if last < first:
            p.err(
                f["until"],
                where,
                say(
                    "catalog-err-until-before-from", until=last.isoformat(), first=first.isoformat()
                ),
            )
            ok = False
        elif (last - first).days > MAX_RULE_DAYS:
            p.err(f["until"], where, say("catalog-err-rule-too-long", days=MAX_RULE_DAYS))
            ok = False
    if not ok or hours is None or first is None or last is None:
        return None
    start, end = hours
    out: list[SessionData] = []
    line = line_of(node)
    current = first
    while current <= last:
        if current.weekday() in days and current not in skip:
            if p.classes + len(out) >= MAX_CLASSES:
                p.err(node, where, say("catalog-err-too-many-classes", max=MAX_CLASSES))
                return None
            code = generated_code(group, current, start)
            out.append(SessionData(group, code, current, start, end, room, None, True, line))
        current += timedelta(days=1)
    p.classes += len(out)
    if not out:
        p.err(
            node,
            where,
            say("catalog-err-no-class-days", first=first.isoformat(), last=last.isoformat()),
        )
        return None
    return out
