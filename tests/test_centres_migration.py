"""The centres migration on a database that holds data, on SQLite and PostgreSQL: no row
is lost, existing staff keep exactly their reach (admins stay programme admins, staff are
granted every centre as centre staff), the audit log learns its centres; down and up
again keeps every row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text

from db.database import Database, _downgrade, _upgrade
from tests.conftest import fresh_pg_database

T0 = datetime(2026, 11, 1, 9, 0)
NAME = '{"en": "x", "ru": "x"}'
BEFORE = "0001"  # the revision before centres existed

ROWS: list[tuple[str, dict[str, Any]]] = [
    (
        "INSERT INTO regions (id, code, country, kind, name, sort) VALUES"
        " (1, 'r', 'KZ', 'region', :n, 0)",
        {"n": NAME},
    ),
    (
        "INSERT INTO centres (id, code, region_id, name, city, address, latitude, longitude,"
        " timezone, sort) VALUES (1, 'a', 1, :n, :n, :n, 43.2, 76.9, 'Asia/Almaty', 0),"
        " (2, 'b', 1, :n, :n, :n, 42.9, 71.4, 'Asia/Almaty', 1)",
        {"n": NAME},
    ),
    (
        "INSERT INTO courses (id, code, centre_id, title, description, languages,"
        " duration_weeks, certificate, enrolment_open, free_of_charge, sort) VALUES"
        " (1, 'c1', 1, :n, :n, 'ru', 8, :n, :y, :y, 0),"
        " (2, 'c2', 2, :n, :n, 'ru', 8, :n, :y, :y, 0)",
        {"n": NAME, "y": True},
    ),
    (
        "INSERT INTO groups (id, code, course_id, name, capacity, seats_taken) VALUES"
        " (1, 'g1', 1, :n, 20, 1), (2, 'g2', 2, :n, 20, 0)",
        {"n": NAME},
    ),
    (
        "INSERT INTO class_sessions (id, group_id, starts_at, ends_at, cancelled, updated_at)"
        " VALUES (1, 2, :t, :t, :no, :t)",
        {"t": T0, "no": False},
    ),
    (
        "INSERT INTO users (id, is_active, reminders_enabled, created_at, updated_at) VALUES"
        " (10, :y, :y, :t, :t), (11, :y, :y, :t, :t), (12, :y, :y, :t, :t)",
        {"t": T0, "y": True},
    ),
    (
        "INSERT INTO staff (user_id, role, added_by, added_at) VALUES"
        " (10, 'admin', NULL, :t), (12, 'staff', 10, :t)",
        {"t": T0},
    ),
    (
        "INSERT INTO applications (id, user_id, course_id, group_id, full_name, phone,"
        " status, consent_at, created_at, updated_at) VALUES"
        " (1, 11, 1, 1, 'Ann A', '+77010000000', 'accepted', :t, :t, :t),"
        " (2, 11, 2, NULL, 'Ann A', '+77010000000', 'pending', :t, :t, :t)",
        {"t": T0},
    ),
    (
        "INSERT INTO audit_log (id, actor_id, action, target_type, target_id, at) VALUES"
        " (1, 10, 'application.accept', 'application', '1', :t),"
        " (2, 10, 'group.capacity', 'group', '2', :t),"
        " (3, 10, 'course.enrolment', 'course', '1', :t),"
        " (4, 10, 'session.move', 'session', '1', :t),"
        " (5, 10, 'staff.set_role', 'user', '12', :t),"
        " (6, 10, 'catalog.import', 'catalog', 'x.yaml', :t)",
        {"t": T0},
    ),
]
TABLES = (
    "regions",
    "centres",
    "courses",
    "groups",
    "class_sessions",
    "users",
    "staff",
    "applications",
    "audit_log",
)


async def _step(db: Database, step: Any, revision: str) -> None:
    if hasattr(db, "_run_migrations"):  # the FK-safe runner, where it exists
        await db._run_migrations(step, revision)
        return
    async with db.engine.begin() as conn:
        await conn.run_sync(step, revision)


async def _counts(db: Database) -> dict[str, int]:
    async with db.engine.connect() as conn:
        return {
            t: int((await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one())
            for t in TABLES
        }


async def _migrate_with_data(url: str) -> None:
    db = Database(url)
    try:
        await _step(db, _upgrade, BEFORE)
        async with db.engine.begin() as conn:
            for sql, params in ROWS:
                await conn.execute(text(sql), params)
        before = await _counts(db)

        await db.migrate()
        assert await _counts(db) == before
        async with db.engine.connect() as conn:
            grants = (
                await conn.execute(
                    text(
                        "SELECT user_id, centre_id, role FROM staff_centres"
                        " ORDER BY user_id, centre_id"
                    )
                )
            ).all()
            centres: dict[int, int | None] = dict(
                (await conn.execute(text("SELECT id, centre_id FROM audit_log ORDER BY id"))).all()
            )
            contacts = (await conn.execute(text("SELECT contacts FROM centres"))).scalars().all()
        # The admin needs no grant; the staff member keeps every centre, as centre staff.
        assert [tuple(g) for g in grants] == [(12, 1, "staff"), (12, 2, "staff")]
        assert centres == {1: 1, 2: 2, 3: 1, 4: 2, 5: None, 6: None}
        assert all(c in ({}, "{}") for c in contacts)

        # The per-update load sees the scope the migration gave.
        from db.repo import Repos

        repo = Repos.create(db)
        member = await repo.users.with_scope(12)
        assert member is not None and member.staff is not None
        assert member.staff.centres == frozenset({1, 2}) and not member.staff.is_admin
        admin = await repo.users.with_scope(10)
        assert admin is not None and admin.staff is not None and admin.staff.is_admin

        await _step(db, _downgrade, BEFORE)
        assert await _counts(db) == before
        await db.migrate()
        assert await _counts(db) == before
    finally:
        await db.dispose()


async def test_centres_migration_keeps_every_row_sqlite(sqlite_url: str) -> None:
    await _migrate_with_data(sqlite_url)


@pytest.mark.postgres
async def test_centres_migration_keeps_every_row_postgres() -> None:
    async with fresh_pg_database() as url:
        await _migrate_with_data(url)
