"""Class reminders at national scale: 10,000 trainees in 200 groups with a term of classes.

    .venv/bin/python -m bench.reminders             # the figures of the README (~1 min)
    .venv/bin/python -m bench.reminders --quick     # a smoke test (1,000 trainees)
    .venv/bin/python -m bench.reminders --rate 25   # the default BROADCAST_RATE (~7 min)

A SQLite database gets 20 centres × 5 courses × 2 groups, 50 accepted trainees per group
(10,000 users in four languages) and a 12-week term of three classes a week per group
(7,200 classes); every group's first class starts at the same instant, so the reminder
wave of that instant goes to all 10,000 trainees.

Printed:

* scheduler start-up (``ReminderService.start``: jobs derived from the database, the
  catch-up run) in seconds, with the jobs it holds and the process's memory growth, for
  the default 8-day horizon and for the whole term at once;
* the fan-out of one wave: the 1 h reminder of the first class, from the catch-up that
  enqueues the 10,000 ``deliveries`` rows to the last one sent by the production
  ``Outbox`` (rendered per trainee in their language) against a fake Bot API in its own
  process (``--latency`` per request, the configured rate enforced with 429s), and the
  send rate achieved as a share of the configured one (goal ≥ 0.95).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import multiprocessing
import multiprocessing.connection
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

TOKEN = "123456:BENCH-reminders"
FIRST_USER = 100_000
LOCALES = ("kk", "ky", "ru", "en")
TERM_START = datetime(2030, 9, 2, 13, 0, tzinfo=UTC)  # a Monday, 18:00 in Tashkent-ish zones
WEEKS = 12
DAYS = (0, 2, 4)  # Monday, Wednesday, Friday


# ---- the fake Bot API, in its own process ---------------------------------------------------


class CountingServer:
    """sendMessage only: answered after ``latency``, 429 above ``rate`` (a token bucket of
    one second), every message counted per chat."""

    def __init__(self, rate: float, latency: float) -> None:
        from sandbox.telegram.ratelimit import RateLimiter, RateLimits

        self.latency = latency
        self.limiter = RateLimiter(
            RateLimits(global_per_second=rate, global_burst=max(1, math.ceil(rate)))
        )
        self.delivered: Counter[int] = Counter()
        self.statuses: Counter[int] = Counter()
        self.first = self.last = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        from sandbox.telegram.errors import ApiError, too_many_requests

        params = await request.json() if request.content_type == "application/json" else {}
        if not params:
            params = dict(await request.post())
        await asyncio.sleep(self.latency / 2)
        chat_id = int(params.get("chat_id", 0))
        try:
            if request.match_info["method"].lower() != "sendmessage":
                raise ApiError(404, "Not Found: method not found")
            retry_after = self.limiter.acquire(chat_id, is_private=True)
            if retry_after:
                raise too_many_requests(retry_after)
            self.delivered[chat_id] += 1
            self.last = time.monotonic()
            self.first = self.first or self.last
            count = sum(self.delivered.values())
            message = {
                "message_id": count,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "T"},
            }
            status, body = 200, {"ok": True, "result": message}
        except ApiError as exc:
            status, body = exc.status, exc.body()
        self.statuses[status] += 1
        await asyncio.sleep(self.latency / 2)
        return web.json_response(body, status=status)


def _server_main(conn: multiprocessing.connection.Connection, rate: float, latency: float) -> None:
    asyncio.run(_serve(conn, rate, latency))


async def _serve(conn: multiprocessing.connection.Connection, rate: float, latency: float) -> None:
    server = CountingServer(rate, latency)
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", server.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    conn.send(f"http://127.0.0.1:{port}")
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    conn.send((dict(server.delivered), dict(server.statuses), server.last - server.first))
    await runner.cleanup()


# ---- the data -------------------------------------------------------------------------------


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def build(db: Any, trainees: int, groups: int) -> int:
    """The catalogue, users, accepted applications and the term; returns the classes."""
    from sqlalchemy import insert

    from db.models import Application, Centre, ClassSession, Course, Group, Region, User

    def loc(text: str) -> dict[str, str]:
        return {x: f"{text} ({x})" for x in LOCALES}

    centres = max(1, groups // 10)
    per_group = trainees // groups
    async with db.transaction() as s:
        await s.execute(
            insert(Region), [{"id": 1, "code": "r", "country": "KZ", "name": loc("Region")}]
        )
        await s.execute(
            insert(Centre),
            [
                {
                    "id": c,
                    "code": f"c{c}",
                    "region_id": 1,
                    "name": loc(f"Centre {c}"),
                    "city": loc("City"),
                    "address": loc(f"Street {c}"),
                    "latitude": 43.0,
                    "longitude": 71.0,
                    "timezone": ("Asia/Almaty", "Asia/Bishkek")[c % 2],
                }
                for c in range(1, centres + 1)
            ],
        )
        courses = [
            {
                "id": k,
                "code": f"k{k}",
                "centre_id": (k - 1) // 5 + 1,
                "title": loc(f"Course {k}"),
                "description": loc("About"),
                "languages": "kk,ru",
                "duration_weeks": WEEKS,
                "certificate": loc("Certificate"),
                "start_date": date(2030, 9, 2),
            }
            for k in range(1, groups // 2 + 1)
        ]
        await s.execute(insert(Course), courses)
        await s.execute(
            insert(Group),
            [
                {
                    "id": g,
                    "code": f"g{g}",
                    "course_id": (g - 1) // 2 + 1,
                    "name": loc(f"Group {g}"),
                    "capacity": per_group,
                    "seats_taken": per_group,
                }
                for g in range(1, groups + 1)
            ],
        )
        sessions = [
            {
                "group_id": g,
                "starts_at": TERM_START + timedelta(weeks=w, days=d),
                "ends_at": TERM_START + timedelta(weeks=w, days=d, hours=2),
                "room": f"{100 + g % 50}",
                "cancelled": False,
            }
            for g in range(1, groups + 1)
            for w in range(WEEKS)
            for d in DAYS
        ]
        await s.execute(insert(ClassSession), sessions)
        users = range(FIRST_USER, FIRST_USER + per_group * groups)
        await s.execute(
            insert(User),
            [
                {
                    "id": u,
                    "locale": LOCALES[u % 4],
                    "first_name": "T",
                    "is_active": True,
                    "reminders_enabled": True,
                }
                for u in users
            ],
        )
        consent = TERM_START - timedelta(days=30)
        await s.execute(
            insert(Application),
            [
                {
                    "user_id": u,
                    "course_id": (g - 1) // 2 + 1,
                    "group_id": g,
                    "full_name": f"Trainee {u}",
                    "phone": "+77000000000",
                    "status": "accepted",
                    "consent_at": consent,
                }
                for i, u in enumerate(users)
                for g in [i // per_group + 1]
            ],
        )
    return len(sessions)


# ---- the measurements --------------------------------------------------------------------------


async def startup(db: Any, horizon: timedelta | None) -> tuple[float, int, float]:
    """Seconds for ``start()`` (jobs derived, catch-up run) on a running scheduler,
    reminder jobs held, RSS growth in MB."""
    from bot.clock import ManualClock
    from bot.config import Settings
    from bot.i18n import Translator
    from bot.reminders.service import ReminderService
    from bot.scheduler import Scheduler
    from db.repo import Repos

    clock = ManualClock(TERM_START - timedelta(days=3))
    scheduler = Scheduler(clock, run_jobs=True)  # fires by the wall clock, as in production
    await scheduler.start()
    service = ReminderService(
        Repos.create(db),
        Translator(),
        Settings(bot_token=None),
        clock=clock,
        scheduler=scheduler,
        horizon=horizon,
    )
    gc.collect()
    rss = _rss_mb()
    started = time.perf_counter()
    await service.start()
    elapsed = time.perf_counter() - started
    gc.collect()
    grown = _rss_mb() - rss
    jobs = sum(1 for j in service.jobs() if j.id.startswith("reminder:"))
    await service.stop()
    await scheduler.stop()
    return elapsed, jobs, grown


async def wave(db: Any, rate: float, latency: float, trainees: int) -> dict[str, Any]:
    from aiogram import Bot
    from aiogram.client.telegram import TelegramAPIServer

    from bot.clock import ManualClock
    from bot.config import Settings
    from bot.factory import pin_response_models
    from bot.i18n import Translator
    from bot.outbox import Outbox, OutboxSession
    from bot.reminders.service import ReminderService
    from bot.scheduler import Scheduler
    from db.repo import Repos

    pinned = pin_response_models()  # as BotProcess does: no model rebuilt per answer
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_server_main, args=(child, rate, latency), daemon=True)
    process.start()
    loop = asyncio.get_running_loop()
    api_base = await loop.run_in_executor(None, parent.recv)

    repo = Repos.create(db)
    translator = Translator()
    clock = ManualClock(TERM_START - timedelta(hours=25))  # nothing due yet
    bot = Bot(TOKEN, session=OutboxSession(api=TelegramAPIServer.from_base(api_base), limit=80))
    outbox = Outbox(repo, translator, bot, clock=clock, rate=rate)
    scheduler = Scheduler(clock)
    await scheduler.start()
    service = ReminderService(
        repo, translator, Settings(bot_token=None), clock=clock, outbox=outbox, scheduler=scheduler
    )
    await service.start()
    await outbox.start()  # in production the sender is always running
    enqueued_at_start = (await repo.deliveries.counts()).total
    clock.set(TERM_START - timedelta(hours=1))  # the 1 h reminder of the first class
    started = time.perf_counter()
    cpu_started = time.process_time()
    new = await service.run_due()
    enqueue_s = time.perf_counter() - started
    await outbox.wait_idle()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    await outbox.stop()
    await service.stop()
    await scheduler.stop()
    await bot.session.close()
    parent.send("done")
    delivered, statuses, sending = await loop.run_in_executor(None, parent.recv)
    process.join(10)
    counts = await repo.deliveries.counts()
    del pinned
    return {
        "enqueued": enqueued_at_start + new,
        "enqueue_s": enqueue_s,
        "elapsed": elapsed,
        "sending": sending,
        "cpu": cpu,
        "requests": outbox.stats.requests,
        "sent": counts.sent,
        "other": counts.total - counts.sent,
        "delivered_chats": len(delivered),
        "duplicated": sum(max(0, n - 1) for n in delivered.values()),
        "lost": trainees - len(delivered),
        "server_429": int(statuses.get(429, 0)),
    }


async def run(trainees: int, groups: int, rate: float, latency: float) -> bool:
    from db.database import Database

    workdir = Path(tempfile.mkdtemp(prefix="bench-reminders-"))
    db = Database(f"sqlite+aiosqlite:///{workdir}/bench.sqlite3")
    await db.migrate()
    t = time.perf_counter()
    classes = await build(db, trainees, groups)
    print(
        f"data: {trainees} trainees in {groups} groups, {classes} classes "
        f"(built in {time.perf_counter() - t:.1f} s); offsets 24h,1h"
    )
    for label, horizon in (("8-day horizon", timedelta(days=8)), ("whole term", None)):
        elapsed, jobs, grown = await startup(db, horizon)
        print(
            f"scheduler start-up, {label}: {elapsed:.2f} s, {jobs} reminder jobs, "
            f"memory +{grown:.1f} MB (RSS now {_rss_mb():.0f} MB)",
            flush=True,
        )
    result = await wave(db, rate, latency, trainees)
    await db.dispose()
    share = result["requests"] / result["elapsed"] / rate
    sending_share = (result["sent"] - 1) / max(result["sending"], 1e-9) / rate
    print(
        f"one wave: {result['enqueued']} reminders, fan-out {result['elapsed']:.1f} s from the "
        f"catch-up to the last one sent ({result['enqueue_s']:.2f} s writing the rows), "
        f"{rate:g}/s configured, {latency * 1000:.0f} ms per request\n"
        f"  {result['requests'] / result['elapsed']:.1f} requests/s over the fan-out = "
        f"{share:.3f} of the configured rate; {sending_share:.3f} from the first message "
        f"received to the last (goal >= 0.95)\n"
        f"  sent {result['sent']}, not sent {result['other']}, lost {result['lost']}, "
        f"duplicated {result['duplicated']}, 429 answers {result['server_429']}; "
        f"{result['cpu'] / max(1, result['sent']) * 1000:.2f} ms CPU per reminder "
        f"(enqueue, render, send)"
    )
    return bool(sending_share >= 0.95 and result["lost"] == 0 and result["duplicated"] == 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.reminders", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 trainees in 20 groups")
    parser.add_argument("--rate", type=float, default=500.0, help="configured send rate")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    args = parser.parse_args(argv)
    trainees, groups = (1_000, 20) if args.quick else (10_000, 200)
    ok = asyncio.run(run(trainees, groups, args.rate, args.latency))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
