"""Personal data kept only as long as needed: half-filled forms expire.

A form left untouched for ``FORM_STATE_TTL_DAYS`` (default 30) is deleted by a daily job
(``retention:0``), and once at start-up; Redis form state carries the same time-to-live
(``bot/factory.py``), so Redis drops it by itself. The same job forgets conversations
with staff closed more than ``SUPPORT_KEEP_DAYS`` ago (default 365).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from aiogram.fsm.storage.base import BaseStorage

from bot.clock import Clock
from bot.fsm_storage import SQLStorage, delete_forms_before
from bot.scheduler import Scheduler
from db.database import Database
from db.repo.conversations import ConversationRepo

log = logging.getLogger(__name__)
KIND = "retention"
EVERY = timedelta(days=1)


class FormExpiry:
    """Deletes form state older than ``ttl``: now, then every day."""

    def __init__(
        self,
        db: Database,
        storage: BaseStorage,
        ttl: timedelta,
        clock: Clock,
        scheduler: Scheduler,
        conversations_kept: timedelta | None = None,
    ) -> None:
        self.db = db
        self.storage = storage
        self.ttl = ttl
        self.clock = clock
        self.scheduler = scheduler
        self.conversations_kept = conversations_kept

    async def start(self) -> None:
        self.scheduler.on(KIND, self._job)
        # The purge is idempotent: it also runs whenever the clock jumps (a restart after
        # downtime, or a test's clock), not only when the daily job fires.
        self.scheduler.add_catch_up(self._catch_up)
        await self._job(0)

    async def _catch_up(self) -> None:
        await self.purge()

    def stop(self) -> None:
        self.scheduler.off(KIND)

    async def purge(self, now: datetime | None = None) -> int:
        cutoff = (now or self.clock.now()) - self.ttl
        keys = await delete_forms_before(self.db, cutoff)
        if isinstance(self.storage, SQLStorage):
            self.storage.evict(keys)
        if keys:
            log.info("deleted %d form(s) untouched since %s", len(keys), cutoff.date())
        if self.conversations_kept is not None:
            closed_before = (now or self.clock.now()) - self.conversations_kept
            forgotten = await ConversationRepo(self.db).delete_closed_before(closed_before)
            if forgotten:
                log.info(
                    "deleted %d conversation(s) closed before %s", forgotten, closed_before.date()
                )
        return len(keys)

    async def _job(self, _target: int) -> None:
        try:
            await self.purge()
        finally:
            self.scheduler.schedule(KIND, 0, self.clock.now() + EVERY)
