"""aiogram FSM storage in the project's database, so a half-filled form survives a restart."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.database import Database
from db.models import FsmState, utcnow

_TABLE: Table = FsmState.__table__  # type: ignore[assignment]
log = logging.getLogger(__name__)
# Form-state rows the update being handled changed but has not written yet.
_UNSAVED: ContextVar[set[str] | None] = ContextVar("fsm_unsaved", default=None)


def storage_key(key: StorageKey) -> str:
    parts = [
        str(key.bot_id),
        str(key.chat_id),
        str(key.user_id),
        str(key.thread_id or ""),
        key.business_connection_id or "",
        key.destiny,
    ]
    return ":".join(parts)


def _state_name(state: StateType) -> str | None:
    if state is None:
        return None
    return state.state if isinstance(state, State) else str(state)


class SQLStorage(BaseStorage):
    """One row per (bot, chat, user, thread, destiny) in ``fsm_state``.

    With ``cache`` (long polling: this process is the only consumer of every chat's
    updates, and aiogram's event isolation serialises each chat) the rows are also kept in
    a bounded write-through cache, so the state lookup aiogram makes for every update —
    most of them from people not filling any form — costs no database round trip. Writes
    always go to the database first, so nothing is lost on a crash or restart; a write
    that would change nothing (``clear()`` of a chat with no form, the same state again)
    is skipped when the cache knows the row. Queries are Core statements on a Core
    connection: this runs several times per update.

    With the cache, inside ``Database.unit_of_work()`` (a middleware wraps every update
    in it) the changes one update makes — a handler typically sets the data and then the
    state, two writes — are written once, with the update's other deferred writes, when
    the handler is done (``unit_of_work`` below).
    """

    def __init__(self, db: Database, *, cache: bool = False, cache_size: int = 50_000) -> None:
        self.db = db
        self._cache: OrderedDict[str, tuple[str | None, dict[str, Any]]] | None = (
            OrderedDict() if cache else None
        )
        self._cache_size = cache_size
        self._upsert: Any = None
        # Built once and run with parameters: building a statement per write costs more
        # than running it.
        self._delete = delete(_TABLE).where(_TABLE.c.key == bindparam("k"))
        self._select = select(_TABLE.c.state, _TABLE.c.data).where(_TABLE.c.key == bindparam("k"))

    def _remember(self, key: str, state: str | None, data: Mapping[str, Any]) -> None:
        if self._cache is None:
            return
        self._cache[key] = (state, dict(data))
        self._cache.move_to_end(key)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _load(self, key: str) -> tuple[str | None, dict[str, Any]]:
        if self._cache is not None and key in self._cache:
            state, data = self._cache[key]
            return state, dict(data)
        async with self.db.read_core() as conn:
            state, data = await self._read(conn, key)
        self._remember(key, state, data)
        return state, data

    async def _write(
        self, conn: AsyncConnection, key: str, *, state: str | None, data: Mapping[str, Any]
    ) -> None:
        await conn.execute(*self._statement(key, state=state, data=data))

    def _statement(
        self, key: str, *, state: str | None, data: Mapping[str, Any]
    ) -> tuple[Any, dict[str, Any]]:
        """The write that stores (state, data) under ``key``, and its parameters."""
        if state is None and not data:
            return self._delete, {"k": key}
        if self._upsert is None:
            # Built once: ON CONFLICT with ``excluded`` costs more to build than to run.
            stmt = self.db.insert(_TABLE)
            self._upsert = stmt.on_conflict_do_update(
                index_elements=[_TABLE.c.key],
                set_={
                    "state": stmt.excluded.state,
                    "data": stmt.excluded.data,
                    "updated_at": stmt.excluded.updated_at,
                },
            )
        values = {"key": key, "state": state, "data": dict(data), "updated_at": utcnow()}
        return self._upsert, values

    async def _read(self, conn: AsyncConnection, key: str) -> tuple[str | None, dict[str, Any]]:
        row = (await conn.execute(self._select, {"k": key})).first()
        if row is None:
            return None, {}
        return row[0], dict(row[1] or {})

    async def _modify(
        self,
        key: StorageKey,
        change: Callable[[str | None, dict[str, Any]], tuple[str | None, dict[str, Any]]],
    ) -> tuple[str | None, dict[str, Any]]:
        k = storage_key(key)
        if self._cache is not None:
            # The cache is authoritative here (this process alone writes these rows).
            old_state, old_data = await self._load(k)
            state, data = change(old_state, dict(old_data))
            if (state, data) == (old_state, old_data):
                return state, data
            statement, params = self._statement(k, state=state, data=data)
            if self.db.defer(statement, key=("fsm", k), params=params):
                # Written at the end of the update (Database.unit_of_work); if that
                # fails, the cache must not claim what the database does not have.
                self._remember(k, state, data)
                unsaved = _UNSAVED.get()
                if unsaved is not None:
                    unsaved.add(k)
                return state, data
            async with self.db.transaction_core() as conn:
                await conn.execute(statement, params)
            self._remember(k, state, data)
            return state, data
        async with self.db.transaction_core() as conn:
            state, data = await self._read(conn, k)
            state, data = change(state, data)
            await self._write(conn, k, state=state, data=data)
        return state, data

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._modify(key, lambda _, data: (_state_name(state), data))

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._load(storage_key(key)))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._modify(key, lambda state, _: (state, dict(data)))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return (await self._load(storage_key(key)))[1]

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        def merge(state: str | None, current: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
            current.update(data)
            return state, current

        return dict((await self._modify(key, merge))[1])

    def evict(self, keys: list[str]) -> None:
        """Drop cached rows by key (after they were deleted directly in the DB)."""
        if self._cache is not None:
            for k in keys:
                self._cache.pop(k, None)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[None]:
        """The update's unit of work (``Database.unit_of_work``); if its write fails, the
        rows it would have written leave the cache, so the next update reads what the
        database has."""
        if self._cache is None:
            yield
            return
        unsaved: set[str] = set()
        token = _UNSAVED.set(unsaved)
        try:
            async with self.db.unit_of_work():
                yield
        except BaseException:
            for key in unsaved:
                self._cache.pop(key, None)
            if unsaved:
                log.error("form state of an update not saved (%d row(s))", len(unsaved))
            raise
        finally:
            _UNSAVED.reset(token)

    def forget(self, chat_id: int) -> None:
        """Drop cached rows of a chat (after its rows were deleted directly in the DB)."""
        if self._cache is not None:
            for k in [k for k in self._cache if k.split(":")[1] == str(chat_id)]:
                del self._cache[k]

    async def close(self) -> None:
        """The Database is owned and closed by the application."""


async def delete_forms_before(db: Database, cutoff: datetime) -> list[str]:
    """Delete the form state untouched since ``cutoff`` (a half-filled form keeps a name
    and a phone); returns the deleted keys."""
    async with db.transaction_core() as conn:
        deleted = await conn.execute(
            delete(_TABLE).where(_TABLE.c.updated_at < cutoff).returning(_TABLE.c.key)
        )
        return list(deleted.scalars())
