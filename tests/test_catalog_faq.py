"""A centre's FAQ in the catalogue: parsed with languages left out (they fall back),
refused with a clear line when malformed, replaced or cleared on re-import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.i18n import pick_text
from bot.services.catalog import apply_catalog, parse_catalog
from db.database import Database
from db.repo.conversations import ConversationRepo
from tests.test_catalog_import import demo_data, demo_text, errors_of


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/t.sqlite3")
    await database.migrate()
    yield database
    await database.dispose()


def test_demo_faq_parses_and_bad_faq_is_refused_with_its_line() -> None:
    [taraz] = [c for c in demo_data().centres if c.code == "taraz-it"]
    assert taraz.faq is not None and len(taraz.faq) == 1
    question, answer = taraz.faq[0]
    assert question["en"] == "Are the courses paid?" and "free of charge" in answer["en"]
    others = [c for c in demo_data().centres if c.code != "taraz-it"]
    assert all(c.faq is None for c in others)  # not given: what is stored stays

    bad = demo_text().replace("          ky: Курстар акылуубу?\n", "          xx: Курстар?\n")
    [error] = errors_of(bad)
    assert "unknown language 'xx'" in error and "FAQ question #1" in error
    long = demo_text().replace("en: Are the courses paid?", "en: " + "Is it paid? " * 8)
    [error] = errors_of(long)
    assert "at most 60 characters" in error


async def test_faq_is_stored_replaced_and_cleared(db: Database) -> None:
    await apply_catalog(db, demo_data())
    repo = ConversationRepo(db)
    centre_id = await _taraz(db)
    [item] = await repo.faq(centre_id)
    # Kazakh given, Kyrgyz falls back when left out.
    assert pick_text(item.question, "kk") == "Курстар ақылы ма?"
    only_ru = demo_text().replace(
        "      - question:\n          kk: Курстар ақылы ма?\n          ky: Курстар акылуубу?\n"
        "          ru: Курсы платные?\n          en: Are the courses paid?\n",
        "      - question:\n          ru: Где вы находитесь?\n"
        "        answer:\n          ru: Толе би, 60.\n"
        "      - question:\n          ru: Курсы платные?\n",
    )
    await apply_catalog(db, parse_catalog(only_ru, "demo.yaml"))
    first, second = await repo.faq(centre_id)
    assert pick_text(first.question, "ky") == "Где вы находитесь?"  # ky falls back to ru
    assert pick_text(second.answer, "en") == "No, every course is free of charge."
    # "faq: []" in place of the block (which runs to the blank line after it) clears it.
    text = demo_text()
    start = text.index("    faq:\n")
    end = text.index("\n\n", start)
    cleared = text[:start] + "    faq: []" + text[end:]
    await apply_catalog(db, parse_catalog(cleared, "demo.yaml"))
    assert await repo.faq(centre_id) == []


async def _taraz(db: Database) -> int:
    from sqlalchemy import select

    from db.models import Centre

    async with db.transaction() as s:
        value = await s.scalar(select(Centre.id).where(Centre.code == "taraz-it"))
        assert value is not None
        return int(value)
