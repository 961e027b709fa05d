"""Translations from gettext catalogues (locales/<locale>/<feature>.po), read with Babel.

Message ids are symbolic keys (``catalogue-course-card``); each locale's catalogue holds
the text. ``Translator.bind(locale)`` gives the callable handlers use:

* ``t("key", name=...)`` — HTML text; every ``str`` parameter is HTML-escaped, so user
  text can never break Telegram's HTML parser (wrap ready-made HTML in ``Html``).
* ``t.plain("key", ...)`` — text without HTML, for buttons, alerts and file contents.
* ``t.n("key", count, ...)`` — plural forms by the locale's gettext plural rule.
"""

from __future__ import annotations

import gettext
import html
import logging
import string
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

from bot.config import LOCALES, PROJECT_ROOT

log = logging.getLogger(__name__)
LOCALES_DIR = PROJECT_ROOT / "locales"
LANGUAGE_NAMES: Mapping[str, str] = {
    # Each language's name in itself, without flags: a flag names a country, not a language.
    "kk": "Қазақша",
    "ky": "Кыргызча",
    "ru": "Русский",
    "en": "English",
}


class Html(str):
    """A string that is already valid Telegram HTML and must not be escaped again."""

    __slots__ = ()


# Unicode bidirectional controls (embeddings, overrides, isolates, marks): a right-to-left
# override in a name ("Aida\u202egnp.exe") makes staff read something else than what is
# stored. They are dropped from every piece of user text the bot shows.
_BIDI = dict.fromkeys(
    (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)), None
)


def strip_bidi(text: str) -> str:
    """``text`` without Unicode bidi controls."""
    return text.translate(_BIDI)


def escape(value: object) -> str:
    if isinstance(value, Html):
        return value
    return html.escape(strip_bidi(str(value)), quote=False)


