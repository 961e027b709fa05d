"""Migrations keep every row: a database holding data in every table goes through the
batch migrations (SQLite rebuilds tables that others reference) up, down and up again,
on SQLite and PostgreSQL, and no table loses a row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import inspect, text

from db.database import Database, MigrationError

T0 = datetime(2026, 11, 1, 9, 0)
T1 = datetime(2026, 11, 2, 9, 0)
NAME = '{"en": "x", "ru": "x"}'

# One or more rows in every table of revision 0001, each referencing the others.
ROWS: list[tuple[str, dict[str, Any]]] = [
    (
        "INSERT INTO regions (id, code, country, kind, name, sort) "
        "VALUES (1, 'r', 'KZ', 'region', :name, 0)",
        {"name": NAME},
    ),
    (
        "INSERT INTO districts (id, code, region_id, name, sort) VALUES (1, 'd', 1, :name, 0)",
        {"name": NAME},
    ),
    (
        "INSERT INTO centres (id, code, region_id, name, city, address, latitude, longitude,"
        " timezone, sort) VALUES (1, 'c', 1, :name, :name, :name, 43.2, 76.9, 'Asia/Almaty', 0)",
        {"name": NAME},
    ),
    (
        "INSERT INTO courses (id, code, centre_id, title, description, languages,"
        " duration_weeks, certificate, enrolment_open, free_of_charge, sort)"
        " VALUES (1, 'py', 1, :name, :name, 'ru', 8, :name, :yes, :yes, 0)",
        {"name": NAME, "yes": True},
    ),
    (
        "INSERT INTO groups (id, code, course_id, name, capacity, seats_taken)"
        " VALUES (1, 'g', 1, :name, 20, 1)",
        {"name": NAME},
    ),
    (
        "INSERT INTO class_sessions (id, group_id, starts_at, ends_at, cancelled, updated_at)"
        " VALUES (1, 1, :t0, :t1, :no, :t0)",
        {"t0": T0, "t1": T1, "no": False},
    ),
    (
        "INSERT INTO users (id, username, is_active, reminders_enabled, created_at, updated_at)"
        " VALUES (10, 'ann', :yes, :yes, :t0, :t0), (11, 'ann', :yes, :yes, :t0, :t1),"
        " (12, NULL, :yes, :yes, :t0, :t0)",
        {"t0": T0, "t1": T1, "yes": True},
    ),
    (
        "INSERT INTO staff (user_id, role, added_by, added_at) VALUES (10, 'admin', NULL, :t0),"
        " (12, 'staff', 10, :t0)",
        {"t0": T0},
    ),
    (
        "INSERT INTO applications (id, user_id, course_id, group_id, full_name, phone,"
        " district_id, status, consent_at, created_at, updated_at)"
        " VALUES (1, 11, 1, 1, 'Ann A', '+77010000000', 1, 'accepted', :t0, :t0, :t0)",
        {"t0": T0},
    ),
    (
        "INSERT INTO funnel_events (id, user_id, kind, course_id, at)"
        " VALUES (1, 11, 'submitted', 1, :t0)",
        {"t0": T0},
    ),
    (
        "INSERT INTO broadcasts (id, author_id, source_chat_id, source_message_id, audience,"
        " status, created_at) VALUES (1, 10, 10, 5, :aud, 'scheduled', :t0)",
        {"aud": '{"kind": "all"}', "t0": T0},
    ),
    (
        "INSERT INTO deliveries (id, kind, dedupe_key, broadcast_id, session_id, user_id,"
        " payload, status, attempts, not_before, created_at) VALUES"
        " (1, 'broadcast', 'b:1:11', 1, NULL, 11, :p, 'pending', 0, :t0, :t0),"
        " (2, 'reminder', 'r:1:11', NULL, 1, 11, :p, 'sent', 1, :t0, :t0)",
        {"p": "{}", "t0": T0},
    ),
    (
        "INSERT INTO attendance (session_id, user_id, answer) VALUES (1, 11, 'yes')",
        {},
    ),
    (
        "INSERT INTO fsm_state (key, state, data, updated_at)"
        " VALUES ('1:11:11', 'SignUp:phone', :d, :t0)",
        {"d": "{}", "t0": T0},
    ),
    (
        "INSERT INTO audit_log (id, actor_id, action, target_type, target_id, at)"
        " VALUES (1, 10, 'application.accept', 'application', '1', :t0)",
        {"t0": T0},
    ),
    ("INSERT INTO kv (key, value) VALUES ('digest', '2026-11-01')", {}),
]


async def _counts(db: Database) -> dict[str, int]:
    async with db.engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        return {
            name: int((await conn.execute(text(f'SELECT count(*) FROM "{name}"'))).scalar_one())
            for name in sorted(names)
            if name != "alembic_version"
        }


async def _fill(db: Database) -> None:
    async with db.engine.begin() as conn:
        for sql, params in ROWS:
            await conn.execute(text(sql), params)


async def _with_data(url: str) -> None:
    db = Database(url)
    try:
        await db.migrate("0001")
        await _fill(db)
        before = await _counts(db)
        assert all(before.values()), f"every table holds data before migrating: {before}"

        await db.migrate()
        after = await _counts(db)
        # Tables added by later migrations start empty; none that existed lost a row.
        assert {name: after[name] for name in before} == before

        await db.downgrade("0001")
        assert await _counts(db) == before
        await db.migrate()
        assert {name: n for name, n in (await _counts(db)).items() if name in before} == before

        # 0006 (centre_reach): a widened centre, down to 0005 and up again; no other
        # table loses a row, and the reach is gone with its table (centres keep the
        # default: their applicants only).
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO centre_reach (centre_id, reach, set_by, set_at)"
                    " VALUES (1, 'region', 10, :t0)"
                ),
                {"t0": T0},
            )
        widened = await _counts(db)
        assert widened["centre_reach"] == 1
        await db.downgrade("0005_centres")
        down = await _counts(db)
        assert "centre_reach" not in down
        assert down == {k: n for k, n in widened.items() if k != "centre_reach"}
        await db.migrate()
        assert await _counts(db) == {**widened, "centre_reach": 0}

        async with db.engine.connect() as conn:
            owner = await conn.scalar(text("SELECT id FROM users WHERE username = 'ann'"))
            bootstrap: dict[int, object] = dict(
                (await conn.execute(text("SELECT user_id, bootstrap FROM staff"))).all()
            )
        assert owner == 11  # the newer sighting keeps the username
        assert {uid: bool(flag) for uid, flag in bootstrap.items()} == {10: True, 12: False}
    finally:
        await db.dispose()


async def test_migrations_keep_every_row_sqlite(sqlite_url: str) -> None:
    await _with_data(sqlite_url)


async def test_migrations_keep_every_row_postgres(pg_url: str) -> None:
    await _with_data(pg_url)


async def test_sqlite_migration_with_a_broken_reference_is_rolled_back(sqlite_url: str) -> None:
    """foreign_key_check runs before commit: a dangling reference stops the migration
    with an error naming the tables, and the database stays at its old revision."""
    db = Database(sqlite_url)
    try:
        await db.migrate("0001")
        await _fill(db)
        async with db.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            await raw.execute("PRAGMA foreign_keys=OFF")
            await raw.execute("DELETE FROM broadcasts")  # deliveries row 1 now dangles
            await raw.commit()
            await raw.execute("PRAGMA foreign_keys=ON")
        with pytest.raises(MigrationError, match=r"deliveries -> broadcasts"):
            await db.migrate()
        async with db.engine.connect() as conn:
            revision = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            columns = await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("broadcasts")}
            )
        assert revision == "0001"
        assert "content" not in columns
        # The connection is back to enforcing foreign keys.
        async with db.engine.connect() as conn:
            assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
    finally:
        await db.dispose()


async def test_sqlite_files_are_private_and_deletes_are_secure(tmp_path: Any) -> None:
    folder = tmp_path / "data"
    db = Database(f"sqlite+aiosqlite:///{folder}/bot.sqlite3")
    try:
        await db.migrate()
        assert folder.stat().st_mode & 0o777 == 0o700
        for path in folder.iterdir():  # the database, its -wal and -shm files
            assert path.stat().st_mode & 0o077 == 0, path
        async with db.engine.connect() as conn:
            assert await conn.scalar(text("PRAGMA secure_delete")) == 1
    finally:
        await db.dispose()
