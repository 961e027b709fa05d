"""The stairway: upgrade to head, downgrade to base, upgrade again, on both databases."""

from __future__ import annotations

from sqlalchemy import inspect

from db.database import Database
from db.models import Base


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def _stairway(url: str) -> None:
    db = Database(url)
    try:
        await db.migrate()
        expected = set(Base.metadata.tables)
        assert expected <= await _tables(db)
        await db.downgrade("base")
        assert await _tables(db) <= {"alembic_version"}
        await db.migrate()
        assert expected <= await _tables(db)
    finally:
        await db.dispose()


async def test_stairway_sqlite(sqlite_url: str) -> None:
    await _stairway(sqlite_url)


async def test_stairway_postgres(pg_url: str) -> None:
    await _stairway(pg_url)


async def test_models_match_migrations(sqlite_url: str) -> None:
    """Autogenerate finds nothing to add: the migrations describe the models exactly."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    db = Database(sqlite_url)
    try:
        await db.migrate()
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
            )
        assert diff == []
    finally:
        await db.dispose()
