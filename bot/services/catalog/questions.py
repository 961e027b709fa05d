"""The catalogue's ``questions:`` section: extra sign-up questions that courses ask.

A question has a ``code``, a ``kind`` (``choice``: one option from buttons; ``multi``:
several options; ``text``: a short text; ``number``: a whole number within ``min`` and
``max``; ``date``), a ``text`` and, for the choice kinds, ``options`` (each a ``code``
and a ``text``), and ``required`` (default true). A course lists the codes of the
questions it asks in ``questions: [code, …]``; several courses of one programme share
the same questions.

Texts may leave languages out: a missing language falls back to the language given in
``fallback`` (default: the first language the text has), filled in at import, so every
stored text has all four languages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yaml.nodes import Node

from bot.config import LOCALES
from bot.services.catalog.problems import KIND_OPTION, KIND_QUESTION, Place, numbered, say
from bot.services.catalog.reader import FieldReader, entry_label, line_of

KINDS = ("choice", "multi", "text", "number", "date")
CHOICE_KINDS = ("choice", "multi")
OPTIONS_MAX = 12  # buttons a phone screen shows comfortably
TEXT_MAX = 120  # the longest short-text answer
NUMBER_LIMIT = 1_000_000_000


@dataclass(frozen=True, slots=True)
class OptionData:
    code: str
    text: dict[str, str]


@dataclass(frozen=True, slots=True)
class QuestionData:
    code: str
    kind: str
    text: dict[str, str]
    options: tuple[OptionData, ...]
    required: bool
    min_value: float | None
    max_value: float | None
    sort: int
    line: int = field(default=0, compare=False)

    def options_json(self) -> list[dict[str, object]]:
        return [{"code": o.code, "text": dict(o.text)} for o in self.options]


def fill_languages(texts: dict[str, str], fallback: str | None) -> dict[str, str]:
    """Every language: the missing ones take the fallback language's text."""
    source = texts.get(fallback or "") or next(iter(texts.values()))
    return {lang: texts.get(lang) or source for lang in LOCALES}


def parse_question(p: FieldReader, node: Node, index: int) -> QuestionData | None:
    where: Place = (entry_label(KIND_QUESTION, node, index),)
    f = p.fields(
        node, where, ("code", "kind", "text"), ("options", "required", "min", "max", "fallback")
    )
    if f is None:
        return None
    code = p.code(f["code"], where) if "code" in f else None
    kind = p.choice(f["kind"], where, "kind", KINDS) if "kind" in f else None
    fallback = p.choice(f["fallback"], where, "fallback", LOCALES) if "fallback" in f else None
    ok = code is not None and kind is not None and ("fallback" not in f or fallback is not None)
    text = p.some_languages(f["text"], where, "text") if "text" in f else None
    ok = ok and text is not None
    if text is not None and fallback is not None and fallback not in text:
        p.err(f["fallback"], where, say("catalog-err-fallback-missing", lang=fallback))
        ok = False
    required = True
    if "required" in f:
        value = p.boolean(f["required"], where, "required")
        ok = ok and value is not None
        required = bool(value) if value is not None else True
    options: list[OptionData] = []
    if kind in CHOICE_KINDS:
        if "options" not in f:
            p.err(node, where, say("catalog-err-needs-options", kind=kind))
            ok = False
        else:
            nodes = p.items(f["options"], where, "options")
            if len(nodes) < 2 or len(nodes) > OPTIONS_MAX:
                p.err(f["options"], where, say("catalog-err-options-count", max=OPTIONS_MAX))
                ok = False
            for i, n in enumerate(nodes):
                owhere = (*where, numbered(KIND_OPTION, i + 1))
                of = p.fields(n, owhere, ("code", "text"))
                if of is None:
                    ok = False
                    continue
                ocode = p.code(of["code"], owhere) if "code" in of else None
                otext = p.some_languages(of["text"], owhere, "text") if "text" in of else None
                if ocode is None or otext is None:
                    ok = False
                    continue
                if any(o.code == ocode for o in options):
                    p.err(of["code"], owhere, say("catalog-err-option-twice", code=ocode))
                    ok = False
                    continue
                options.append(OptionData(ocode, fill_languages(otext, fallback)))
    elif "options" in f:
        p.err(f["options"], where, say("catalog-err-options-not-allowed", kind=str(kind)))
        ok = False
    low = high = None
    if kind == "number":
        if "min" not in f or "max" not in f:
            p.err(node, where, say("catalog-err-needs-min-max"))
            ok = False
        else:
            low = p.number(f["min"], where, "min", -NUMBER_LIMIT, NUMBER_LIMIT)
            high = p.number(f["max"], where, "max", -NUMBER_LIMIT, NUMBER_LIMIT)
            if low is None or high is None:
                ok = False
            elif high < low:
                p.err(
                    f["max"],
                    where,
                    say("catalog-err-max-below-min", max=f"{high:g}", min=f"{low:g}"),
                )
                ok = False
    else:
        for key in ("min", "max"):
            if key in f:
                p.err(f[key], where, say("catalog-err-only-number", key=key))
                ok = False
    if not ok or code is None or kind is None or text is None:
        return None
    return QuestionData(
        code,
        kind,
        fill_languages(text, fallback),
        tuple(options),
        required,
        low,
        high,
        index,
        line_of(node),
    )


def parse_course_questions(p: FieldReader, node: Node, where: Place) -> tuple[str, ...] | None:
    """A course's ``questions: [code, …]``."""
    out: list[str] = []
    ok = True
    for n in p.items(node, where, "questions"):
        code = p.code(n, where, "questions")
        if code is None:
            ok = False
        elif code in out:
            p.err(n, where, say("catalog-err-listed-twice", key="questions", value=code))
            ok = False
        else:
            out.append(code)
    return tuple(out) if ok else None
