"""Checking an answer to an extra sign-up question, and showing a stored one."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date

from bot.i18n import pick_text
from db.dto_outcomes import QuestionDTO

TEXT_MAX = 120
_NUMBER_RE = re.compile(r"^-?[0-9]{1,10}$")
_DATE_DMY = re.compile(r"^([0-9]{1,2})[./-]([0-9]{1,2})[./-]([0-9]{4})$")
_DATE_ISO = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
_INVISIBLE = {"Cc", "Cf", "Co", "Cs"}  # control, format (bidi marks), private, surrogates
YEARS = (1900, 2100)


class AnswerError(ValueError):
    """``key`` and ``params`` are the message telling the user what to type instead."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def _fmt(value: float) -> str:
    return f"{value:g}"


def check_typed(question: QuestionDTO, raw: str) -> str:
    """The stored value for what the user typed (text, number, date), or AnswerError."""
    text = unicodedata.normalize("NFC", " ".join(raw.split()))
    if question.kind == "text":
        text = "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE).strip()
        if not text:
            raise AnswerError("q-error-text-empty")
        if len(text) > TEXT_MAX:
            raise AnswerError("q-error-text-long", limit=TEXT_MAX)
        return text
    if question.kind == "number":
        compact = text.replace(" ", "")
        low = question.min_value if question.min_value is not None else -1e9
        high = question.max_value if question.max_value is not None else 1e9
        if not _NUMBER_RE.match(compact):
            raise AnswerError("q-error-number", min=_fmt(low), max=_fmt(high))
        value = int(compact)
        if not low <= value <= high:
            raise AnswerError("q-error-number", min=_fmt(low), max=_fmt(high))
        return str(value)
    if question.kind == "date":
        day = parse_day(text)
        if day is None:
            raise AnswerError("q-error-date")
        return day.isoformat()
    raise AnswerError("q-error-use-buttons")


def parse_day(text: str) -> date | None:
    """25.12.1999, 25/12/1999 or 1999-12-25 (ASCII digits); None if not a real date."""
    if m := _DATE_DMY.match(text):
        d, mo, y = int(m[1]), int(m[2]), int(m[3])
    elif m := _DATE_ISO.match(text):
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
    else:
        return None
    if not YEARS[0] <= y <= YEARS[1]:
        return None
    try:
        return date(y, mo, d)
    except ValueError:
        return None


_RANGE = re.compile(r"^\s*(\S+)\s*(?:-|–|—|\.\.)\s*(\S+)\s*$")


def parse_range(text: str) -> tuple[date, date] | None:
    """``01.09.2026 - 31.12.2026`` (or ISO dates, or – — ..): the first and last day."""
    m = _RANGE.match(text)
    if not m:
        return None
    first, last = parse_day(m[1]), parse_day(m[2])
    if first is None or last is None or last < first:
        return None
    return first, last


def check_choice(question: QuestionDTO, code: str) -> str:
    if question.kind != "choice" or question.option(code) is None:
        raise AnswerError("q-error-use-buttons")
    return code


def check_multi(question: QuestionDTO, codes: Sequence[str]) -> str:
    """Several options joined by commas, in the question's order (empty: none chosen)."""
    chosen = set(codes)
    if question.kind != "multi" or any(question.option(c) is None for c in chosen):
        raise AnswerError("q-error-use-buttons")
    if not chosen and question.required:
        raise AnswerError("q-error-choose-one")
    return ",".join(o.code for o in question.options if o.code in chosen)


def values_of(question: QuestionDTO, value: str) -> list[str]:
    """The option codes of a stored choice answer ([] for other kinds)."""
    if question.kind == "choice":
        return [value] if value else []
    if question.kind == "multi":
        return [v for v in value.split(",") if v]
    return []


def shown(question: QuestionDTO, value: str | None, locale: str) -> str:
    """A stored answer as a person reads it, in ``locale``."""
    if value is None or value == "":
        return "—"
    if question.is_choice:
        labels = []
        for code in values_of(question, value):
            option = question.option(code)
            labels.append(pick_text(option.text, locale) if option else code)
        return ", ".join(labels) or "—"
    if question.kind == "date":
        try:
            return date.fromisoformat(value).strftime("%d.%m.%Y")
        except ValueError:
            return value
    return value
