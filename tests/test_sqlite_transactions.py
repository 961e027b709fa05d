"""SQLite write transactions in as few hops to aiosqlite's worker thread as they can be
(``db/database.py``: ``_FusedConnection``, ``commit_with_next_statement``), without
giving up what a transaction is: the write lock from its first statement, all or
nothing, and a connection left clean for the next holder."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from db.database import Database, _FusedConnection, commit_with_next_statement


@contextmanager
def hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The name of every call the event loop hands to a SQLite worker thread."""
    seen: list[str] = []
    original = _FusedConnection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(_FusedConnection, "_execute", counted)
    yield seen


def db_file(db: Database) -> Path:
    database = db.engine.url.database
    assert database
    return Path(database)


def names(path: Path) -> list[str]:
    """Read by a connection of its own: only what was committed."""
    with sqlite3.connect(path) as other:
        return [row[0] for row in other.execute("SELECT name FROM kv_demo ORDER BY name")]


async def make_table(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE kv_demo (name TEXT PRIMARY KEY)"))


INSERT = text("INSERT INTO kv_demo (name) VALUES (:name)")


async def fails_before_any_statement(db: Database) -> None:
    async with db.engine.begin():
        raise RuntimeError("before any statement")


async def test_a_group_commit_of_one_write_is_one_hop(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BEGIN IMMEDIATE rides with the first statement and COMMIT with the last: one
    write is one hop instead of three, three writes are three hops instead of five."""
    await make_table(sqlite_db)
    with hops(monkeypatch) as seen:
        await sqlite_db.group_commit.commit([(INSERT, {"name": "a"})])
    assert seen == ["_run"]
    assert names(db_file(sqlite_db)) == ["a"]
    with hops(monkeypatch) as seen:
        await sqlite_db.group_commit.commit([(INSERT, {"name": n}) for n in "bcd"])
    assert seen == ["_run", "_run", "_run"]
    assert names(db_file(sqlite_db)) == ["a", "b", "c", "d"]


async def test_the_write_lock_is_held_from_the_first_statement(sqlite_db: Database) -> None:
    """Another writer (another process's connection) cannot begin once the transaction
    ran a statement, and can once it committed."""
    await make_table(sqlite_db)
    path = db_file(sqlite_db)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        async with sqlite_db.engine.begin() as conn:
            await conn.execute(INSERT, {"name": "a"})
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            assert names(path) == []  # not committed yet
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert names(path) == ["a"]


async def test_a_failing_last_statement_commits_nothing(sqlite_db: Database) -> None:
    """COMMIT asked to ride with the last statement does not run if that statement
    fails: the whole transaction rolls back, and the connection serves the next one."""
    await make_table(sqlite_db)

    async def transaction() -> None:
        async with sqlite_db.engine.begin() as conn:
            await conn.execute(INSERT, {"name": "a"})
            commit_with_next_statement(conn)
            await conn.execute(INSERT, {"name": "a"})  # the primary key is taken

    with pytest.raises(DBAPIError):
        await transaction()
    assert names(db_file(sqlite_db)) == []
    await sqlite_db.group_commit.commit([(INSERT, {"name": "b"})])
    assert names(db_file(sqlite_db)) == ["b"]


async def test_a_statement_after_the_early_commit_fails_loudly(sqlite_db: Database) -> None:
    """A caller that asked for COMMIT with a statement and then ran another would write
    outside its transaction: the second statement is refused."""
    await make_table(sqlite_db)

    async def transaction() -> None:
        async with sqlite_db.engine.begin() as conn:
            commit_with_next_statement(conn)
            await conn.execute(INSERT, {"name": "a"})
            await conn.execute(INSERT, {"name": "b"})

    with pytest.raises(DBAPIError, match="after the transaction's COMMIT"):
        await transaction()
    assert names(db_file(sqlite_db)) == ["a"]
    async with sqlite_db.engine.begin() as conn:  # the connection is clean again
        await conn.execute(INSERT, {"name": "c"})
    assert names(db_file(sqlite_db)) == ["a", "c"]


async def test_a_transaction_without_statements_costs_no_hop(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_table(sqlite_db)
    with hops(monkeypatch) as seen:
        async with sqlite_db.engine.begin():
            pass
        with pytest.raises(RuntimeError):
            await fails_before_any_statement(sqlite_db)
    assert seen == []
    # Nothing was left pending: the next holder starts clean.
    async with sqlite_db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert isinstance(raw, _FusedConnection)
        assert not (raw.begin_pending or raw.commit_with_next or raw.committed_early)
        assert raw._connection is not None and not raw._connection.in_transaction
