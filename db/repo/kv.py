from __future__ import annotations

from sqlalchemy import select

from db.database import Database
from db.models import KeyValue


class KeyValueRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, key: str) -> str | None:
        async with self.db.read() as s:
            return await s.scalar(select(KeyValue.value).where(KeyValue.key == key))

    async def set(self, key: str, value: str) -> None:
        async with self.db.transaction() as s:
            row = await s.get(KeyValue, key)
            if row is None:
                s.add(KeyValue(key=key, value=value))
            else:
                row.value = value
