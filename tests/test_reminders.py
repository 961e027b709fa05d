"""Class reminders with controlled time: the job plan, catch-up after downtime, moved and
cancelled classes, two scheduler instances over one database, the daily digest.

Time is a ManualClock: the scheduler stays paused and the tests call the job functions
and the catch-up at chosen instants, then look at the job list and the deliveries rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.clock import ManualClock
from bot.config import Settings
from bot.i18n import Translator
from bot.reminders.planning import due_offset, offsets_in_minutes, plan_reminder_jobs
from bot.reminders.service import ReminderService
from bot.reminders.texts import ReminderCB, starts_in_text
from bot.scheduler import ScheduledJob, Scheduler
from db.database import Database
from db.models import Application, Delivery, KeyValue, User
from db.repo import Repos
from tests.factories import make_catalogue, make_users

T0 = datetime(2030, 3, 4, 6, 0, tzinfo=UTC)  # 11:00 in Almaty
H = timedelta(hours=1)
STAFF_CHAT = -100_555


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator()


def settings(**changes: Any) -> Settings:
    return replace(Settings(bot_token=None, staff_chat_id=STAFF_CHAT), **changes)


async def enrol(db: Database, user_id: int, course_id: int, group_id: int, status: str) -> None:
    async with db.transaction() as s:
        s.add(
            Application(
                user_id=user_id,
                course_id=course_id,
                group_id=group_id,
                full_name=f"Trainee {user_id}",
                phone="+77000000000",
                status=status,
                consent_at=T0 - 30 * 24 * H,
            )
        )


@dataclass
class World:
    db: Database
    repo: Repos
    clock: ManualClock
    session_id: int
    group_id: int
    other_group_id: int
    course_id: int
    centre_id: int
    trainees: tuple[int, ...] = (101, 102)  # those who get reminders


async def build_world(db: Database, starts_in: timedelta = 24 * H) -> World:
    """A class ``starts_in`` from T0 for a group with two trainees who get reminders, one
    who turned them off, one who blocked the bot, one pending applicant; and a trainee of
    another group."""
    cat = await make_catalogue(db)
    repo = Repos.create(db)
    group, other = cat.group_ids
    await make_users(db, [101, 103, 104, 105, 106], locale="kk")
    await make_users(db, [102], locale="ru")
    for uid in (101, 102, 103, 104):
        await enrol(db, uid, cat.course_id, group, "accepted")
    await enrol(db, 105, cat.course_id, group, "pending")
    await enrol(db, 106, cat.course_id, other, "accepted")
    await repo.users.set_reminders(103, False)
    await repo.users.set_active(104, False)
    session = await repo.schedule.add(
        group, T0 + starts_in, T0 + starts_in + 2 * H, "101", actor_id=1
    )
    return World(db, repo, ManualClock(T0), session.id, group, other, cat.course_id, cat.centre_id)


class Service(ReminderService):
    """A ReminderService with a scheduler of its own (a bot process has one)."""

    async def start(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.start()
        await super().start()

    async def stop(self) -> None:
        await super().stop()
        if self.scheduler is not None:
            await self.scheduler.stop()


def service(w: World, translator: Translator, **kw: Any) -> Service:
    return Service(
        w.repo,
        translator,
        kw.pop("settings", settings()),
        clock=w.clock,
        scheduler=Scheduler(w.clock),
        **kw,
    )


async def reminder_rows(db: Database) -> list[tuple[str, int, str, datetime, datetime | None]]:
    async with db.read() as s:
        rows = await s.execute(
            select(
                Delivery.dedupe_key,
                Delivery.user_id,
                Delivery.status,
                Delivery.not_before,
                Delivery.expires_at,
            )
            .where(Delivery.kind == "reminder")
            .order_by(Delivery.id)
        )
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]


def keys(rows: list[tuple[str, int, str, datetime, datetime | None]]) -> list[str]:
    return sorted(r[0] for r in rows)


def reminder_jobs(svc: ReminderService) -> list[ScheduledJob]:
    return [j for j in svc.jobs() if j.id.startswith("reminder:")]


@pytest.fixture
async def world(any_db: Database) -> World:
    return await build_world(any_db)


@pytest.fixture
async def sqlite_world(sqlite_db: Database) -> World:
    return await build_world(sqlite_db)


@pytest.fixture
async def pair(sqlite_world: World, translator: Translator) -> AsyncIterator[tuple[World, Service]]:
    """A SQLite world and a service over it (not started)."""
    s = service(sqlite_world, translator)
    yield sqlite_world, s
    await s.stop()


# ---- pure logic ------------------------------------------------------------------------------


def test_offsets_due_offset_and_plan() -> None:
    offsets = offsets_in_minutes([H, 24 * H, H])
    assert offsets == (1440, 60)
    starts = T0 + 24 * H
    assert due_offset(starts, offsets, T0 - timedelta(seconds=1)) is None
    assert due_offset(starts, offsets, T0) == 1440
    assert due_offset(starts, offsets, starts - H - timedelta(seconds=1)) == 1440
    assert due_offset(starts, offsets, starts - H) == 60
    assert due_offset(starts, offsets, starts - timedelta(seconds=1)) == 60
    assert due_offset(starts, offsets, starts) is None  # the class has started: never
    plan = plan_reminder_jobs([(7, starts), (8, T0 + 30 * H)], offsets, T0)
    assert [(p.id, p.run_at) for p in plan] == [
        ("reminder:8:1440", T0 + 6 * H),
        ("reminder:7:60", starts - H),
        ("reminder:8:60", T0 + 29 * H),
    ]  # reminder:7:1440 is due now: the catch-up's, not a job
    assert [p.id for p in plan_reminder_jobs([(8, T0 + 30 * H)], offsets, T0, 10 * H)] == [
        "reminder:8:1440"
    ]
    with pytest.raises(ValueError, match="between one minute"):
        offsets_in_minutes([timedelta(seconds=30)])


def test_starts_in_text(translator: Translator) -> None:
    ru, kk, en = (translator.bind(x) for x in ("ru", "kk", "en"))
    assert starts_in_text(ru, T0 + 24 * H, T0) == "через 24 часа"
    assert starts_in_text(kk, T0 + H, T0) == "1 сағаттан кейін"
    assert starts_in_text(en, T0 + 45 * timedelta(minutes=1), T0) == "in 45 minutes"
    assert starts_in_text(ru, T0 + 21 * timedelta(minutes=1), T0) == "через 21 минуту"


# ---- a class 24 hours ahead --------------------------------------------------------------------


async def test_class_24h_ahead_gets_each_reminder_at_its_instant(
    world: World, translator: Translator
) -> None:
    svc = service(world, translator)
    await svc.start()
    try:
        sid = world.session_id
        starts = T0 + 24 * H
        # The 24 h reminder is due at start-up (its instant is now): the catch-up enqueued
        # it for the two trainees; reminders off, blocked, pending and other group: none.
        rows = await reminder_rows(world.db)
        assert keys(rows) == [f"reminder:{sid}:1440:101", f"reminder:{sid}:1440:102"]
        assert {(r[2], r[3], r[4]) for r in rows} == {("pending", T0, starts)}
        # The 1 h reminder is a job at its instant, in the clock's frame; digests per centre.
        assert [(j.id, j.run_at) for j in reminder_jobs(svc)] == [
            (f"reminder:{sid}:60", starts - H)
        ]
        ids = {j.id for j in svc.jobs()}
        assert "reminder_sweep:0" in ids
        assert any(j.startswith("digest:") for j in ids)

        # Nothing more until the next instant, however often the catch-up runs.
        world.clock.set(starts - H - timedelta(seconds=1))
        assert await svc.run_due() == 0
        assert await svc.fire(sid, 60) == 0  # a job early (another clock) does nothing
        world.clock.set(starts - H)
        assert await svc.fire(sid, 60) == 2
        assert await svc.fire(sid, 60) == 0
        assert await svc.run_due() == 0
        assert await svc.fire(sid, 1440) == 0  # late: the 1 h reminder replaced it
        rows = await reminder_rows(world.db)
        assert keys(rows)[:2] == [f"reminder:{sid}:1440:101", f"reminder:{sid}:1440:102"]
        assert keys(rows)[2:] == [f"reminder:{sid}:60:101", f"reminder:{sid}:60:102"]
        assert {r[3] for r in rows if ":60:" in r[0]} == {starts - H}

        # A trainee accepted after a reminder gets the one due now, not the missed one.
        await make_users(world.db, [107])
        await enrol(world.db, 107, world.course_id, world.group_id, "accepted")
        world.clock.advance(timedelta(minutes=10))
        assert await svc.run_due() == 1
        assert f"reminder:{sid}:60:107" in keys(await reminder_rows(world.db))
        # Once the class has started nothing is sent late.
        await make_users(world.db, [108])
        await enrol(world.db, 108, world.course_id, world.group_id, "accepted")
        world.clock.set(starts)
        assert await svc.run_due() == 0
        assert await svc.fire(sid, 60) == 0
    finally:
        await svc.stop()


async def test_restart_between_two_reminders(sqlite_world: World, translator: Translator) -> None:
    w, sid, starts = sqlite_world, sqlite_world.session_id, T0 + 24 * H
    first = service(w, translator)
    await first.start()  # the 24 h reminder goes out at T0
    await first.stop()
    # Down from T0 until half an hour before the class: the 1 h reminder was missed.
    w.clock.set(starts - H / 2)
    second = service(w, translator)
    await second.start()
    try:
        assert keys(await reminder_rows(w.db)) == [
            f"reminder:{sid}:1440:101",
            f"reminder:{sid}:1440:102",
            f"reminder:{sid}:60:101",
            f"reminder:{sid}:60:102",
        ]
        assert reminder_jobs(second) == []  # every instant of this class has passed
    finally:
        await second.stop()
    # A third start changes nothing: the keys exist.
    third = service(w, translator)
    await third.start()
    await third.stop()
    assert len(await reminder_rows(w.db)) == 4


async def test_downtime_over_both_instants_sends_only_the_latest(
    sqlite_db: Database, translator: Translator
) -> None:
    w = await build_world(sqlite_db, starts_in=48 * H)
    w.clock.set(T0 + 47 * H + timedelta(minutes=20))  # both instants passed while down
    svc = service(w, translator)
    await svc.start()
    await svc.stop()
    assert keys(await reminder_rows(w.db)) == [
        f"reminder:{w.session_id}:60:101",
        f"reminder:{w.session_id}:60:102",
    ]
    # Down across the start of the class: nothing is sent late.
    w2 = await build_world_again(w, starts_in=50 * H)
    w.clock.set(T0 + 50 * H + timedelta(minutes=1))
    svc = service(w, translator)
    await svc.start()
    await svc.stop()
    assert not [k for k in keys(await reminder_rows(w.db)) if k.startswith(f"reminder:{w2}:")]


async def build_world_again(w: World, starts_in: timedelta) -> int:
    """Another class of the same group; returns its id."""
    s = await w.repo.schedule.add(
        w.group_id, T0 + starts_in, T0 + starts_in + 2 * H, "102", actor_id=1
    )
    return s.id


# ---- schedule edits -----------------------------------------------------------------------------


async def test_class_moved_after_its_first_reminder(world: World, translator: Translator) -> None:
    svc = service(world, translator)
    await svc.start()
    try:
        sid = world.session_id
        assert len(await reminder_rows(world.db)) == 2  # the 24 h reminder, not sent yet
        world.clock.advance(2 * H)
        new_start = T0 + 72 * H
        await world.repo.schedule.move(sid, new_start, new_start + 2 * H, None, actor_id=1)
        await svc.session_changed(sid)
        # Its jobs follow the class; the 24 h job stays although its keys exist, so a
        # trainee accepted meanwhile still gets it; unsent rows expire at the new start.
        assert [(j.id, j.run_at) for j in reminder_jobs(svc)] == [
            (f"reminder:{sid}:1440", new_start - 24 * H),
            (f"reminder:{sid}:60", new_start - H),
        ]
        rows = await reminder_rows(world.db)
        assert {r[4] for r in rows} == {new_start}
        # The moved class's 24 h instant: nobody is reminded twice.
        world.clock.set(new_start - 24 * H)
        assert await svc.fire(sid, 1440) == 0
        world.clock.set(new_start - H)
        assert await svc.fire(sid, 60) == 2
        assert keys(await reminder_rows(world.db)) == sorted(
            f"reminder:{sid}:{m}:{u}" for m in (1440, 60) for u in (101, 102)
        )
    finally:
        await svc.stop()


async def test_class_moved_earlier_gets_the_reminder_due_now(
    sqlite_db: Database, translator: Translator
) -> None:
    w = await build_world(sqlite_db, starts_in=96 * H)
    svc = service(w, translator)
    await svc.start()
    try:
        sid = w.session_id
        assert await reminder_rows(w.db) == []
        assert [j.id for j in reminder_jobs(svc)] == [f"reminder:{sid}:1440", f"reminder:{sid}:60"]
        new_start = T0 + 5 * H
        await w.repo.schedule.move(sid, new_start, new_start + 2 * H, None, actor_id=1)
        await svc.session_changed(sid)
        rows = await reminder_rows(w.db)
        assert keys(rows) == [f"reminder:{sid}:1440:101", f"reminder:{sid}:1440:102"]
        assert {r[4] for r in rows} == {new_start}
        assert [(j.id, j.run_at) for j in reminder_jobs(svc)] == [
            (f"reminder:{sid}:60", new_start - H)
        ]
    finally:
        await svc.stop()


async def test_cancelled_class(world: World, translator: Translator) -> None:
    svc = service(world, translator)
    await svc.start()
    try:
        sid = world.session_id
        await world.repo.schedule.cancel(sid, actor_id=1)
        await svc.session_changed(sid)
        assert reminder_jobs(svc) == []
        assert {r[2] for r in await reminder_rows(world.db)} == {"skipped"}
        world.clock.set(T0 + 23 * H)
        assert await svc.fire(sid, 60) == 0
        assert await svc.run_due() == 0
        user = await world.repo.users.get(101)
        assert user is not None
        rendered = await svc.render(
            {"type": "reminder", "session_id": sid, "offset_minutes": 60},
            user,
            translator.bind("kk"),
        )
        assert rendered is None
    finally:
        await svc.stop()


async def test_catalogue_change_rebuilds_the_jobs(pair: tuple[World, Service]) -> None:
    w, svc = pair
    await svc.start()
    assert len(reminder_jobs(svc)) == 1
    # Another process (or an import) adds and cancels classes behind this one's back.
    later = await build_world_again(w, starts_in=30 * H)
    async with w.db.transaction() as s:
        await s.execute(update(Delivery).values(status="sent"))
    await w.repo.schedule.cancel(w.session_id, actor_id=1)
    await svc.catalog_changed()
    assert [(j.id, j.run_at) for j in reminder_jobs(svc)] == [
        (f"reminder:{later}:1440", T0 + 6 * H),
        (f"reminder:{later}:60", T0 + 29 * H),
    ]


# ---- rendering ------------------------------------------------------------------------------


async def test_render_in_the_trainee_language(
    pair: tuple[World, Service], translator: Translator
) -> None:
    w, svc = pair
    sid = w.session_id
    payload = {"type": "reminder", "session_id": sid, "offset_minutes": 1440}
    kk_user = await w.repo.users.get(101)
    assert kk_user is not None
    rendered = await svc.render(payload, kk_user, translator.bind("kk"))
    assert rendered is not None and rendered.text is not None and rendered.reply_markup
    assert "Сабақ туралы еске салу" in rendered.text
    assert "24 сағаттан кейін" in rendered.text
    # 06:00 UTC is 11:00 in Almaty; the centre's address in Kazakh.
    assert "11:00–13:00" in rendered.text and "Street 1 kk" in rendered.text
    buttons = rendered.reply_markup.inline_keyboard[0]
    assert [b.text for b in buttons] == ["✅ Келемін", "❌ Келе алмаймын"]
    assert ReminderCB.unpack(buttons[0].callback_data or "").session_id == sid
    # Reminders turned off meanwhile, or no longer a trainee: skipped at send time.
    off = replace(kk_user, reminders_enabled=False)
    assert await svc.render(payload, off, translator.bind("kk")) is None
    stranger = await w.repo.users.get(106)
    assert stranger is not None
    assert await svc.render(payload, stranger, translator.bind("kk")) is None
    # After the start: skipped.
    w.clock.set(T0 + 24 * H)
    assert await svc.render(payload, kk_user, translator.bind("kk")) is None


# ---- two processes, one database ---------------------------------------------------------


async def test_two_scheduler_instances_enqueue_each_reminder_once(
    world: World, translator: Translator
) -> None:
    second_db = Database(world.db.url)
    try:
        other = replace(world, db=second_db, repo=Repos.create(second_db))
        a, b = service(world, translator), service(other, translator)
        await asyncio.gather(a.start(), b.start())
        sid = world.session_id
        world.clock.set(T0 + 23 * H)
        results = await asyncio.gather(
            a.fire(sid, 60), b.fire(sid, 60), a.run_due(), b.run_due(), b.fire(sid, 60)
        )
        assert sum(results) == 2
        rows = await reminder_rows(world.db)
        assert len(rows) == len({r[0] for r in rows}) == 4
        await asyncio.gather(a.stop(), b.stop())
    finally:
        await second_db.dispose()


# ---- switches ---------------------------------------------------------------------------------


async def test_scheduler_disabled_runs_no_jobs(sqlite_world: World, translator: Translator) -> None:
    w = sqlite_world
    svc = service(w, translator, settings=settings(scheduler_enabled=False))
    await svc.start()
    try:
        assert svc.jobs() == []
        assert await svc.run_due() == 0
        assert await svc.fire(w.session_id, 1440) == 0
        assert await reminder_rows(w.db) == []
        assert not await svc.send_digest(w.centre_id)
    finally:
        await svc.stop()


async def test_reminders_turned_off_are_not_enqueued(pair: tuple[World, Service]) -> None:
    w, svc = pair
    await w.repo.users.set_reminders(102, False)
    await svc.start()
    assert keys(await reminder_rows(w.db)) == [f"reminder:{w.session_id}:1440:101"]
    await w.repo.users.set_reminders(102, True)  # on again: the next reminder comes
    w.clock.set(T0 + 23 * H)
    assert await svc.run_due() == 2


# ---- the staff digest -------------------------------------------------------------------------


class RecordingBot:
    """Stands in for aiogram's Bot: records send_message calls."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send_message(self, chat_id: int, text: str, **_: Any) -> None:
        self.sent.append((chat_id, text))


