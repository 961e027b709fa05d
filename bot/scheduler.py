"""A thin wrapper over APScheduler's AsyncIOScheduler for jobs derived from the database.

The database is the source of truth (DESIGN rule 1): jobs live in memory
(``MemoryJobStore``) and are rebuilt from it at start-up by the services that own them.
Every job runs the module function ``run_job(scheduler_key, kind, target_id)`` — ids
only — under a fixed id ``{kind}:{target_id}`` (``broadcast:12``); the function hands
the id to the handler this process registered for the kind::

    scheduler.on("broadcast", broadcasts.fire)
    scheduler.schedule("broadcast", 12, at)      # job "broadcast:12"
    scheduler.jobs()                             # [ScheduledJob("broadcast:12", …)]

Times are in the frame of the injected clock. APScheduler runs on the wall clock, so a
job is set to fire after (at - clock.now()); on a clock jump (``time_moved``, the sandbox's
OffsetClock) every job is re-timed and the catch-up hooks run what fell due. With a
``ManualClock`` (tests) jobs never fire by the wall clock: only ``time_moved`` moves time.
Handlers must check that their target is really due (the frames can disagree by a few
milliseconds) and are idempotent, as they run again after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.clock import Clock, ManualClock, SystemClock

log = logging.getLogger(__name__)

JobHandler = Callable[[int], Awaitable[None]]
CatchUp = Callable[[], Awaitable[None]]
_SCHEDULERS: weakref.WeakValueDictionary[str, Scheduler] = weakref.WeakValueDictionary()


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    id: str
    kind: str
    target_id: int
    run_at: datetime  # in the clock's frame


def job_id(kind: str, target_id: int) -> str:
    return f"{kind}:{target_id}"


async def run_job(scheduler_key: str, kind: str, target_id: int) -> None:
    """The function every job runs: this process's handler for ``kind``, given the id."""
    scheduler = _SCHEDULERS.get(scheduler_key)
    if scheduler is None:
        return
    await scheduler.run(kind, target_id)


class Scheduler:
    """``start()``, ``on``/``off(kind)``, ``schedule``/``cancel``/``jobs``, ``stop()``."""

    def __init__(self, clock: Clock | None = None, *, run_jobs: bool | None = None) -> None:
        """``run_jobs`` None: jobs fire by the wall clock unless the clock is a ManualClock."""
        self.clock = clock or SystemClock()
        self.run_jobs = not isinstance(self.clock, ManualClock) if run_jobs is None else run_jobs
        self.key = uuid.uuid4().hex
        self._aps = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        self._handlers: dict[str, JobHandler] = {}
        self._jobs: dict[str, ScheduledJob] = {}
        self._catch_ups: list[CatchUp] = []

    # ---- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        _SCHEDULERS[self.key] = self
        self._aps.start(paused=not self.run_jobs)

    async def stop(self) -> None:
        _SCHEDULERS.pop(self.key, None)
        if self._aps.running:
            self._aps.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a loop callback
        self._jobs.clear()

    # ---- what runs --------------------------------------------------------------------

    def on(self, kind: str, handler: JobHandler) -> None:
        """Run ``handler(target_id)`` for the jobs of ``kind``."""
        self._handlers[kind] = handler

    def off(self, kind: str) -> None:
        """Forget the handler of ``kind`` and cancel its jobs (a service whose targets come
        and go, like one kind per class, keeps the registry from growing for ever)."""
        self._handlers.pop(kind, None)
        for job in [j for j in self._jobs.values() if j.kind == kind]:
            self.cancel(kind, job.target_id)

    def kinds(self) -> set[str]:
        """The kinds a handler is registered for."""
        return set(self._handlers)

    def add_catch_up(self, catch_up: CatchUp) -> None:
        """Called by ``time_moved`` (before the jobs are re-timed): run what is due now."""
        self._catch_ups.append(catch_up)

    async def run(self, kind: str, target_id: int) -> None:
        self._jobs.pop(job_id(kind, target_id), None)
        handler = self._handlers.get(kind)
        if handler is None:
            log.warning("scheduler: no handler for %s jobs", kind)
            return
        try:
            await handler(target_id)
        except Exception:
            log.exception("scheduler: job %s failed", job_id(kind, target_id))

    # ---- jobs -------------------------------------------------------------------------

    def schedule(self, kind: str, target_id: int, at: datetime) -> str:
        """Run the ``kind`` handler for ``target_id`` at ``at`` (clock frame); replaces a
        job with the same id. Returns the job id."""
        ident = job_id(kind, target_id)
        self._jobs[ident] = ScheduledJob(ident, kind, target_id, at)
        self._aps.add_job(
            run_job,
            "date",
            run_date=self._wall_time(at),
            args=(self.key, kind, target_id),
            id=ident,
            replace_existing=True,
        )
        return ident

    def cancel(self, kind: str, target_id: int) -> bool:
        ident = job_id(kind, target_id)
        self._jobs.pop(ident, None)
        try:
            self._aps.remove_job(ident)
        except JobLookupError:
            return False
        return True

    def jobs(self, kind: str | None = None) -> list[ScheduledJob]:
        """The jobs waiting, soonest first (tests assert on them)."""
        found = [j for j in self._jobs.values() if kind is None or j.kind == kind]
        return sorted(found, key=lambda j: (j.run_at, j.id))

    async def time_moved(self) -> None:
        """``BotProcess.tickers`` hook: the clock jumped. Run what fell due, then re-time
        the other jobs in the new frame."""
        for catch_up in list(self._catch_ups):
            try:
                await catch_up()
            except Exception:
                log.exception("scheduler: catch-up failed")
        for job in list(self._jobs.values()):
            self.schedule(job.kind, job.target_id, job.run_at)

    def _wall_time(self, at: datetime) -> datetime:
        # APScheduler's frame is the wall clock; this is the one place it is read.
        return datetime.now(UTC) + (at - self.clock.now())
