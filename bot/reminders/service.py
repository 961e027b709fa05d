"""``ReminderService``: the reminder jobs, catch-up, rendering at send time and the
daily digest of one bot process.
"""

from __future__ import annotations

import asyncio
import logging
import time as monotonic_time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import InlineKeyboardMarkup

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.i18n import BoundTranslator, Translator
from bot.outbox import Rendered, register_renderer
from bot.reminders import hooks
from bot.reminders.planning import (
    DIGEST_AT,
    RENDER_CACHE_SECONDS,
    SWEEP_KIND,
    WAVES_PER_BATCH,
    PlannedJob,
    due_offset,
    next_digest_at,
    offsets_in_minutes,
    plan_reminder_jobs,
)
from bot.reminders.texts import answer_markup, digest_text, reminder_text, starts_in_text
from bot.scheduler import ScheduledJob, Scheduler
from bot.staff_chats import staff_chats_of
from bot.support.digest import unanswered_block
from bot.telegram_utils import split_text
from db.dto import NewDelivery, ReminderSessionDTO, UserDTO
from db.repo import Repos
from db.repo.deliveries import ENQUEUE_SLICE
from db.repo.reminders import reminder_key

if TYPE_CHECKING:
    from bot.outbox import Outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What rendering a class's reminders needs, as of ``expires`` minus a few seconds."""

    expires: float
    info: ReminderSessionDTO | None
    trainees: frozenset[int]
    answers: Mapping[int, str]
    # Rendered pieces shared by the wave: text by (locale, "starts in"), buttons by
    # (locale, answer). Formatting dates costs more than sending.
    texts: dict[tuple[str, str], str] = field(default_factory=dict)
    markups: dict[tuple[str, str | None], InlineKeyboardMarkup] = field(default_factory=dict)