async def test_daily_digest_once_per_centre_and_day(world: World, translator: Translator) -> None:
    bot: Any = RecordingBot()
    other_db = Database(world.db.url)
    try:
        a = service(world, translator, bot=bot)
        b = service(replace(world, db=other_db, repo=Repos.create(other_db)), translator, bot=bot)
        await a.start()  # 11:00 in Almaty: no digest yet
        await b.start()
        assert bot.sent == []
        await world.repo.attendance.answer(world.session_id, 101, "yes", T0)
        await world.repo.attendance.answer(world.session_id, 102, "no", T0)
        world.clock.set(T0 + 7 * H)  # 18:00 in Almaty
        await asyncio.gather(a.run_due(), b.run_due(), a.send_digest(world.centre_id))
        assert len(bot.sent) == 1
        chat_id, text = bot.sent[0]
        assert chat_id == STAFF_CHAT
        assert "Занятия на завтра" in text and "11:00–13:00" in text
        # Four trainees of the group: one yes, one no, two without an answer.
        assert "✅ 1 · ❌ 1 · ❔ 2 (всего 4)" in text
        world.clock.advance(H)
        await a.run_due()
        assert len(bot.sent) == 1
        async with world.db.read() as s:
            markers = list(await s.scalars(select(KeyValue.key)))
        assert [m for m in markers if m.startswith("digest:")] == [
            f"digest:{world.centre_id}:2030-03-04"
        ]
        await asyncio.gather(a.stop(), b.stop())
    finally:
        await other_db.dispose()


