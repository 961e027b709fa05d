"""The nightly backup job, run by the process that runs the scheduler.

At ``BACKUP_TIME`` (UTC) every day it writes a backup into ``BACKUP_DIR`` (SQLite's
online backup API, or pg_dump) and keeps the newest ``BACKUP_KEEP``; then it plans the
next night. Off with ``BACKUP_KEEP=0``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.config import Settings
from bot.scheduler import Scheduler
from bot.services.backup import BackupError, nightly_backup

log = logging.getLogger(__name__)
KIND = "backup"


def next_backup_at(now: datetime, hour: int, minute: int) -> datetime:
    """The next ``hour:minute`` UTC strictly after ``now``."""
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


class NightlyBackup:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.scheduler: Scheduler | None = None
        self.last_file: str | None = None
        self.due_at = clock.now()

    def attach(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        scheduler.on(KIND, self.run)
        scheduler.add_catch_up(self.catch_up)
        self._plan()

    def _plan(self) -> None:
        if self.scheduler is not None:
            hour, minute = self.settings.backup_time
            self.due_at = next_backup_at(self.clock.now(), hour, minute)
            self.scheduler.schedule(KIND, 0, self.due_at)

    async def catch_up(self) -> None:
        """The clock jumped (the sandbox, tests): a night passed means a backup."""
        if self.scheduler is not None and self.clock.now() >= self.due_at:
            await self.run(0)

    async def run(self, _target: int) -> None:
        settings = self.settings
        try:
            path = await asyncio.to_thread(
                nightly_backup,
                settings.database_url,
                settings.backup_dir,
                settings.backup_keep,
                self.clock.now(),
            )
            self.last_file = str(path)
            log.info("nightly backup written to %s", path)
        except BackupError as exc:
            log.error("nightly backup failed: %s", exc)
        finally:
            self._plan()
