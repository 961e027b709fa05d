"""Reminders sent for real: two bot processes (a ReminderService and an Outbox each) over
one database send each reminder once; a trainee who blocked the bot is marked inactive
and skipped from then on. The fake Bot API counts what each chat received."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiogram import Bot
from sqlalchemy import select

from bot.config import Settings
from bot.factory import build_bot
from bot.i18n import Translator
from bot.outbox import Outbox
from bot.reminders.service import ReminderService
from bot.scheduler import Scheduler
from db.database import Database
from db.models import Delivery
from db.repo import Repos
from sandbox.telegram import FakeBotAPI
from tests.test_reminders import T0, World, build_world, settings

TOKEN = "123456789:TEST-reminders-token"
H = timedelta(hours=1)


@pytest.fixture
async def server() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as api:
        for uid, lang in ((101, "kk"), (102, "ru"), (106, "kk")):
            api.add_user(uid, first_name=f"U{uid}", language_code=lang)
        yield api


class Process:
    """What one bot process runs for reminders: its database pool, service and outbox."""

    def __init__(self, w: World, db: Database, server: FakeBotAPI, translator: Translator):
        self.db = db
        self.repo = Repos.create(db)
        self.bot: Bot = build_bot(Settings(bot_token=TOKEN, bot_api_url=server.api_base))
        self.outbox = Outbox(
            self.repo, translator, self.bot, clock=w.clock, per_chat_interval=0.0, rate=200
        )
        self.scheduler = Scheduler(w.clock)
        self.reminders = ReminderService(
            self.repo,
            translator,
            settings(),
            clock=w.clock,
            outbox=self.outbox,
            scheduler=self.scheduler,
        )

    async def start(self) -> None:
        await self.outbox.start()
        await self.scheduler.start()
        await self.reminders.start()

    async def stop(self) -> None:
        await self.reminders.stop()
        await self.scheduler.stop()
        await self.outbox.stop()
        await self.bot.session.close()


async def settled(db: Database, expected: int) -> dict[str, int]:
    """Wait until ``expected`` reminder rows exist and none is pending or claimed."""
    async with asyncio.timeout(10):
        while True:
            async with db.read() as s:
                statuses = list(await s.scalars(select(Delivery.status)))
            if len(statuses) >= expected and not {"pending", "claimed"} & set(statuses):
                return {x: statuses.count(x) for x in set(statuses)}
            await asyncio.sleep(0.02)


def reminders_seen(server: FakeBotAPI, user_id: int) -> list[str]:
    return [m.content for m in server.user(user_id).bot_messages()]


async def test_two_processes_send_each_reminder_once_and_skip_the_blocked(
    any_db: Database, server: FakeBotAPI
) -> None:
    translator = Translator()
    w = await build_world(any_db)
    server.user(102).block()
    second_db = Database(any_db.url)
    a = Process(w, any_db, server, translator)
    b = Process(w, second_db, server, translator)
    try:
        await asyncio.gather(a.start(), b.start())  # T0: the 24 h reminder is due
        assert await settled(any_db, 2) == {"sent": 1, "blocked": 1}
        kk = reminders_seen(server, 101)
        assert len(kk) == 1 and "Сабақ туралы еске салу" in kk[0] and "24 сағаттан" in kk[0]
        assert reminders_seen(server, 102) == []
        blocked = await a.repo.users.get(102)
        assert blocked is not None and not blocked.is_active  # the 403 marked them

        # The 1 h reminder: both processes' jobs fire at once; 102 is not even enqueued.
        w.clock.set(T0 + 23 * H)
        job = (f"reminder:{w.session_id}:60", T0 + 23 * H)
        assert job in [(j.id, j.run_at) for j in a.scheduler.jobs()]
        assert job in [(j.id, j.run_at) for j in b.scheduler.jobs()]
        await asyncio.gather(
            a.scheduler.time_moved(),
            b.scheduler.time_moved(),
            a.outbox.time_moved(),
            b.outbox.time_moved(),
        )
        assert await settled(any_db, 3) == {"sent": 2, "blocked": 1}
        kk = reminders_seen(server, 101)
        assert len(kk) == 2 and "1 сағаттан кейін" in kk[1]
        assert reminders_seen(server, 106) == []  # another group's trainee
        assert a.outbox.stats.sent + b.outbox.stats.sent == 2
    finally:
        await asyncio.gather(a.stop(), b.stop())
        await second_db.dispose()


async def test_a_job_fires_by_the_wall_clock(sqlite_db: Database) -> None:
    """With a real clock the scheduler runs for real: a class added to start in an hour
    and a few seconds gets its 1 h reminder job at that wall time, and when the job's
    time has come APScheduler fires it by itself (no catch-up runs). The test does not
    wait for those seconds: the clock (real time plus an offset, the sandbox's) moves on
    and the job is re-timed in the new frame, as on any clock jump, without the catch-up."""
    from datetime import UTC, datetime

    from bot.clock import OffsetClock

    w = await build_world(sqlite_db, starts_in=48 * H)
    clock = OffsetClock()
    scheduler = Scheduler(clock)
    assert scheduler.run_jobs  # only a ManualClock keeps APScheduler paused
    await scheduler.start()
    svc = ReminderService(w.repo, Translator(), settings(), clock=clock, scheduler=scheduler)
    await svc.start()
    try:
        starts = clock.now() + H + timedelta(seconds=30)
        session = await w.repo.schedule.add(w.group_id, starts, starts + H, "7", actor_id=1)
        await svc.session_changed(session.id)  # what the staff handler calls
        job = f"reminder:{session.id}:60"
        assert (job, starts - H) in [(j.id, j.run_at) for j in svc.jobs()]
        # APScheduler holds it at that wall time, about 30 s from now.
        fires_at = scheduler._aps.get_job(job).next_run_time
        assert timedelta(seconds=25) < fires_at - datetime.now(UTC) <= timedelta(seconds=30)
        wanted = {f"reminder:{session.id}:60:{u}" for u in (101, 102)}
        assert not wanted & set(await reminder_keys(sqlite_db))  # the 1 h one: not yet
        enqueued = asyncio.Event()
        w.repo.deliveries.add_listener(lambda _new: enqueued.set())
        clock.advance(timedelta(seconds=31))
        [planned] = [j for j in svc.jobs() if j.id == job]
        scheduler.schedule(planned.kind, planned.target_id, planned.run_at)
        async with asyncio.timeout(10):
            await enqueued.wait()  # the job's enqueue, fired by APScheduler
        assert wanted <= set(await reminder_keys(sqlite_db))
        assert job not in [j.id for j in svc.jobs()]  # it ran
    finally:
        await svc.stop()
        await scheduler.stop()


async def reminder_keys(db: Database) -> list[str]:
    async with db.read() as s:
        return list(await s.scalars(select(Delivery.dedupe_key).order_by(Delivery.id)))
