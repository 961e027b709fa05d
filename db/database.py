"""Engine, short transactions and migrations.

Repositories open one short transaction per call (`async with db.transaction()`), so no
transaction is ever held open across a Telegram request. On SQLite every transaction
starts with BEGIN IMMEDIATE (writers queue on the file lock instead of failing with
SQLITE_BUSY when two processes share one file) and the file runs in WAL mode.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import Context, ContextVar
from functools import partial
from pathlib import Path
from threading import Thread
from typing import Any

import aiosqlite
from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.sql import Executable

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Connections for reads on a SQLite file, besides the one write connection.
READ_CONNECTIONS = 2


class _Hidden:
    """Bound parameters on their way to aiosqlite's worker thread. aiosqlite logs every
    call it runs at DEBUG level, arguments included; this keeps names and phones out of
    that line (LOG_LEVEL=DEBUG must not turn the log into a list of applicants)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<parameters hidden>"


class _FusedCursor:
    """An aiosqlite cursor that costs one thread hop per statement.

    aiosqlite makes every cursor call a round trip to its worker thread and back through
    the event loop: SQLAlchemy's adapter opens a cursor, executes, fetches every row and
    closes it, four hops per statement, each waiting for a turn of a busy event loop while
    the process's only SQLite connection stays checked out. Here the worker thread does
    all four in one go; the rows (SQLAlchemy buffers them all anyway), the description,
    the row count and the last row id are handed back together.
    """

    __slots__ = ("_connection", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, connection: _FusedConnection) -> None:
        self._connection = connection
        self._rows: deque[Any] = deque()
        self.arraysize = 1
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> _FusedCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _run(self, many: bool, sql: str, hidden: _Hidden) -> tuple[Any, int, int | None, list[Any]]:
        # Runs on the connection's worker thread.
        parameters = hidden.value
        connection = self._connection
        cursor = connection._conn.cursor()
        try:
            if connection.committed_early:
                # One SQLAlchemy execute that made two cursor calls: the second would run
                # outside the committed transaction. Fail rather than half-commit.
                raise sqlite3.ProgrammingError("a statement after the transaction's COMMIT")
            if connection.begin_pending:
                # The transaction's BEGIN, in the same hop as its first statement.
                connection.begin_pending = False
                cursor.execute("BEGIN IMMEDIATE")
            commit, connection.commit_with_next = connection.commit_with_next, False
            if many:
                cursor.executemany(sql, parameters)
            else:
                cursor.execute(sql, parameters)
            description = cursor.description
            rows = cursor.fetchall() if description else []
            if commit:
                # The transaction's last statement: COMMIT in the same hop.
                connection._conn.commit()
                connection.committed_early = True
            return description, cursor.rowcount, cursor.lastrowid, rows
        finally:
            cursor.close()

    async def _call(self, many: bool, sql: str, parameters: Any) -> _FusedCursor:
        execute = self._connection._execute  # one hop to the worker thread
        result = await execute(self._run, many, sql, _Hidden(parameters))  # type: ignore[no-untyped-call]
        self.description, self.rowcount, self.lastrowid, rows = result
        self._rows = deque(rows)
        return self

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> _FusedCursor:
        return await self._call(False, sql, () if parameters is None else parameters)

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> _FusedCursor:
        return await self._call(True, sql, parameters)

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        n = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(n, len(self._rows)))]

    async def fetchall(self) -> Sequence[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    async def close(self) -> None:
        self._rows.clear()


class _FusedConnection(aiosqlite.Connection):
    """aiosqlite's connection with one-hop cursors, a BEGIN that rides with the first
    statement, and no hop for an idle commit or rollback.

    A write transaction (``BEGIN IMMEDIATE``, its statements, ``COMMIT``) cost a hop to
    the worker thread for each, and its BEGIN a SQLAlchemy execution of its own. Here
    the engine's ``begin`` event only sets ``begin_pending``; the worker thread runs
    BEGIN IMMEDIATE just before the next statement, in the same hop, so the transaction
    takes the write lock exactly where it did (nothing runs between them). A transaction
    that ran no statement has nothing to commit or roll back.

    A holder that knows which statement is its transaction's last (``GroupCommit``)
    asks for COMMIT in that statement's hop too (``commit_with_next_statement``): a
    transaction of one statement is then one hop instead of three.

    The flags are set and read by one user at a time: the pool hands the connection to
    one holder, whose every hop is awaited before the next call.
    """

    begin_pending = False
    # Set by ``commit_with_next_statement``: COMMIT right after the next statement.
    commit_with_next = False
    committed_early = False

    def cursor(self) -> Any:
        return _FusedCursor(self)

    async def commit(self) -> None:
        self.commit_with_next = False
        if self.committed_early:  # COMMIT ran with the last statement
            self.committed_early = False
            return
        if self.begin_pending:  # no statement ran: no transaction was opened
            self.begin_pending = False
            return
        await super().commit()

    async def rollback(self) -> None:
        # SQLAlchemy rolls back on every return to the pool; outside a transaction (reads
        # run without BEGIN) sqlite3's rollback does nothing, so skip the round trip.
        # Reading the flag from this thread is safe: the pool hands the connection to one
        # user at a time, so no statement is running on the worker thread now.
        self.begin_pending = self.commit_with_next = self.committed_early = False
        if self._connection is not None and not self._connection.in_transaction:
            return
        await super().rollback()


def commit_with_next_statement(conn: AsyncConnection) -> None:
    """On SQLite, COMMIT the transaction of ``conn`` (begun with ``engine.begin()``)
    right after the next statement, in the same hop to the worker thread; the commit at
    the end of the ``begin()`` block then has nothing left to do. The caller must run no
    other statement after that one. Elsewhere, nothing changes."""
    driver = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
    if isinstance(driver, _FusedConnection):
        driver.commit_with_next = True


def _sqlite_creator(url: str) -> Callable[[], Any]:
    """``async_creator`` for the engine: aiosqlite.connect() with _FusedConnection."""
    args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))

    async def connect() -> _FusedConnection:
        connection = _FusedConnection(partial(sqlite3.connect, *args, **kwargs), 64)
        thread = connection if isinstance(connection, Thread) else connection._thread
        thread.daemon = True  # as SQLAlchemy does for aiosqlite
        await connection  # starts the worker thread and opens the file
        return connection

    return connect


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
        # Deleted rows (an erased person's name and phone) are overwritten, not left in
        # free pages of the file.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if not conn.get_execution_options().get("sqlite_read_only"):
            # BEGIN IMMEDIATE runs with the first statement (_FusedConnection).
            driver = conn.connection.driver_connection
            if isinstance(driver, _FusedConnection):
                driver.begin_pending = True
            else:  # pragma: no cover - every engine here connects through _sqlite_creator
                conn.exec_driver_sql("BEGIN IMMEDIATE")


