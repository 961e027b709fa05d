"""Shared fixtures: a fresh database per test (SQLite file, or a PostgreSQL database),
copied from a migrated template built once per test session (per xdist worker)."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from db.database import Database
from sandbox.harness import BotHarness


def worker_redis_url(url: str, worker: str) -> str:
    """Tests flush their Redis database, so each pytest-xdist worker (``gw0``, ``gw1``, …)
    uses its own: the number in TEST_REDIS_URL plus the worker's index (the default, 14,
    leaves 15 for the second of the two workers; Redis has databases 0-15)."""
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) + int(worker[2:])
    return urlunsplit(parts._replace(path=f"/{number}"))


PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = worker_redis_url(
    os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14"),
    os.environ.get("PYTEST_XDIST_WORKER", ""),
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def service_missing(what: str, exc: BaseException) -> None:
    """Outside CI a missing service skips with the reason; in CI it fails."""
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if IN_CI:
        pytest.fail(message + " — CI must run these tests for real")
    pytest.skip(message)


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database migrated to head, built once per test session: tests get
    a copy (a migration from scratch costs most of a second each time)."""
    path = tmp_path_factory.mktemp("migrated") / "empty.sqlite3"

    async def build() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await db.migrate()
        await db.dispose()

    asyncio.run(build())
    return path


def copy_database(template: Path, path: Path) -> Path:
    """A copy of a template SQLite file (closed, so its WAL is checkpointed into it)."""
    shutil.copyfile(template, path)
    return path


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory, migrated_db: Path) -> Path:
    """A migrated SQLite database with the demo catalogue, built once per test session."""
    from bot.config import DEFAULT_CATALOG_FILE
    from bot.services.catalog import import_catalog

    path = copy_database(migrated_db, tmp_path_factory.mktemp("template") / "bot.sqlite3")

    async def build() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await db.migrate()  # at head already: nothing to do
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
async def sqlite_db(sqlite_url: str, tmp_path: Path, migrated_db: Path) -> AsyncIterator[Database]:
    copy_database(migrated_db, tmp_path / "test.sqlite3")
    db = Database(sqlite_url)
    await db.migrate()  # at head already: nothing to do
    yield db
    await db.dispose()


async def _pg_admin() -> object:
    try:
        import asyncpg

        return await asyncio.wait_for(asyncpg.connect(PG_ADMIN_URL), 5)
    except (OSError, TimeoutError, ImportError) as exc:
        service_missing("PostgreSQL at 127.0.0.1:5432", exc)
        raise


def _pg_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


@asynccontextmanager
async def fresh_pg_database(template: str | None = None) -> AsyncIterator[str]:
    """A new PostgreSQL database, dropped afterwards: empty, or a copy of ``template``
    (a database nobody is connected to)."""
    admin: Any = await _pg_admin()
    name = f"itbot_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    await admin.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield _pg_url(name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A PostgreSQL database migrated to head, built once per test session (per xdist
    worker) when a test asks for a migrated database: ``CREATE DATABASE … TEMPLATE`` copies
    it in a fraction of the time the migrations take. None if PostgreSQL is not reachable
    (the test then skips, or fails in CI, when it connects)."""
    name = f"itbot_template_{uuid.uuid4().hex[:12]}"

    async def build() -> bool:
        try:
            admin: Any = await _pg_admin()
        except (pytest.skip.Exception, pytest.fail.Exception):
            return False
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        db = Database(_pg_url(name))
        try:
            await db.migrate()
        finally:
            await db.dispose()
        return True

    async def drop() -> None:
        admin: Any = await _pg_admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    if not asyncio.run(build()):
        yield None
        return
    try:
        yield name
    finally:
        asyncio.run(drop())


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """An empty PostgreSQL database (migration tests)."""
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
async def pg_migrated_url(pg_template: str | None) -> AsyncIterator[str]:
    """A PostgreSQL database already migrated to head (a copy of the session's template)."""
    async with fresh_pg_database(pg_template) as url:
        yield url


@pytest.fixture
async def pg_db(pg_template: str | None) -> AsyncIterator[Database]:
    async with fresh_pg_database(pg_template) as url:
        db = Database(url)
        await db.migrate()  # at head already (from the template): nothing to change
        yield db
        await db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
async def any_db(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_db: Path, pg_template: str | None
) -> AsyncIterator[Database]:
    """The same test on SQLite and on PostgreSQL."""
    async with AsyncExitStack() as stack:
        if request.param == "sqlite":
            path = copy_database(migrated_db, tmp_path / "any.sqlite3")
            url = f"sqlite+aiosqlite:///{path}"
        else:
            url = await stack.enter_async_context(fresh_pg_database(pg_template))
        db = Database(url)
        stack.push_async_callback(db.dispose)
        await db.migrate()
        yield db
