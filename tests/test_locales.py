"""Every string in all four languages: same keys, same placeholders, valid Telegram HTML,
and every key the code uses exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.config import LOCALES, PROJECT_ROOT
from bot.i18n import LOCALES_DIR, Translator, _Plural, load_catalog, placeholders
from sandbox.telegram.formatting import FormattingError, parse_html

KEY_RE = re.compile(r"^[a-z]+(?:-[a-z0-9]+)+$")
# Keys whose text may legitimately be identical to English in another language.
SAME_AS_ENGLISH_OK = {
    "start-choose-language",  # shown before a language is known: all four at once
    "catalogue-centre-button",
    "course-card-title",
    "course-group-line",
    "venue-title",
    "signup-chosen",
    "signup-phone-saved",
    # Layouts of values only (issue 12): the words around them are their own keys.
    "my-app-history-step",
    "my-app-hours",
    "my-app-phones",
    "support-history-step",
    "support-kind",
    "support-person-application",
    "support-person-head",
    "support-person-phones",
    "support-said",
    "schedule-btn-regular",
    # A catalogue entry's code, or a value from the file, in quotes (catalog_import.po).
    "catalog-where-coded",
    "catalog-value-text",
}


def _forms(value: str | _Plural) -> tuple[str, ...]:
    return value.forms if isinstance(value, _Plural) else (value,)


@pytest.fixture(scope="module")
def catalogs() -> dict[str, dict[str, str | _Plural]]:
    return {loc: load_catalog(loc, LOCALES_DIR / loc).messages for loc in LOCALES}


def test_same_files_in_every_locale() -> None:
    english = sorted(p.name for p in (LOCALES_DIR / "en").glob("*.po"))
    assert english
    for locale in LOCALES:
        assert sorted(p.name for p in (LOCALES_DIR / locale).glob("*.po")) == english, locale


def test_same_keys_everywhere(catalogs: dict[str, dict[str, str | _Plural]]) -> None:
    english = set(catalogs["en"])
    for locale in LOCALES:
        keys = set(catalogs[locale])
        assert not english - keys, f"{locale} is missing {sorted(english - keys)}"
        assert not keys - english, f"{locale} has extra keys {sorted(keys - english)}"


def test_nothing_empty_or_untranslated(catalogs: dict[str, dict[str, str | _Plural]]) -> None:
    for locale, messages in catalogs.items():
        for key, value in messages.items():
            for form in _forms(value):
                assert form.strip(), f"{locale}: {key} is empty"
            if locale != "en" and key not in SAME_AS_ENGLISH_OK:
                same = _forms(value) == _forms(catalogs["en"][key])
                has_words = re.search(r"[A-Za-z]{3,}", _forms(value)[0].replace("IT", ""))
                assert not (same and has_words), f"{locale}: {key} is still English"


def test_placeholders_match(catalogs: dict[str, dict[str, str | _Plural]]) -> None:
    for key, value in catalogs["en"].items():
        expected = placeholders(_forms(value)[-1])
        for locale in LOCALES:
            for form in _forms(catalogs[locale][key]):
                assert placeholders(form) == expected, (locale, key, form)


def test_plural_forms_count() -> None:
    nplurals = {"en": 2, "ru": 3, "kk": 2, "ky": 2}
    for locale in LOCALES:
        for key, value in load_catalog(locale, LOCALES_DIR / locale).messages.items():
            if isinstance(value, _Plural):
                assert len(value.forms) == nplurals[locale], (locale, key)


def test_every_text_is_valid_telegram_html(
    catalogs: dict[str, dict[str, str | _Plural]],
) -> None:
    for locale, messages in catalogs.items():
        for key, value in messages.items():
            for form in _forms(value):
                sample = form.format_map(dict.fromkeys(placeholders(form), "x"))
                try:
                    parse_html(sample)
                except FormattingError as exc:
                    pytest.fail(f"{locale}: {key}: {exc}")


def test_reply_keyboard_labels_are_unique() -> None:
    translator = Translator()
    menu = [k for k in translator.catalogs["en"].messages if k.startswith(("menu-", "btn-"))]
    menu = [k for k in menu if k not in ("menu-main", "menu-placeholder")]
    for locale in LOCALES:
        labels = [translator.plain(locale, k) for k in menu]
        assert len(set(labels)) == len(labels), locale


def _code_keys(prefixes: set[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in ("bot", "handlers"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            if "fake_api" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    value = node.value
                    if KEY_RE.match(value) and value.split("-")[0] in prefixes:
                        found[value] = f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}"
    return found


def test_every_key_used_in_code_exists(catalogs: dict[str, dict[str, str | _Plural]]) -> None:
    english = catalogs["en"]
    prefixes = {key.split("-")[0] for key in english}
    missing = {k: where for k, where in _code_keys(prefixes).items() if k not in english}
    assert not missing, f"keys used in code but not in locales/: {missing}"


def test_dynamic_keys_exist(catalogs: dict[str, dict[str, str | _Plural]]) -> None:
    from bot.runner import COMMANDS

    english = catalogs["en"]
    for status in ("pending", "accepted", "waitlisted", "rejected", "cancelled"):
        assert f"status-{status}" in english
    for command in COMMANDS:
        assert f"command-{command}" in english


def test_glossary_terms_for_statuses() -> None:
    """'Accepted' is the granted seat; 'received'-like words must not be used for it."""
    translator = Translator()
    assert translator.plain("ru", "status-accepted") == "одобрена"
    assert translator.plain("kk", "status-accepted") == "мақұлданды"
    assert translator.plain("ky", "status-accepted") == "бекитилди"


def test_locale_files_are_in_the_repo() -> None:
    assert Path(LOCALES_DIR).is_dir()


# ---- button labels ---------------------------------------------------------------------

BUTTON_LIMIT = 24  # characters: longer labels are cut off on a phone
# Placeholders inside button labels: numbers and times get a typical value; names (course,
# group, value, …) are the data's own and are counted as empty, so the fixed words must fit.
_SAMPLE = {"count": "99", "id": "999", "time": "18:30", "page": "9", "pages": "9"}


def _button_call(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return bool(re.search(r"button|btn", name, re.IGNORECASE))


def _button_keys_in_code(prefixes: set[str]) -> set[str]:
    """Keys passed (directly or through a t()/t.plain() call) to anything that builds a
    button: aiogram's *Button classes, builder.button(), and the handlers' _btn helpers."""
    found: set[str] = set()
    for folder in ("bot", "handlers"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and _button_call(node)):
                    continue
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                        value = inner.value
                        if KEY_RE.match(value) and value.split("-")[0] in prefixes:
                            found.add(value)
    return found


def button_keys(english: dict[str, str | _Plural]) -> set[str]:
    named = {
        key
        for key in english
        if re.search(r"(^|-)btn(-|$)", key)
        or (key.startswith("menu-") and key not in ("menu-main", "menu-placeholder"))
        or key.startswith("lang-")
    }
    prefixes = {key.split("-")[0] for key in english}
    return named | (_button_keys_in_code(prefixes) & set(english))


def test_button_labels_fit_a_phone(catalogs: dict[str, dict[str, str | _Plural]]) -> None:
    keys = button_keys(catalogs["en"])
    assert {"signup-confirm", "export-btn-trainees", "menu-catalogue"} <= keys, sorted(keys)
    too_long = []
    for locale, messages in catalogs.items():
        for key in sorted(keys):
            for form in _forms(messages[key]):
                label = form.format_map(
                    {name: _SAMPLE.get(name, "") for name in placeholders(form)}
                )
                if len(label) > BUTTON_LIMIT:
                    too_long.append(f"{locale}: {key}: {label!r} ({len(label)})")
    assert not too_long, "button labels over 24 characters:\n" + "\n".join(too_long)


def test_language_picker_names_have_no_flags() -> None:
    from bot.i18n import LANGUAGE_NAMES

    for name in LANGUAGE_NAMES.values():
        assert not any(0x1F1E6 <= ord(ch) <= 0x1F1FF for ch in name), name


def test_no_fuzzy_headers() -> None:
    """Babel's `#, fuzzy` on the header makes `pybabel compile` skip the whole file."""
    from babel.messages.pofile import read_po

    for path in sorted(LOCALES_DIR.glob("*/*.po")):
        text = path.read_text(encoding="utf-8")
        assert "#, fuzzy" not in text, path
        with path.open("rb") as handle:
            assert not read_po(handle).fuzzy, path