class MigrationError(RuntimeError):
    """A migration would leave the database inconsistent; nothing was changed."""


def _private_sqlite_file(database: str) -> None:
    """Create the SQLite file's folder (0700) and the file itself (0600) before SQLite
    does, so neither is ever world-readable; SQLite gives its -wal and -shm files the
    database file's permissions. Existing files are tightened too."""
    path = Path(database)
    parent = path.parent
    if not parent.exists():
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


_WRITE_RE = re.compile(
    r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE
)


class ChangeTracker:
    """Counts, per table, the transactions of this process that wrote to it.

    In-process caches (the catalogue snapshot, the user cache) compare a generation
    before and after: any INSERT, UPDATE or DELETE on a table they watch, from any
    repository, makes them reload — nothing has to remember to invalidate them. The
    count moves when the connection goes back to the pool, i.e. after the COMMIT, so a
    reader never tags data read before the commit with the new generation.
    """

    def __init__(self) -> None:
        self._generations: dict[str, int] = {}

    def generation(self, tables: Iterable[str]) -> int:
        return sum(self._generations.get(t, 0) for t in tables)

    def bump(self, tables: Iterable[str]) -> None:
        for t in tables:
            self._generations[t] = self._generations.get(t, 0) + 1

    def attach(self, engine: AsyncEngine) -> None:
        @event.listens_for(engine.sync_engine, "after_cursor_execute")
        def _after(conn: Connection, _c: Any, statement: str, *_args: Any) -> None:
            match = _WRITE_RE.match(statement)
            if match is not None:
                conn.info.setdefault("written_tables", set()).add(match.group(1).lower())

        @event.listens_for(engine.sync_engine.pool, "checkin")
        def _checkin(_dbapi: Any, record: Any) -> None:
            if record is not None and record.info:
                written = record.info.pop("written_tables", None)
                if written:
                    self.bump(written)


