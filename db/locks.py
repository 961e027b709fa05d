"""Locks that several bot processes on one database take: start-up and leadership.

* ``startup_lock``: migrations, the bootstrap admins and the first catalogue run in one
  process at a time, so workers started together on a fresh database all come up
  (PostgreSQL: ``pg_advisory_lock`` on a connection of its own; SQLite: ``flock`` on a
  file beside the database).
* ``LeaderLock``: the one process that runs the scheduler (reminders, scheduled
  broadcasts, the nightly backup). PostgreSQL: a session advisory lock held on a
  connection kept open while the process runs, so the server frees it the moment the
  leader dies or its connection drops; SQLite: ``flock``, freed by the kernel likewise.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

STARTUP_KEY = 0x17C0_5701  # advisory lock ids of this bot (any fixed 64-bit numbers)
LEADER_KEY = 0x17C0_5702


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def libpq_url(url: str) -> str:
    """The DATABASE_URL as asyncpg and the PostgreSQL tools take it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_connect(url: str) -> Any:
    import asyncpg

    return await asyncpg.connect(libpq_url(url))


def _open_lock_file(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "ab")


@contextlib.asynccontextmanager
async def startup_lock(url: str) -> AsyncIterator[None]:
    """Held around migrations and seeding; waits for another process that holds it."""
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None:
        handle = _open_lock_file(sqlite_file.with_name(sqlite_file.name + ".startup"))
        try:
            await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
            yield
        finally:
            handle.close()  # closing frees the lock
        return
    if make_url(url).get_backend_name() != "postgresql":
        yield
        return
    conn = await _pg_connect(url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", STARTUP_KEY)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", STARTUP_KEY)
    finally:
        await conn.close()


class LeaderLock:
    """``await try_acquire()`` → True for the one process that holds it; ``release()``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._file: IO[bytes] | None = None
        self._conn: Any = None

    @property
    def held(self) -> bool:
        if self._conn is not None:
            return not self._conn.is_closed()
        return self._file is not None

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        sqlite_file = _sqlite_file(self.url)
        if sqlite_file is not None:
            handle = _open_lock_file(sqlite_file.with_name(sqlite_file.name + ".leader"))
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
            self._file = handle
            return True
        if make_url(self.url).get_backend_name() != "postgresql":
            return True
        conn = self._conn
        if conn is None or conn.is_closed():
            conn = self._conn = await _pg_connect(self.url)
        got = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_KEY))
        if not got:
            await conn.close()
            self._conn = None
        return got

    async def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None