def placeholders(text: str) -> set[str]:
    """Names of the ``{placeholders}`` in a message."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@dataclass(frozen=True, slots=True)
class _Plural:
    forms: tuple[str, ...]


@dataclass(slots=True)
class Catalog:
    locale: str
    messages: dict[str, str | _Plural]
    plural_index: Callable[[int], int]
    files: dict[str, Path]


# Parsed catalogues by locale and directory, with the files' sizes and times they were read
# at: a process that starts the bot again (the sandbox's restarts, the tests) parses each
# file once, and an edited file is read again. Catalogues are never changed once loaded.
_LOADED: dict[tuple[str, Path], tuple[tuple[tuple[str, int, int], ...], Catalog]] = {}


def load_catalog(locale: str, directory: Path) -> Catalog:
    paths = sorted(directory.glob("*.po"))
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    loaded = _LOADED.get((locale, directory))
    if loaded is not None and loaded[0] == stamp:
        return loaded[1]
    catalog = _parse_catalog(locale, paths)
    _LOADED[(locale, directory)] = (stamp, catalog)
    return catalog


def _parse_catalog(locale: str, paths: Iterable[Path]) -> Catalog:
    messages: dict[str, str | _Plural] = {}
    files: dict[str, Path] = {}
    plural_index: Callable[[int], int] = lambda n: int(n != 1)  # noqa: E731
    for path in paths:
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        plural_index = gettext.c2py(catalog.plural_expr)
        for message in catalog:
            if not message.id:
                continue
            key = str(message.id[0] if isinstance(message.id, (tuple, list)) else message.id)
            if key in messages:
                raise ValueError(f"{path}: key {key!r} is also defined in {files[key]}")
            files[key] = path
            if isinstance(message.string, (tuple, list)):
                messages[key] = _Plural(tuple(str(x) for x in message.string))
            else:
                messages[key] = str(message.string or "")
    return Catalog(locale, messages, plural_index, files)


class Translator:
    """All catalogues, loaded once at start-up."""

    def __init__(
        self,
        directory: Path = LOCALES_DIR,
        locales: Iterable[str] = LOCALES,
        default_locale: str = "ru",
    ) -> None:
        self.locales = tuple(locales)
        self.default_locale = default_locale
        self.catalogs = {loc: load_catalog(loc, directory / loc) for loc in self.locales}
        self._variants: dict[str, frozenset[str]] = {}
        self._reverse: dict[str, dict[str, str]] = {}
        self._bound: dict[str, BoundTranslator] = {}
        # Static things rendered once per language (keyboards: ``bot/keyboards.py``).
        # What is kept here is shared by every update: never modified once built.
        self.rendered: dict[Hashable, Any] = {}

    def resolve_locale(self, stored: str | None, language_code: str | None) -> str:
        if stored in self.catalogs:
            return stored
        if language_code:
            short = language_code.split("-")[0].lower()
            if short in self.catalogs:
                return short
        return self.default_locale

    def raw(self, locale: str, key: str) -> str | _Plural:
        catalog = self.catalogs.get(locale) or self.catalogs[self.default_locale]
        value = catalog.messages.get(key)
        if not value:
            log.warning("missing translation %s for %s", key, locale)
            value = self.catalogs["en"].messages.get(key) if "en" in self.catalogs else None
            if not value:
                return key
        return value

    def get(self, locale: str, key: str, /, **params: Any) -> str:
        value = self.raw(locale, key)
        text = value.forms[-1] if isinstance(value, _Plural) else value
        if not params:
            return text
        return text.format_map({k: escape(v) for k, v in params.items()})

    def plain(self, locale: str, key: str, /, **params: Any) -> str:
        value = self.raw(locale, key)
        text = value.forms[-1] if isinstance(value, _Plural) else value
        if not params:
            return text
        return text.format_map(
            {k: strip_bidi(v) if isinstance(v, str) else v for k, v in params.items()}
        )

    def plural(
        self, locale: str, key: str, count: int, /, *, html_: bool = True, **params: Any
    ) -> str:
        value = self.raw(locale, key)
        if isinstance(value, _Plural):
            catalog = self.catalogs.get(locale) or self.catalogs[self.default_locale]
            index = min(catalog.plural_index(abs(count)), len(value.forms) - 1)
            text = value.forms[index]
        else:
            text = value
        values = {"count": count, **params}
        if html_:
            return text.format_map({k: escape(v) for k, v in values.items()})
        return text.format_map(values)

    def variants(self, key: str) -> frozenset[str]:
        """The text of a key in every locale (to recognise reply-keyboard buttons)."""
        found = self._variants.get(key)
        if found is None:
            found = frozenset(self.plain(loc, key) for loc in self.locales)
            self._variants[key] = found
        return found

    def bind(self, locale: str) -> BoundTranslator:
        """The translator bound to ``locale`` (one per locale, built once)."""
        bound = self._bound.get(locale)
        if bound is None:
            bound = self._bound[locale] = BoundTranslator(self, locale)
        return bound


class BoundTranslator:
    """The translator for one locale; what handlers receive as ``t``."""

    __slots__ = ("locale", "translator")

    def __init__(self, translator: Translator, locale: str) -> None:
        self.translator = translator
        self.locale = locale

    def __call__(self, key: str, /, **params: Any) -> str:
        return self.translator.get(self.locale, key, **params)

    def plain(self, key: str, /, **params: Any) -> str:
        return self.translator.plain(self.locale, key, **params)

    def n(self, key: str, count: int, /, **params: Any) -> str:
        return self.translator.plural(self.locale, key, count, **params)

    def n_plain(self, key: str, count: int, /, **params: Any) -> str:
        return self.translator.plural(self.locale, key, count, html_=False, **params)

    def pick(self, texts: Mapping[str, str]) -> str:
        """Choose this locale's value from a per-locale map (catalogue data), plain."""
        return pick_text(texts, self.locale)


def pick_text(texts: Mapping[str, str], locale: str) -> str:
    """The text for a locale from catalogue data, falling back ru → en → any."""
    for loc in (locale, "ru", "en"):
        value = texts.get(loc)
        if value:
            return value
    return next(iter(texts.values()), "")
