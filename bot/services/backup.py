"""Backups and restores of the bot's database.

* SQLite: ``backup`` copies the file through SQLite's online backup API, page by page
  under the database's own locks, so the copy is consistent while the bot keeps writing.
  ``restore`` refuses while any bot process has the database open: every ``BotProcess``
  holds a shared lock on ``<database>.running`` (``RunLock``) for as long as it runs, and
  restore needs the exclusive one.
* PostgreSQL: ``backup`` runs ``pg_dump --format=custom`` when it is installed (it makes a
  consistent snapshot while the bot runs); ``restore`` does not touch a server several
  workers share and says the ``pg_restore`` command to run with the bot stopped.

The nightly job (``nightly_backup``) writes ``bot-YYYYmmdd-HHMMSS.<ext>`` into
``BACKUP_DIR`` and keeps the newest ``BACKUP_KEEP``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

BACKUP_PREFIX = "bot-"


class BackupError(RuntimeError):
    """Why a backup or restore could not be made; one line for the coordinator."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where the database lives: a SQLite file, or a PostgreSQL URL for pg_dump."""

    sqlite_path: Path | None
    pg_url: str | None

    @property
    def extension(self) -> str:
        return "sqlite3" if self.sqlite_path is not None else "pgdump"


def target_of(database_url: str) -> Target:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise BackupError("an in-memory database cannot be backed up")
        return Target(Path(url.database), None)
    # pg_dump takes libpq URLs: no driver name, the password inside.
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return Target(None, plain)


def run_lock_path(sqlite_path: Path) -> Path:
    return sqlite_path.with_name(sqlite_path.name + ".running")


class RunLock:
    """A shared ``flock`` held by every running bot process on its SQLite database;
    ``restore`` takes it exclusively and so fails while any of them runs."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.path: Path | None = None
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            self.path = run_lock_path(Path(url.database))
        self._file: IO[bytes] | None = None

    def acquire(self) -> None:
        if self.path is None or self._file is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab")  # noqa: SIM115 - held until release()
        fcntl.flock(self._file, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


@contextlib.contextmanager
def _exclusive(sqlite_path: Path) -> Iterator[None]:
    path = run_lock_path(sqlite_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"the bot is running on {sqlite_path} (stop it first: restore never "
                "overwrites a running database)"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def default_backup_file(backup_dir: Path, target: Target, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return backup_dir / f"{BACKUP_PREFIX}{stamp}.{target.extension}"


def _sqlite_copy(source: Path, dest: Path) -> None:
    """SQLite's online backup API: a consistent snapshot while others write."""
    tmp = dest.with_name(dest.name + ".part")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst, pages=1024)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
    finally:
        src.close()
    os.chmod(tmp, 0o600)  # it holds personal data
    tmp.replace(dest)


def backup(database_url: str, dest: Path) -> Path:
    """Write a consistent copy of the database to ``dest``; returns it."""
    target = target_of(database_url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if target.sqlite_path is not None:
        if not target.sqlite_path.is_file():
            raise BackupError(f"no database at {target.sqlite_path}")
        _sqlite_copy(target.sqlite_path, dest)
        return dest
    assert target.pg_url is not None
    if shutil.which("pg_dump") is None:
        raise BackupError(
            "pg_dump is not installed: install the PostgreSQL client (e.g. 'apt install "
            "postgresql-client') or run 'pg_dump --format=custom --file FILE DATABASE' "
            "where it is (the compose file's db service has it)"
        )
    tmp = dest.with_name(dest.name + ".part")
    done = subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "--file", str(tmp), target.pg_url],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        # pg_dump's message names the database, never row data.
        raise BackupError(f"pg_dump failed: {done.stderr.strip().splitlines()[-1:]}")
    os.chmod(tmp, 0o600)
    tmp.replace(dest)
    return dest


def _check_backup(path: Path) -> None:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = con.execute("PRAGMA integrity_check").fetchone()
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite backup ({exc})") from None
    if ok is None or ok[0] != "ok" or "alembic_version" not in tables:
        raise BackupError(f"{path} is not a backup of this bot's database")


def restore(database_url: str, source: Path) -> Path | None:
    """Replace the SQLite database with the backup ``source``. The current file is kept
    beside it as ``<name>.before-restore-<time>`` (returned). Refuses while the bot runs."""
    target = target_of(database_url)
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    if target.sqlite_path is None:
        raise BackupError(
            "restoring PostgreSQL is done with the bot stopped (every worker): "
            f"pg_restore --clean --if-exists --no-owner --dbname DATABASE_URL {source} "
            "(DATABASE_URL without '+asyncpg')"
        )
    _check_backup(source)
    db_path = target.sqlite_path
    with _exclusive(db_path):
        kept: Path | None = None
        if db_path.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            kept = db_path.with_name(f"{db_path.name}.before-restore-{stamp}")
            _sqlite_copy(db_path, kept)
        for suffix in ("-wal", "-shm", "-journal"):
            db_path.with_name(db_path.name + suffix).unlink(missing_ok=True)
        _sqlite_copy(source, db_path)
        return kept


def prune(backup_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups the nightly job wrote; returns them."""
    found = sorted(p for p in backup_dir.glob(f"{BACKUP_PREFIX}*") if not p.name.endswith(".part"))
    old = found[: max(0, len(found) - keep)]
    for path in old:
        path.unlink(missing_ok=True)
    return old


def nightly_backup(database_url: str, backup_dir: Path, keep: int, now: datetime) -> Path:
    """One nightly backup, then the oldest beyond ``keep`` go."""
    target = target_of(database_url)
    dest = backup(database_url, default_backup_file(backup_dir, target, now))
    prune(backup_dir, keep)
    return dest
