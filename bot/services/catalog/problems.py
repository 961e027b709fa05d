"""What the import says about a file, as data: a message key, its parameters and the line.

The catalogue package does not speak any language itself (it sits below the bot's i18n):
each problem is a ``Problem`` — the line, where in the file (``course 'python-1'``), and
a ``Text`` (a key in ``locales/<lang>/catalog_import.po`` and its parameters). Whoever
shows it renders it with a translator: the bot in the staff member's language
(``render_line``), the command line in English (``render_cli``).

Every key is written out as a string constant in this package (never built from parts),
so the tests can find each one and check it is translated.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Text:
    """A message: ``key`` in the locales, its parameters (a parameter may be a ``Text``
    itself, rendered first), and sentences said after it (a hint, a suggestion)."""

    key: str
    params: Mapping[str, object] = field(default_factory=dict)
    then: tuple[Text, ...] = ()

    def and_then(self, *more: Text | None) -> Text:
        extra = tuple(m for m in more if m is not None)
        return Text(self.key, self.params, self.then + extra) if extra else self


def say(key: str, /, **params: object) -> Text:
    return Text(key, params)


# Where in the file a problem is: entries from the outside in, e.g. (group 'web-1', class).
Place = tuple[Text, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    line: int  # 1-based; 0: the file as a whole
    where: Place
    text: Text


class Render(Protocol):
    """A translator's ``plain``: a key and its parameters → text without HTML."""

    def __call__(self, key: str, /, **params: object) -> str: ...


def render_text(text: Text, tr: Render) -> str:
    params = {k: render_text(v, tr) if isinstance(v, Text) else v for k, v in text.params.items()}
    out = tr(text.key, **params)
    for extra in text.then:
        out += " " + render_text(extra, tr)
    return out


def render_problem(problem: Problem, tr: Render) -> str:
    """``where: what``, without the line."""
    body = render_text(problem.text, tr)
    if not problem.where:
        return body
    return ", ".join(render_text(w, tr) for w in problem.where) + ": " + body


def render_line(problem: Problem, tr: Render) -> str:
    """For people: «line 12: course 'python-1': …» in the translator's language."""
    if problem.line <= 0:
        return render_problem(problem, tr)
    return tr("catalog-at-line", number=problem.line, problem=render_problem(problem, tr))


def render_cli(problem: Problem, tr: Render, filename: str) -> str:
    """For the command line and logs: ``file:line: where: what``."""
    at = f"{filename}:{problem.line}" if problem.line > 0 else filename
    return f"{at}: {render_problem(problem, tr)}"


# ------------------------------------------------------------------ shared pieces


def suggest(word: str, choices: Iterable[str]) -> Text | None:
    """«did you mean 'x'?» for a near miss, else None."""
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered:
        return say("catalog-hint-did-you-mean", word=lowered[word.lower()])
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return say("catalog-hint-did-you-mean", word=close[0]) if close else None


def listing(values: Sequence[str]) -> str:
    return ", ".join(values)


# The kinds of entries a place names.
KIND_REGION = say("catalog-kind-region")
KIND_DISTRICT = say("catalog-kind-district")
KIND_CENTRE = say("catalog-kind-centre")
KIND_COURSE = say("catalog-kind-course")
KIND_GROUP = say("catalog-kind-group")
KIND_QUESTION = say("catalog-kind-question")
KIND_OPTION = say("catalog-kind-option")
KIND_CLASS = say("catalog-kind-class")
KIND_WEEKLY = say("catalog-kind-weekly")
KIND_FAQ = say("catalog-kind-faq")
KIND_CONTACTS = say("catalog-kind-contacts")
FILE = say("catalog-where-file")


def coded(kind: Text, code: str) -> Text:
    """An entry named by its code: course 'python-1'."""
    return say("catalog-where-coded", kind=kind, code=code)


def numbered(kind: Text, number: int) -> Text:
    """An entry named by its position: group #3."""
    return say("catalog-where-numbered", kind=kind, number=number)
