"""Shared fixtures: a fresh database per test (SQLite file, or a PostgreSQL database)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest

from db.database import Database
from sandbox.harness import BotHarness

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"


def service_missing(what: str, exc: BaseException) -> None:
    """Outside CI a missing service skips with the reason; in CI it fails."""
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if IN_CI:
        pytest.fail(message + " — CI must run these tests for real")
    pytest.skip(message)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the demo catalogue, built once per test session."""
    from bot.config import DEFAULT_CATALOG_FILE
    from bot.services.catalog import import_catalog

    path = tmp_path_factory.mktemp("template") / "bot.sqlite3"

    async def build() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await db.migrate()
        await import_catalog(db, DEFAULT_CATALOG_FILE)
        await db.dispose()

    asyncio.run(build())
    return path


@pytest.fixture
async def harness(tmp_path: Path, template_db: Path) -> AsyncIterator[BotHarness]:
    """The real bot on a copy of the template database, against the fake Bot API."""
    async with BotHarness(tmp_path, template=template_db) as h:
        yield h


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/test.sqlite3"


@pytest.fixture
async def sqlite_db(sqlite_url: str) -> AsyncIterator[Database]:
    db = Database(sqlite_url)
    await db.migrate()
    yield db
    await db.dispose()


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    try:
        import asyncpg

        admin = await asyncio.wait_for(asyncpg.connect(PG_ADMIN_URL), 5)
    except (OSError, TimeoutError, ImportError) as exc:
        service_missing("PostgreSQL at 127.0.0.1:5432", exc)
        raise
    name = f"itbot_test_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
async def pg_db(pg_url: str) -> AsyncIterator[Database]:
    db = Database(pg_url)
    await db.migrate()
    yield db
    await db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
async def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The same test on SQLite and on PostgreSQL."""
    async with AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path}/any.sqlite3"
        else:
            url = await stack.enter_async_context(fresh_pg_database())
        db = Database(url)
        stack.push_async_callback(db.dispose)
        await db.migrate()
        yield db
