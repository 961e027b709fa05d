"""Backups: a consistent copy while the bot writes, restored and compared table by table;
restore refused while a bot runs; the nightly job keeps N copies; the CLI commands."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.config import load_settings
from bot.maintenance import NightlyBackup, next_backup_at
from bot.scheduler import Scheduler
from bot.services.backup import BackupError, RunLock, backup, prune, restore
from db.database import Database
from db.dto import NewDelivery
from db.models import Base, User
from db.repo import Repos
from main import main
from sandbox.harness import BotHarness


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table of the bot's schema, every row, in a stable order."""
    con = sqlite3.connect(path)
    try:
        return {
            table: sorted(con.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
            for table in [*Base.metadata.tables, "alembic_version"]
        }
    finally:
        con.close()


async def test_backup_while_writing_restores_every_table(tmp_path: Path, template_db: Path) -> None:
    db_file = tmp_path / "bot.sqlite3"
    shutil.copy(template_db, db_file)
    url = f"sqlite+aiosqlite:///{db_file}"
    db = Database(url)
    repo = Repos.create(db)
    async with db.transaction() as s:
        s.add_all(User(id=i, locale="ru", first_name=f"U{i}") for i in range(100, 400))
    await repo.deliveries.enqueue(
        [
            NewDelivery("broadcast", f"b:{i}", i, {"type": "text", "key": "x"})
            for i in range(100, 400)
        ]
    )
    writing = True

    async def writer() -> int:
        n = 0
        while writing:  # the bot keeps writing while the copy is taken
            async with db.transaction() as s:
                s.add(User(id=10_000 + n, locale="kk"))
            n += 1
            await asyncio.sleep(0)
        return n

    task = asyncio.create_task(writer())
    await asyncio.sleep(0.05)
    copy = await asyncio.to_thread(backup, url, tmp_path / "copy.sqlite3")
    writing = False
    written = await task
    assert written > 0
    async with db.read() as s:
        users_now = len((await s.scalars(select(User.id))).all())
    await db.dispose()

    snapshot = dump(copy)
    # A consistent snapshot: some of the concurrent writes, all of the earlier rows.
    assert 300 < len(snapshot["users"]) <= users_now
    assert len(snapshot["deliveries"]) == 300
    assert snapshot["centres"] and snapshot["courses"]  # the catalogue came along
    assert copy.stat().st_mode & 0o777 == 0o600  # personal data: owner only

    # Later changes are lost by a restore; the restored database equals the backup.
    db = Database(url)
    async with db.transaction() as s:
        s.add(User(id=999_999, locale="en"))
    await db.dispose()
    kept = restore(url, copy)
    assert kept is not None and kept.exists()
    assert dump(db_file) == snapshot
    db = Database(url)
    await db.migrate()  # the restored file is a working database
    assert await Repos.create(db).catalogue.centres()
    await db.dispose()


async def test_restore_refused_while_the_bot_runs(tmp_path: Path, template_db: Path) -> None:
    async with BotHarness(tmp_path, template=template_db) as h:
        url = h.app.settings.database_url
        copy = backup(url, tmp_path / "copy.sqlite3")
        with pytest.raises(BackupError, match="running"):
            restore(url, copy)
    # Stopped: the same restore goes through.
    assert restore(url, copy) is not None
    (tmp_path / "junk").write_text("not a database")
    with pytest.raises(BackupError, match="not a SQLite backup"):
        restore(url, tmp_path / "junk")


def test_run_lock_is_shared_by_bot_processes(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3"
    first, second = RunLock(url), RunLock(url)
    first.acquire()
    second.acquire()  # two workers on one file both run
    first.release()
    second.release()


async def test_nightly_backup_keeps_n_copies(tmp_path: Path, template_db: Path) -> None:
    db_file = tmp_path / "bot.sqlite3"
    shutil.copy(template_db, db_file)
    settings = load_settings(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{db_file}",
            "BACKUP_DIR": str(tmp_path / "backups"),
            "BACKUP_KEEP": "3",
            "BACKUP_TIME": "02:30",
        }
    )
    assert next_backup_at(datetime(2026, 3, 1, 2, 30, tzinfo=UTC), 2, 30) == datetime(
        2026, 3, 2, 2, 30, tzinfo=UTC
    )
    clock = ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    scheduler = Scheduler(clock)
    await scheduler.start()
    job = NightlyBackup(settings, clock)
    job.attach(scheduler)
    [planned] = scheduler.jobs("backup")
    assert planned.run_at == datetime(2026, 3, 2, 2, 30, tzinfo=UTC)
    for _night in range(5):
        clock.advance(timedelta(days=1))
        await scheduler.time_moved()
    files = sorted(p.name for p in (tmp_path / "backups").iterdir())
    assert len(files) == 3  # five nights, three kept: the newest
    assert files[-1] == "bot-20260306-120000.sqlite3"
    assert dump(tmp_path / "backups" / files[0])["centres"] == dump(db_file)["centres"]
    await scheduler.stop()
    assert prune(tmp_path / "backups", 1) and len(list((tmp_path / "backups").iterdir())) == 1


async def _add_user(db: Database, user_id: int, name: str) -> None:
    async with db.transaction() as s:
        s.add(User(id=user_id, first_name=name, locale="kk"))
    await db.dispose()


def test_cli_backup_and_restore(
    tmp_path: Path,
    template_db: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_file = tmp_path / "bot.sqlite3"
    shutil.copy(template_db, db_file)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{db_file}")
    monkeypatch.setenv("BACKUP_DIR", str(tmp_path / "nightly"))
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    assert main(["backup", str(tmp_path / "b.sqlite3")]) == 0
    assert "Backup written to" in capsys.readouterr().out
    assert main(["backup"]) == 0  # default: BACKUP_DIR/bot-<time>.sqlite3
    assert len(list((tmp_path / "nightly").glob("bot-*.sqlite3"))) == 1
    assert main(["restore", str(tmp_path / "b.sqlite3")]) == 0
    assert "Restored" in capsys.readouterr().out
    assert main(["restore", str(tmp_path / "missing.sqlite3")]) == 1
    assert "no backup file" in capsys.readouterr().err
    # The coordinator finds their own id for ADMIN_IDS after sending /start.
    db = Database(f"sqlite+aiosqlite:///{db_file}")
    asyncio.run(_add_user(db, 777_000_111, "Айгүл"))
    assert main(["recent-users"]) == 0
    assert "777000111" in capsys.readouterr().out
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://bot@127.0.0.1:1/none")
    assert main(["restore", str(tmp_path / "b.sqlite3")]) == 1
    assert "pg_restore" in capsys.readouterr().err


@pytest.mark.postgres
async def test_postgres_backup_with_pg_dump(tmp_path: Path, pg_db: Database) -> None:
    async with pg_db.transaction() as s:
        s.add(User(id=4242, locale="kk"))
    dest = await asyncio.to_thread(backup, pg_db.url, tmp_path / "bot.pgdump")
    assert dest.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    listing = (
        await asyncio.to_thread(
            subprocess.run,
            ["pg_restore", "--list", str(dest)],
            capture_output=True,
            text=True,
            check=True,
        )
    ).stdout
    assert "TABLE DATA public users" in listing and "TABLE DATA public deliveries" in listing
