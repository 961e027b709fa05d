"""The catalogue import's problems as the command line prints them (English,
``file:line: where: what``), for tests that check what a file is told."""

from __future__ import annotations

from collections.abc import Iterable

from bot.i18n import Translator
from bot.services.catalog import CatalogError, Problem, render_cli

ENGLISH = Translator(locales=("en",), default_locale="en").bind("en").plain


def english(error: CatalogError) -> list[str]:
    return [render_cli(problem, ENGLISH, error.filename) for problem in error.problems]


def english_warnings(problems: Iterable[Problem], filename: str) -> list[str]:
    return [render_cli(problem, ENGLISH, filename) for problem in problems]
