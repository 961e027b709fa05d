"""Engine, short transactions and migrations.

Repositories open one short transaction per call (`async with db.transaction()`), so no
transaction is ever held open across a Telegram request. On SQLite every transaction
starts with BEGIN IMMEDIATE (writers queue on the file lock instead of failing with
SQLITE_BUSY when two processes share one file) and the file runs in WAL mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_setup(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if not conn.get_execution_options().get("sqlite_read_only"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """Owns the engine and hands out short transactions."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            database = parsed.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            # One connection per process: SQLite has one writer anyway, and a single
            # connection means no in-process lock contention at all.
            self.engine = create_async_engine(
                url,
                echo=echo,
                poolclass=AsyncAdaptedQueuePool,
                pool_size=1,
                max_overflow=0,
                pool_timeout=60,
            )
            _sqlite_setup(self.engine)
        else:
            self.engine = create_async_engine(
                url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True
            )
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads on SQLite skip BEGIN IMMEDIATE (see read()); same pool, same connection.
        read_engine = (
            self.engine.execution_options(sqlite_read_only=True) if self.is_sqlite else self.engine
        )
        self._read_sessions = async_sessionmaker(read_engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction, committed on success, rolled back on error."""
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only.

        On SQLite it runs without BEGIN/COMMIT (each statement is its own snapshot), which
        halves the thread hops of a read through aiosqlite; on PostgreSQL it is an ordinary
        transaction that is rolled back.
        """
        async with self._read_sessions() as session:
            yield session

    async def migrate(self) -> None:
        """Apply Alembic migrations up to head."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade, "head")

    async def downgrade(self, revision: str) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(_downgrade, revision)

    async def dispose(self) -> None:
        await self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(connection), revision)


async def open_database(url: str) -> Database:
    """Create the Database and bring its schema up to date."""
    db = Database(url)
    await db.migrate()
    return db


def run_sync(coro: Any) -> Any:
    return asyncio.run(coro)
