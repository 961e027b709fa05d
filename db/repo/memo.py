"""Small read-through memos for rows that change a few times a term."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from db.database import Database

V = TypeVar("V")


class TableMemo(Generic[V]):
    """Values read from ``tables``, kept while this process wrote none of them
    (``Database.changes``) and for at most ``ttl`` seconds (what another process writes,
    e.g. a catalogue import from the command line). Only where one process serves the
    updates (long polling), like the catalogue snapshot."""

    def __init__(
        self,
        db: Database,
        tables: tuple[str, ...],
        ttl: float,
        *,
        size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.tables = tables
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._values: dict[Hashable, tuple[float, V]] = {}
        self._generation = db.changes.generation(tables)

    async def get(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        generation = self.db.changes.generation(self.tables)
        if generation != self._generation:
            self._values.clear()
            self._generation = generation
        hit = self._values.get(key)
        if hit is not None and self.clock() - hit[0] < self.ttl:
            return hit[1]
        value = await load()
        # Not kept if the tables were written while it was read: it may be the old rows.
        if self.db.changes.generation(self.tables) == generation:
            if len(self._values) >= self.size:
                self._values.clear()
            self._values[key] = (self.clock(), value)
        return value