def test_withdrawn_is_not_cancelled() -> None:
    """The status an applicant sets by withdrawing reads as withdrawn, not cancelled."""
    translator = Translator()
    assert translator.plain("en", "status-cancelled") == "withdrawn"
    assert translator.plain("ru", "status-cancelled") == "отозвана"
    assert translator.plain("kk", "status-cancelled") == "қайтарып алынды"
    assert translator.plain("ky", "status-cancelled") == "кайтарып алынды"


def test_no_case_ending_on_a_placeholder(
    catalogs: dict[str, dict[str, str | _Plural]],
) -> None:
    """Kazakh and Kyrgyz cannot inflect a value put into a template: no suffix (a letter
    or a hyphen) may follow a placeholder, and a group's name is never followed by the
    word for group (the name holds it already). An ordinal ending after a hyphen is how a
    number is written («{page}-бет»), so numbers may take one."""
    numbers = r"\{(page|number|position|count)\}-"
    for locale in ("kk", "ky"):
        for key, value in catalogs[locale].items():
            for form in _forms(value):
                bare = re.sub(numbers, "{n} ", form)
                assert not re.search(r"\}-?[^\W\d_]", bare), (locale, key, form)
                # Postpositions that need a case ending on the word before them.
                governed = r"\}\s*(КБ\s*)?(дейін|чейин|карата|қарай)"
                assert not re.search(governed, form), (locale, key, form)
                assert not re.search(r"\{(group|chosen)\}</?b?>? ?(тоб|топ)", form), (
                    locale,
                    key,
                    form,
                )


def test_each_language_has_its_own_name_example() -> None:
    """The example name in the name question is a name of that language's speakers."""
    translator = Translator()
    examples = {
        locale: re.findall(r"<i>(.+?)</i>", translator.plain(locale, "signup-ask-name"))[0]
        for locale in LOCALES
    }
    assert len(set(examples.values())) == len(examples), examples
    for key in ("signup-expect-name", "signup-name-need-two-words"):
        for locale in LOCALES:
            assert examples[locale] in translator.plain(locale, key), (locale, key)