class ReminderService:
    """Reminder jobs, catch-up, rendering and the digest of one bot process."""

    def __init__(
        self,
        repo: Repos,
        translator: Translator,
        settings: Settings,
        *,
        clock: Clock | None = None,
        bot: Bot | None = None,
        outbox: Outbox | None = None,
        scheduler: Scheduler | None = None,
        horizon: timedelta | None = timedelta(days=8),
        sweep_every: timedelta = timedelta(minutes=1),
        sync_every: int = 10,
    ) -> None:
        """``scheduler`` None (``SCHEDULER_ENABLED=false``): no jobs, no catch-up here.
        ``horizon``: only reminders due within it get jobs (None: every class ahead).
        The sweep runs the catch-up every ``sweep_every`` and re-derives the jobs every
        ``sync_every`` sweeps."""
        self.repo = repo
        self.translator = translator
        self.settings = settings
        self.clock = clock or SystemClock()
        self.bot = bot
        self.outbox = outbox
        self.scheduler = scheduler if settings.scheduler_enabled else None
        self.offsets = offsets_in_minutes(settings.reminder_offsets)
        self.horizon = horizon
        self.sweep_every = sweep_every
        self.sync_every = max(1, sync_every)
        self._sweeps = 0
        self._cache: dict[int, _Snapshot] = {}
        self._loading: dict[int, asyncio.Future[_Snapshot]] = {}
        self._digests_done: set[str] = set()
        self._handlers: dict[int, Callable[[int], Awaitable[None]]] = {}
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        """Whether this process runs the reminder jobs and the catch-up."""
        return self.scheduler is not None

    @property
    def max_offset(self) -> timedelta:
        return timedelta(minutes=self.offsets[0])

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Register the renderer; with a scheduler, derive the jobs from the database and
        catch up on what is due."""
        if self.outbox is not None:
            self.outbox.register_renderer("reminder", self.render)
        else:
            register_renderer("reminder", self.render)
        hooks.register(self)
        if self.scheduler is None:
            log.info("reminders: SCHEDULER_ENABLED is false, this process runs no jobs")
            return
        self.scheduler.on("digest", self._digest_job)
        self.scheduler.on(SWEEP_KIND, self._sweep_job)
        self.scheduler.add_catch_up(self.catch_up)
        started = monotonic_time.perf_counter()
        count = await self.rebuild()
        self.scheduler.schedule(SWEEP_KIND, 0, self.clock.now() + self.sweep_every)
        log.info(
            "reminders: %s jobs derived in %.2f s", count, monotonic_time.perf_counter() - started
        )
        await self.run_due()

    async def stop(self) -> None:
        """Forget this service and its per-class handlers (the process's scheduler, which
        holds the jobs, is stopped by its owner)."""
        hooks.unregister(self)
        if self.scheduler is not None:
            for session_id in list(self._handlers):
                self.scheduler.off(f"reminder:{session_id}")
        self._handlers.clear()

    # ---- the job list -----------------------------------------------------------------

    def jobs(self) -> list[ScheduledJob]:
        """This service's jobs, soonest first (run times in the injected clock's frame)."""
        if self.scheduler is None:
            return []
        return [
            j
            for j in self.scheduler.jobs()
            if j.kind in ("digest", SWEEP_KIND) or j.kind.startswith("reminder:")
        ]

    def _schedule(self, job: PlannedJob) -> None:
        """Job ``reminder:{session_id}:{offset}``: the scheduler's kind is
        ``reminder:{session_id}`` and its target the offset, so the job id is the one the
        design names; the kind's handler knows its class."""
        assert self.scheduler is not None
        kind = f"reminder:{job.session_id}"
        handler = self._handlers.get(job.session_id)
        if handler is None:
            handler = self._handlers[job.session_id] = _Fire(self, job.session_id)
            self.scheduler.on(kind, handler)
        self.scheduler.schedule(kind, job.offset_minutes, job.run_at)

    def _unschedule(self, session_id: int, offset_minutes: int) -> None:
        assert self.scheduler is not None
        self.scheduler.cancel(f"reminder:{session_id}", offset_minutes)

    def _forget_idle_handlers(self) -> None:
        """Unregister the handlers of classes with no reminder job left (all fired, moved
        out of the horizon or cancelled): one per class would otherwise pile up for a term."""
        assert self.scheduler is not None
        waiting = {j.kind for j in self.scheduler.jobs() if j.kind.startswith("reminder:")}
        for session_id in [sid for sid in self._handlers if f"reminder:{sid}" not in waiting]:
            self.scheduler.off(f"reminder:{session_id}")
            del self._handlers[session_id]

    async def rebuild(self) -> int:
        """Derive the jobs from the database again (a diff: unchanged jobs stay). Returns
        how many reminder jobs are scheduled."""
        if self.scheduler is None:
            return 0
        async with self._lock:
            now = self.clock.now()
            until = now + (self.horizon or timedelta(days=3650)) + self.max_offset
            sessions = await self.repo.reminders.sessions_starting(now, until)
            plan = plan_reminder_jobs(sessions, self.offsets, now, self.horizon)
            centres = await self.repo.reminders.centres()
            existing = {j.id: j for j in self.scheduler.jobs() if j.kind.startswith("reminder:")}
            wanted = {p.id: p for p in plan}
            for job_id in existing.keys() - wanted.keys():
                job = existing[job_id]
                self._unschedule(int(job.kind.split(":")[1]), job.target_id)
            for p in plan:
                old = existing.get(p.id)
                if old is None or old.run_at != p.run_at:
                    self._schedule(p)
            self._forget_idle_handlers()
            digests = {j.target_id for j in self.scheduler.jobs("digest")}
            for centre_id, tz in centres:
                if centre_id not in digests:
                    self.scheduler.schedule("digest", centre_id, next_digest_at(now, tz))
            return len(wanted)

    async def catch_up(self) -> None:
        """The scheduler's catch-up hook (a clock jump): what is due now, then the jobs
        re-derived (those whose instant passed are dropped: the catch-up sent them)."""
        await self.run_due()
        await self.rebuild()

    async def _sweep_job(self, _target: int) -> None:
        """Job ``reminder_sweep:0``: the catch-up once a minute (a missed job, a class
        changed by another process), the jobs re-derived every ``sync_every`` sweeps."""
        assert self.scheduler is not None
        self.scheduler.schedule(SWEEP_KIND, 0, self.clock.now() + self.sweep_every)
        self._sweeps += 1
        await self.run_due()
        if self._sweeps % self.sync_every == 0:
            self._cache.clear()
            await self.rebuild()

    async def _digest_job(self, centre_id: int) -> None:
        """Job ``digest:{centre_id}``: send, then the next day's job."""
        centre = await self.repo.catalogue.centre(centre_id)
        if centre is None or self.scheduler is None:
            return
        await self.send_digest(centre_id)
        self.scheduler.schedule(
            "digest", centre_id, next_digest_at(self.clock.now(), centre.timezone)
        )

    # ---- changes to classes --------------------------------------------------------------

    async def session_changed(self, session_id: int) -> None:
        """A class was added, moved or cancelled: its unsent reminders follow it, its
        jobs are replaced, and a reminder due now is enqueued."""
        self._cache.pop(session_id, None)
        info = await self.repo.reminders.session_info(session_id)
        live = info is not None and not info.session.cancelled
        if info is None or info.session.cancelled:
            skipped = await self.repo.reminders.skip_pending(session_id, "cancelled")
            if skipped:
                log.info("reminders: %s unsent reminders of class %s skipped", skipped, session_id)
        else:
            await self.repo.reminders.retime_pending(session_id, info.session.starts_at)
        if self.scheduler is None:
            return
        now = self.clock.now()
        async with self._lock:
            for offset in self.offsets:
                self._unschedule(session_id, offset)
            if info is not None and live:
                plan = plan_reminder_jobs(
                    [(session_id, info.session.starts_at)], self.offsets, now, self.horizon
                )
                for p in plan:
                    self._schedule(p)
            self._forget_idle_handlers()
        if info is not None and live:
            due = due_offset(info.session.starts_at, self.offsets, now)
            if due is not None:
                await self._enqueue([(session_id, due, info.session.starts_at)], now)

    async def catalog_changed(self) -> None:
        """Many classes may have changed (a catalogue or timetable import)."""
        self._cache.clear()
        await self.rebuild()
        await self.run_due()

    # ---- enqueueing ----------------------------------------------------------------------

    async def fire(self, session_id: int, offset_minutes: int) -> int:
        """The job of one reminder: enqueue it for every trainee who has no row for it
        yet, if it is the reminder due now. Returns how many rows were new."""
        if not self.enabled:
            return 0
        info = await self.repo.reminders.session_info(session_id)
        if info is None or info.session.cancelled:
            return 0
        now = self.clock.now()
        if due_offset(info.session.starts_at, self.offsets, now) != offset_minutes:
            return 0  # early (another clock), or late: a later reminder replaced it
        return await self._enqueue([(session_id, offset_minutes, info.session.starts_at)], now)

    async def run_due(self) -> int:
        """Catch-up: every reminder due now of a class not started yet, for every trainee
        without a row for it; then the digests due. Returns how many rows were new."""
        if not self.enabled:
            return 0
        now = self.clock.now()
        sessions = await self.repo.reminders.sessions_starting(now, now + self.max_offset)
        waves = []
        for session_id, starts_at in sessions:
            offset = due_offset(starts_at, self.offsets, now)
            if offset is not None:
                waves.append((session_id, offset, starts_at))
        new = await self._enqueue(waves, now)
        await self._digests_due(now)
        return new

    async def _enqueue(self, waves: Sequence[tuple[int, int, datetime]], now: datetime) -> int:
        """Rows for every trainee of ``waves`` without one yet. Streamed: the classes are
        taken a few at a time (one at first), each batch looked up and written in its own
        transaction, so the outbox is sending the first reminders of a big wave while the
        rest are still being written."""
        new = 0
        start, size = 0, 1
        while start < len(waves):
            batch = waves[start : start + size]
            start += size
            size = min(size * 4, WAVES_PER_BATCH)
            starts = {sid: starts_at for sid, _, starts_at in batch}
            missing = await self.repo.reminders.missing_recipients([(s, o) for s, o, _ in batch])
            rows = [
                NewDelivery(
                    kind="reminder",
                    dedupe_key=reminder_key(sid, offset, user_id),
                    user_id=user_id,
                    payload={"type": "reminder", "session_id": sid, "offset_minutes": offset},
                    session_id=sid,
                    not_before=now,
                    expires_at=starts[sid],
                )
                for (sid, offset), users in missing.items()
                for user_id in users
            ]
            for first in range(0, len(rows), ENQUEUE_SLICE):
                new += await self.repo.deliveries.enqueue(rows[first : first + ENQUEUE_SLICE])
        if new:
            log.info("reminders: %s enqueued (%s waves)", new, len(waves))
        return new

    # ---- rendering at send time ------------------------------------------------------------

    async def _snapshot(self, session_id: int) -> _Snapshot:
        """The class, its trainees and their answers, cached for a few seconds: a wave
        renders thousands of reminders of a few classes. Concurrent misses share one load."""
        now = monotonic_time.monotonic()
        hit = self._cache.get(session_id)
        if hit is not None and hit.expires > now:
            return hit
        loading = self._loading.get(session_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load_snapshot(session_id))
            self._loading[session_id] = loading
            loading.add_done_callback(lambda _: self._loading.pop(session_id, None))
        return await asyncio.shield(loading)

    async def _load_snapshot(self, session_id: int) -> _Snapshot:
        info = await self.repo.reminders.session_info(session_id)
        trainees: frozenset[int] = frozenset()
        answers: dict[int, str] = {}
        if info is not None:
            trainees = frozenset(await self.repo.reminders.trainee_ids(info.session.group_id))
            answers = await self.repo.attendance.answers(session_id)
        snapshot = _Snapshot(
            monotonic_time.monotonic() + RENDER_CACHE_SECONDS, info, trainees, answers
        )
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[session_id] = snapshot
        return snapshot

    def forget(self, session_id: int) -> None:
        """Drop the cached class (an answer given here shows on its next reminder)."""
        self._cache.pop(session_id, None)

    async def render(
        self, payload: Mapping[str, Any], user: UserDTO, t: BoundTranslator
    ) -> Rendered | None:
        """The reminder as this trainee sees it now, or None to skip them."""
        session_id = int(payload["session_id"])
        if not user.reminders_enabled:
            return None
        snapshot = await self._snapshot(session_id)
        info = snapshot.info
        now = self.clock.now()
        if (
            info is None
            or info.session.cancelled
            or info.session.starts_at <= now
            or user.id not in snapshot.trainees
        ):
            return None
        starts_in = starts_in_text(t, info.session.starts_at, now)
        text = snapshot.texts.get((t.locale, starts_in))
        if text is None:
            text = snapshot.texts[(t.locale, starts_in)] = reminder_text(t, info, now)
        chosen = snapshot.answers.get(user.id)
        markup = snapshot.markups.get((t.locale, chosen))
        if markup is None:
            markup = snapshot.markups[(t.locale, chosen)] = answer_markup(t, session_id, chosen)
        return Rendered(text=text, reply_markup=markup)

    # ---- the daily digest ------------------------------------------------------------------

    async def _digests_due(self, now: datetime) -> None:
        if self.bot is None:
            return
        for centre_id, tz in await self.repo.reminders.centres():
            local = now.astimezone(ZoneInfo(tz))
            if local.time() >= DIGEST_AT:
                await self.send_digest(centre_id, local.date())

    async def send_digest(self, centre_id: int, day: date | None = None) -> bool:
        """Post tomorrow's classes of a centre (as of ``day``, the centre's local date) to
        the centre's staff chat (else the programme-wide one), once per centre and day.
        True if this call sent it."""
        if not self.enabled or self.bot is None:
            return False
        chats = await staff_chats_of(self.repo, self.settings, centre_id)
        if not chats:
            return False
        chat_id = chats[0]
        centre = await self.repo.catalogue.centre(centre_id)
        if centre is None:
            return False
        zone = ZoneInfo(centre.timezone)
        day = day or self.clock.now().astimezone(zone).date()
        key = f"digest:{centre_id}:{day.isoformat()}"
        if key in self._digests_done:
            return False
        if not await self.repo.reminders.claim_marker(key, self.clock.now().isoformat()):
            self._digests_done.add(key)
            return False
        self._digests_done.add(key)
        tomorrow = day + timedelta(days=1)
        since = datetime.combine(tomorrow, time(0), tzinfo=zone).astimezone(UTC)
        until = datetime.combine(tomorrow + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        sessions = await self.repo.reminders.centre_sessions(centre_id, since, until)
        t = self.translator.bind(self.settings.default_locale)
        # Questions of citizens waiting for an answer for over a day (issue 12).
        waiting = await unanswered_block(t, self.repo, centre_id, self.clock.now())
        if not sessions and waiting is None:
            return False
        parts = []
        if sessions:
            counts = await self.repo.attendance.counts([s.session.id for s in sessions])
            parts.append(digest_text(t, centre.name, tomorrow, sessions, counts))
        if waiting is not None:
            parts.append(waiting)
        text = "\n\n".join(parts)
        try:
            for chunk in split_text(text):
                await self.bot.send_message(chat_id, chunk)
        except TelegramAPIError as exc:
            log.warning("digest of centre %s for %s not sent: %s", centre_id, tomorrow, exc)
            await self.repo.reminders.release_marker(key)
            self._digests_done.discard(key)
            return False
        return True


class _Fire:
    """The handler of the jobs ``reminder:{session_id}:*``: given the offset, fire."""

    __slots__ = ("service", "session_id")

    def __init__(self, service: ReminderService, session_id: int) -> None:
        self.service = service
        self.session_id = session_id

    async def __call__(self, offset_minutes: int) -> None:
        await self.service.fire(self.session_id, offset_minutes)
