"""The catalogue import speaks the staff member's language: every problem and warning is
a message key with parameters (bot/services/catalog/problems.py), shown in the bot in
kk/ky/ru/en and on the command line in English — and every key has its four texts."""

from __future__ import annotations

import ast
import re
import textwrap
from functools import cache
from pathlib import Path

import pytest

from bot.config import LOCALES, PROJECT_ROOT
from bot.i18n import Translator, placeholders
from bot.services.catalog import (
    CatalogError,
    Problem,
    Text,
    apply_catalog,
    parse_catalog,
    render_line,
)
from db.database import Database
from handlers.staff.schedule.timetable import IMPORT_ERRORS_SHOWN, PROBLEM_CHARS, problem_lines
from tests.catalog_text import english
from tests.test_catalog_import import SMALL, db, line_of, loc

__all__ = ["db"]  # the fixture, used below

CATALOG = PROJECT_ROOT / "bot" / "services" / "catalog"

# A file with many kinds of mistakes, each on its own line.
BAD = textwrap.dedent(
    f"""\
    regions:
      - code: kz-zhambyl
        country: KZ
        kind: oblast
        name: {{kk: Жамбыл облысы, ru: Жамбылская область, en: Zhambyl Region}}
      - code: kz-zhambyl
        country: KZ
        name: {loc("Zhambyl")}
    centres:
      - code: taraz-it
        region: kz-zhambyl
        name: {{ru: Тараз, ул.: Абая 1, kk: Тараз}}
        city: {loc("Taraz")}
        adress: {loc("Tole bi 60")}
        latitude: 142.9
        longitude: 71.39
        timezone: Asia/Almati
    courses:
      - code: Taraz_Java
        centre: taraz-it
        title: {loc("Java")}
        description: {loc("About")}
        languages: kk
        duration_weeks: many
        start_date: 2026-12-32
        enrolment_open: maybe
        free_of_charge: true
    groups:
      - code: taraz-java-1
        course: taraz-java
        name: {loc("Group 1")}
        capacity: 0
        weekly:
          days: [mon, wedn]
          start: "18:30"
          end: "17:00"
          from: 2027-03-05
          until: 2026-12-07
        sessions:
          - {{date: 2027-01-12, start: "9:00", finish: "10:00"}}
    """
)
# Fixed notations the texts keep in every language: true/false, IANA, Asia/Almaty, mon.
LITERAL = {"true", "false", "iana", "asia", "almaty", "mon", "tue"}


def words(text: str) -> set[str]:
    """Latin words of three letters or more, outside 'quoted' keys and values."""
    unquoted = re.sub(r"'[^']*'", " ", text)
    return {w.lower() for w in re.findall(r"[A-Za-z]{3,}", unquoted)}


def data_words(problems: list[Problem]) -> set[str]:
    """The words the problems carry as data (keys, codes, values from the file)."""
    out: set[str] = set()

    def walk(text: Text) -> None:
        for value in text.params.values():
            if isinstance(value, Text):
                walk(value)
            else:
                out.update(words(str(value).replace("'", " ")))
        for more in text.then:
            walk(more)

    for problem in problems:
        for part in (*problem.where, problem.text):
            walk(part)
    return out


@cache
def translator() -> Translator:
    return Translator()


def rendered(problems: list[Problem], locale: str) -> list[str]:
    return [render_line(problem, translator().bind(locale).plain) for problem in problems]


def bad_problems() -> list[Problem]:
    with pytest.raises(CatalogError) as info:
        parse_catalog(BAD, "bad.yaml")
    return info.value.problems


def test_import_errors_are_shown_in_the_staff_members_language() -> None:
    problems = bad_problems()
    kinds = {p.text.key for p in problems}
    assert len(problems) >= 12 and len(kinds) >= 10, sorted(kinds)  # many kinds of mistakes
    english_lines = rendered(problems, "en")
    # The English words of these very lines, less what the file itself says.
    english_words = words(" ".join(english_lines)) - data_words(problems) - LITERAL
    assert {"must", "unknown", "line", "allowed"} <= english_words
    for locale in ("kk", "ru"):
        lines = rendered(problems, locale)
        assert len(lines) == len(problems) == len(english_lines)
        for line, problem, en in zip(lines, problems, english_lines, strict=True):
            assert line != en
            left = words(line) & english_words
            assert not left, f"{locale}: English left in {line!r}: {left}"
            # The line of the file comes first, in the reader's words.
            marker = {"kk": f"{problem.line}-жол: ", "ru": f"строка {problem.line}: "}[locale]
            assert line.startswith(marker), line
        # What the bot sends: the first lines, as rendered here.
        shown = problem_lines(translator().bind(locale), problems).splitlines()
        assert shown == [line[:PROBLEM_CHARS] for line in lines[:IMPORT_ERRORS_SHOWN]]
    ru = rendered(problems, "ru")
    assert f"строка {line_of(BAD, 'capacity: 0')}: группа 'taraz-java-1': 'capacity'" in "\n".join(
        ru
    )
    kk = "\n".join(rendered(problems, "kk"))
    assert "курс №1: 'code': 'Taraz_Java' кодында тек кіші латын әріптері" in kk
    assert "(мүмкін, 'address'?)" not in kk and "('address' болуы мүмкін бе?)" in kk