async def test_blocked_users_are_never_enqueued(pair: tuple[World, Service]) -> None:
    w, svc = pair
    async with w.db.transaction() as s:
        await s.execute(update(User).where(User.id == 101).values(is_active=False))
    await svc.start()
    assert keys(await reminder_rows(w.db)) == [f"reminder:{w.session_id}:1440:102"]


async def test_handlers_of_finished_or_cancelled_classes_are_unregistered(
    pair: tuple[World, Service],
) -> None:
    """One handler per class is registered with the scheduler; once a class has no job
    left it is unregistered, so a long-running process does not collect a term of them."""
    w, svc = pair
    await svc.start()
    assert svc.scheduler is not None
    kind = f"reminder:{w.session_id}"
    assert kind in svc.scheduler.kinds() and len(reminder_jobs(svc)) == 1
    w.clock.set(T0 + 23 * H)
    await svc.scheduler.run(kind, 60)  # the last reminder's job fires
    rows = await reminder_rows(w.db)
    assert sum(f"reminder:{w.session_id}:60:" in r[0] for r in rows) == 2  # it did its work
    assert kind in svc.scheduler.kinds()  # until the jobs are derived again
    await svc.rebuild()
    assert kind not in svc.scheduler.kinds() and reminder_jobs(svc) == []

    later = await build_world_again(w, starts_in=30 * H)
    await svc.session_changed(later)
    assert f"reminder:{later}" in svc.scheduler.kinds()
    await w.repo.schedule.cancel(later, actor_id=1)
    await svc.session_changed(later)
    assert f"reminder:{later}" not in svc.scheduler.kinds()
    assert svc.scheduler.kinds() == {"digest", "reminder_sweep"}


async def test_scheduler_off_forgets_the_handler_and_its_jobs() -> None:
    clock = ManualClock(T0)
    scheduler = Scheduler(clock)
    await scheduler.start()
    try:
        ran: list[int] = []

        async def handler(target: int) -> None:
            ran.append(target)

        scheduler.on("x", handler)
        scheduler.on("y", handler)
        scheduler.schedule("x", 1, T0 + H)
        scheduler.schedule("x", 2, T0 + 2 * H)
        scheduler.schedule("y", 3, T0 + H)
        scheduler.off("x")
        assert scheduler.kinds() == {"y"}
        assert [j.id for j in scheduler.jobs()] == ["y:3"]
        await scheduler.run("x", 1)  # a job already under way finds no handler: nothing runs
        await scheduler.run("y", 3)
        assert ran == [3]
    finally:
        await scheduler.stop()
