from __future__ import annotations

from typing import cast

from sqlalchemy import Table, select

from db.database import Database
from db.models import KeyValue


class KeyValueRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, key: str) -> str | None:
        async with self.db.read() as s:
            return await s.scalar(select(KeyValue.value).where(KeyValue.key == key))

    async def set(self, key: str, value: str) -> None:
        """One upsert statement."""
        table = cast(Table, KeyValue.__table__)
        stmt = self.db.insert(table).values(key=key, value=value)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key], set_={"value": stmt.excluded.value}
        )
        async with self.db.transaction_core() as conn:
            await conn.execute(stmt)