def test_the_command_line_keeps_the_english_file_line_form() -> None:
    lines = english(CatalogError(bad_problems(), "bad.yaml"))
    assert (
        lines[0]
        == "bad.yaml:4: region 'kz-zhambyl': 'kind' must be one of region, city, not 'oblast'"
    )
    assert all(re.match(r"bad\.yaml:\d+: ", line) for line in lines), lines


def test_warnings_are_translated_too() -> None:
    text = SMALL.replace(loc("Street"), "{ru: Улица}")
    data = parse_catalog(text, "small.yaml")
    [warning] = data.warnings
    [ru] = rendered([warning], "ru")
    assert ru == (
        f"строка {line_of(text, '{ru: Улица}')}: центр 'c1': 'address': нет текста на языках: "
        "kk, ky, en; пока его нет, показывается текст на языке: ru"
    )
    [kk] = rendered([warning], "kk")
    assert not words(kk) - data_words([warning])


async def test_database_checks_are_translated(db: Database) -> None:
    text = SMALL.replace("    centre: c1", "    centre: c11")
    with pytest.raises(CatalogError) as info:
        await apply_catalog(db, parse_catalog(text, "small.yaml"))
    [ky] = rendered(info.value.problems, "ky")
    assert ky == (
        f"{line_of(text, 'centre: c11')}-сап: курс 'web': табылган жок: борбор 'c11' — бул "
        "файлда да, маалымат базасында да жок; кодду текшериңиз ('c1' болушу мүмкүнбү?)"
    )


# ------------------------------------------------------------- every key, four texts


def _calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("say", "Text")
    ]


def keys_in_code() -> dict[str, set[str] | None]:
    """Every message key the catalogue package can produce, read from its source: each
    ``catalog-…`` string constant, with the parameters its ``say(…)`` gives (None when a
    key is only named, e.g. in a table, and is passed on by a variable)."""
    found: dict[str, set[str] | None] = {}
    for path in sorted(CATALOG.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.fullmatch(r"catalog-[a-z0-9-]+", node.value)
            ):
                found.setdefault(node.value, None)
        for call in _calls(path):
            first = call.args[0] if call.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found[first.value] = {k.arg for k in call.keywords if k.arg}
    return found


def test_every_key_the_import_can_produce_is_translated() -> None:
    found = keys_in_code()
    assert len(found) > 80, len(found)  # the scan sees the package
    for key, params in sorted(found.items()):
        english_text = translator().catalogs["en"].messages.get(key)
        assert isinstance(english_text, str) and english_text, f"{key} is not in locales/en"
        for locale in LOCALES:
            text = translator().catalogs[locale].messages.get(key)
            assert isinstance(text, str) and text.strip(), f"{key} is not in locales/{locale}"
        if params is not None:
            assert placeholders(english_text) == params, (key, params, english_text)
    # And nothing stale: the import's locale file holds exactly these keys.
    from babel.messages.pofile import read_po

    with (PROJECT_ROOT / "locales" / "en" / "catalog_import.po").open("rb") as handle:
        in_file = {str(m.id) for m in read_po(handle) if m.id}
    assert in_file == set(found)


def test_keys_passed_by_a_variable_come_from_the_package() -> None:
    """A key built from parts could not be found by the scan above: every ``say``/``Text``
    names its key as a constant, or passes one on from a constant table or a ``Text``."""
    for path in sorted(CATALOG.glob("*.py")):
        for call in _calls(path):
            first = call.args[0] if call.args else None
            assert not isinstance(first, ast.JoinedStr | ast.BinOp), (
                f"{path.name}:{call.lineno}: a message key built from parts"
            )


def test_an_empty_contact_text_is_said_not_dropped() -> None:
    """``person: {}`` once left the whole centre out of the file without a word."""
    text = SMALL.replace(
        "    timezone: Asia/Bishkek\n",
        "    timezone: Asia/Bishkek\n    contacts:\n      person: {}\n",
    )
    with pytest.raises(CatalogError) as info:
        parse_catalog(text, "small.yaml")
    assert english(info.value) == [
        f"small.yaml:{line_of(text, 'person: {}')}: centre 'c1': 'contacts.person' has no text "
        "in any language (kk, ky, ru, en); add at least one"
    ]