# A deferred write: a statement and its bound parameters (None: none). A statement
# built once and run with parameters costs less than one built per call.
Write = tuple[Executable, Mapping[str, Any] | None]


class _Pending(dict[Hashable, Write]):
    """The writes a unit of work has collected; ``closed`` once it ended (a task started
    inside it and still running later copied the context: it writes at once then)."""

    closed = False


class GroupCommit:
    """The collected writes of concurrent updates, committed together.

    ``Database.flush`` hands an update's writes here and waits until they are committed.
    While a commit runs, the writes of other updates gather; the next commit takes them
    all in one transaction (on SQLite, one BEGIN IMMEDIATE … COMMIT and one turn on the
    write connection for many updates, instead of one each). Nothing waits for a batch to
    fill: with no commit running, a flush starts one at once. If a batch fails, each
    update's writes are retried in a transaction of their own, so one bad write fails
    only its own update.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._batch: list[tuple[list[Write], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.commits = 0  # transactions run (for tests and the benchmark)

    async def commit(self, writes: list[Write]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._batch.append((writes, future))
        if self._task is None:
            # A context of its own: the committer must not see any update's unit of work.
            self._task = asyncio.get_running_loop().create_task(self._drain(), context=Context())
        await future

    async def _drain(self) -> None:
        batch: list[tuple[list[Write], asyncio.Future[None]]] = []
        try:
            while self._batch:
                batch, self._batch = self._batch, []
                await self._commit(batch)
        except BaseException as exc:
            # Cancelled (the loop is closing): nobody may wait for a commit forever.
            for _writes, future in [*batch, *self._batch]:
                _settle(future, exc)
            self._batch = []
            raise
        finally:
            self._task = None

    async def _commit(self, batch: list[tuple[list[Write], asyncio.Future[None]]]) -> None:
        try:
            await self._run([write for writes, _ in batch for write in writes])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            for writes, future in batch:
                try:
                    await self._run(writes)
                except Exception as own:
                    _settle(future, own)
                else:
                    _settle(future, None)
            return
        for _writes, future in batch:
            _settle(future, None)

    async def _run(self, writes: list[Write]) -> None:
        self.commits += 1
        async with self.db.engine.begin() as conn:
            last = len(writes) - 1
            for i, (statement, params) in enumerate(writes):
                if i == last:
                    commit_with_next_statement(conn)
                await conn.execute(statement, params)


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():  # the update waiting for it was cancelled
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)


# Writes deferred to the end of the update being handled (see Database.unit_of_work).
_DEFERRED: ContextVar[_Pending | None] = ContextVar("db_deferred", default=None)


class Database:
    """Owns the engine and hands out short transactions."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            database = parsed.database
            if database and database != ":memory:":
                _private_sqlite_file(database)
            # One connection per process: SQLite has one writer anyway, and a single
            # connection means no in-process lock contention at all.
            self.engine = create_async_engine(
                url,
                echo=echo,
                poolclass=AsyncAdaptedQueuePool,
                pool_size=1,
                max_overflow=0,
                pool_timeout=60,
                async_creator=_sqlite_creator(url),
                # Bound parameters (names, phones) never reach an error message or a log.
                hide_parameters=True,
            )
            _sqlite_setup(self.engine)
        else:
            self.engine = create_async_engine(
                url,
                echo=echo,
                pool_size=10,
                max_overflow=10,
                pool_pre_ping=True,
                hide_parameters=True,
            )
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads on SQLite skip BEGIN IMMEDIATE (see read()). On a SQLite file they also
        # have connections of their own (WAL: readers never wait for the writer, and a
        # read never queues behind a write transaction for the one write connection).
        self._reader: AsyncEngine | None = None
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            self._reader = create_async_engine(
                url,
                echo=echo,
                poolclass=AsyncAdaptedQueuePool,
                pool_size=READ_CONNECTIONS,
                max_overflow=0,
                pool_timeout=60,
                async_creator=_sqlite_creator(url),
                hide_parameters=True,
            )
            _sqlite_setup(self._reader)
            self._read_engine = self._reader.execution_options(sqlite_read_only=True)
        elif self.is_sqlite:
            self._read_engine = self.engine.execution_options(sqlite_read_only=True)
        else:
            self._read_engine = self.engine
        self._read_sessions = async_sessionmaker(self._read_engine, expire_on_commit=False)
        self.changes = ChangeTracker()
        self.changes.attach(self.engine)
        self.group_commit = GroupCommit(self)

    def insert(self, table: Table) -> Any:
        """The dialect's INSERT for ``table`` (SQLite or PostgreSQL), which has
        ``on_conflict_do_nothing`` / ``on_conflict_do_update``; both take the same
        arguments, so repositories write one upsert for both databases."""
        return (sqlite if self.is_sqlite else postgresql).insert(table)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction, committed on success, rolled back on error.

        Inside a unit of work, the writes collected so far run first in the same
        transaction (one write, not two); if it rolls back, they wait for the next."""
        taken = self._take_pending()
        try:
            async with self._sessions() as session, session.begin():
                for statement, params in taken.values():
                    await session.execute(statement, params)
                yield session
        except BaseException:
            self._restore_pending(taken)
            raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only.

        On SQLite it runs without BEGIN/COMMIT (each statement is its own snapshot), which
        halves the thread hops of a read through aiosqlite; on PostgreSQL it is an ordinary
        transaction that is rolled back.
        """
        async with self._read_sessions() as session:
            yield session

    @asynccontextmanager
    async def read_core(self) -> AsyncIterator[AsyncConnection]:
        """Like read(), but a Core connection: for the hot paths (the user lookup on every
        update, form state, the catalogue), where an ORM session and identity map cost
        more than the query. Select table columns and build DTOs from the rows."""
        async with self._read_engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def transaction_core(self) -> AsyncIterator[AsyncConnection]:
        """Like transaction() (BEGIN IMMEDIATE on SQLite, the unit of work's collected
        writes first), with a Core connection."""
        taken = self._take_pending()
        try:
            async with self.engine.begin() as conn:
                for statement, params in taken.values():
                    await conn.execute(statement, params)
                yield conn
        except BaseException:
            self._restore_pending(taken)
            raise

    def _take_pending(self) -> dict[Hashable, Write]:
        pending = _DEFERRED.get()
        if not pending:  # None or empty
            return {}
        taken = dict(pending)
        pending.clear()
        return taken

    def _restore_pending(self, taken: dict[Hashable, Write]) -> None:
        """Put back writes whose transaction failed, before anything deferred since
        (a newer write with the same key wins)."""
        pending = _DEFERRED.get()
        if pending is None or not taken:
            return
        newer = dict(pending)
        pending.clear()
        pending.update({k: v for k, v in taken.items() if k not in newer})
        pending.update(newer)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[None]:
        """Collect the writes ``defer()``-ed inside and run them together, in one
        transaction, at the next ``flush()`` or at the end (a middleware wraps each
        update in it under long polling, and the bot flushes before every Bot API
        request: what the user is shown is already saved, and the form state, funnel
        event and consent of one step are one write, not three).

        Only writes nobody reads back from the database in the same update are deferred
        (the form state, read from the storage's cache; funnel events; the cached user's
        language and consent). The writes run even if the handler failed.
        """
        current = _DEFERRED.get()
        if current is not None and not current.closed:
            yield
            return
        pending = _Pending()
        token = _DEFERRED.set(pending)
        try:
            yield
        finally:
            try:
                await self._run(pending)
            finally:
                pending.closed = True
                _DEFERRED.reset(token)

    async def flush(self) -> None:
        """Write what the current unit of work has collected so far (if anything)."""
        pending = _DEFERRED.get()
        if pending:
            await self._run(pending)

    async def _run(self, pending: _Pending) -> None:
        """Commit what ``pending`` holds, with the writes other updates flush meanwhile
        (``GroupCommit``); if that fails, the writes stay pending (and the error is
        raised), as a transaction of the update's own would leave them."""
        if not pending:
            return
        taken = dict(pending)
        pending.clear()
        try:
            await self.group_commit.commit(list(taken.values()))
        except asyncio.CancelledError:
            raise  # the commit goes on without us: putting the writes back would repeat them
        except BaseException:
            self._restore_pending(taken)
            raise

    def deferring(self) -> bool:
        """True inside an open unit of work (``defer`` would collect a write)."""
        pending = _DEFERRED.get()
        return pending is not None and not pending.closed

    def is_deferred(self, key: Hashable) -> bool:
        """True if the current unit of work holds an unwritten write under ``key``."""
        pending = _DEFERRED.get()
        return pending is not None and not pending.closed and key in pending

    def defer(
        self,
        statement: Executable,
        key: Hashable | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> bool:
        """Run ``statement`` (with ``params``) at the end of the current unit of work;
        False if there is none (then the caller writes now). A later statement with the
        same ``key`` replaces an earlier one (the last form state of a chat is the one
        written)."""
        pending = _DEFERRED.get()
        if pending is None or pending.closed:
            return False
        if key is None:
            key = object()
        pending.pop(key, None)
        pending[key] = (statement, params)
        return True

    async def write(
        self,
        statement: Executable,
        key: Hashable | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        """``statement`` in the current unit of work, or now in a transaction of its own."""
        if not self.defer(statement, key, params):
            async with self.transaction_core() as conn:
                await conn.execute(statement, params)

    async def migrate(self, revision: str = "head") -> None:
        """Apply Alembic migrations up to ``revision`` (head by default)."""
        if self.is_sqlite and revision == "head" and await self._at_head():
            # Nothing to do: no write lock taken (another process may hold it a while).
            return
        await self._run_migrations(_upgrade, revision)

    async def _at_head(self) -> bool:
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        async with self._read_engine.connect() as conn:
            return bool(await conn.run_sync(_revision) == head)

    async def downgrade(self, revision: str) -> None:
        await self._run_migrations(_downgrade, revision)

    async def _run_migrations(self, step: Callable[[Connection, str], None], revision: str) -> None:
        if not self.is_sqlite:
            # PostgreSQL: schema changes are transactional and never rebuild a table.
            async with self.engine.begin() as conn:
                await conn.run_sync(step, revision)
            return
        async with self.engine.connect() as conn:
            await conn.run_sync(_sqlite_migrate, step, revision)

    async def dispose(self) -> None:
        if self._reader is not None:
            await self._reader.dispose()
        await self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _pragma(connection: Connection, sql: str) -> None:
    """Run a PRAGMA on the DBAPI connection itself, outside any transaction (SQLAlchemy
    would begin one first, and inside a transaction ``foreign_keys`` cannot change)."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def _revision(connection: Connection) -> str | None:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _sqlite_migrate(
    connection: Connection, step: Callable[[Connection, str], None], revision: str
) -> None:
    """Migrate SQLite with foreign keys off, checked before commit.

    A batch migration rebuilds a table (create a copy, drop the old one, rename); with
    foreign keys on, the DROP cascades into every table that references it (staff,
    applications, deliveries...). SQLite ignores ``PRAGMA foreign_keys`` inside a
    transaction, so it is switched off on the connection before BEGIN, and
    ``PRAGMA foreign_key_check`` runs before COMMIT: a migration that leaves a dangling
    reference is rolled back with an error naming the tables.
    """
    if connection.in_transaction():  # pragma: no cover - guarded by _run_migrations
        raise MigrationError("migrations must start outside a transaction")
    _pragma(connection, "PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            before = _revision(connection)
            step(connection, revision)
            if _revision(connection) != before:
                problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if problems:
                    pairs = sorted({f"{row[0]} -> {row[2]}" for row in problems})
                    raise MigrationError(
                        f"migration to {revision} would break {len(problems)} foreign "
                        f"key(s) ({', '.join(pairs)}); rolled back, nothing was changed"
                    )
    finally:
        _pragma(connection, "PRAGMA foreign_keys=ON")


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
