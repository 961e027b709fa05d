"""Several sender processes, one global rate; and the in-flight window against latency.

    .venv/bin/python -m bench.outbox_scale             # both parts (~3 min)
    .venv/bin/python -m bench.outbox_scale --quick     # smaller runs

Part 1: 1, 2 and 4 sender processes (each a real ``Outbox``) over one PostgreSQL database
(SQLite when PostgreSQL is not reachable) share their pacing through Redis, against a
fake Bot API in a process of its own that enforces ONE global limit (the configured rate,
a second of burst, 429 with retry_after above it) and answers after 50 ms. Then 2 senders
that each pace themselves (the old behaviour) against the same limit. Per row: achieved
rate (server side, first to last message) as a share of the configured one, 429s,
messages lost and duplicated.

Part 2: one sender at Telegram's 30/s against 0-300 ms round trips, with the adaptive
window (the default) and with the old fixed 8 requests in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import multiprocessing.connection
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

TOKEN = "123456:SCALE-bench"
FIRST_USER = 10_000
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


# ---- the fake server: one global limit for every client -----------------------------


class GlobalLimitServer:
    def __init__(self, rate: float, latency: float) -> None:
        from sandbox.telegram.ratelimit import RateLimiter, RateLimits

        self.latency = latency
        self.limiter = RateLimiter(
            RateLimits(
                global_per_second=rate,
                global_burst=max(1, math.ceil(rate)),
                private_chat_per_second=1.0,
                private_chat_burst=1,
            )
        )
        self.delivered: Counter[int] = Counter()
        self.statuses: Counter[int] = Counter()
        self.times: list[float] = []

    async def handle(self, request: web.Request) -> web.Response:
        params = await request.json()
        await asyncio.sleep(self.latency / 2)
        chat_id = int(params.get("chat_id", 0))
        retry_after = self.limiter.acquire(chat_id, is_private=True)
        if retry_after:
            status = 429
            body: dict[str, Any] = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {retry_after}",
                "parameters": {"retry_after": retry_after},
            }
        else:
            status = 200
            self.delivered[chat_id] += 1
            self.times.append(time.monotonic())
            body = {"ok": True, "result": {"message_id": len(self.times)}}
        self.statuses[status] += 1
        await asyncio.sleep(self.latency / 2)
        return web.json_response(body, status=status)


def _server_main(conn: multiprocessing.connection.Connection, rate: float, latency: float) -> None:
    async def serve() -> None:
        server = GlobalLimitServer(rate, latency)
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", server.handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        conn.send(f"http://127.0.0.1:{port}")
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        times = server.times
        rate_seen = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
        conn.send((dict(server.delivered), dict(server.statuses), rate_seen))
        await runner.cleanup()

    asyncio.run(serve())


# ---- a sender process ----------------------------------------------------------------


def _sender_main(
    conn: multiprocessing.connection.Connection,
    db_url: str,
    api_base: str,
    rate: float,
    prefix: str | None,
    concurrency: int | None,
) -> None:
    async def send() -> tuple[int, int, float, int]:
        from aiogram import Bot
        from aiogram.client.telegram import TelegramAPIServer
        from redis.asyncio import Redis

        from bot.factory import pin_response_models
        from bot.i18n import Translator
        from bot.outbox import WINDOW_CEILING, Outbox, OutboxSession, SharedPacing
        from db.database import Database
        from db.repo import Repos

        pinned = pin_response_models()
        db = Database(db_url)
        repo = Repos.create(db)
        redis = Redis.from_url(REDIS_URL)
        shared = SharedPacing(redis, prefix, rate) if prefix else None
        bot = Bot(
            TOKEN,
            session=OutboxSession(
                api=TelegramAPIServer.from_base(api_base),
                limit=(concurrency or WINDOW_CEILING) + 2,
            ),
        )
        outbox = Outbox(repo, Translator(), bot, rate=rate, shared=shared, concurrency=concurrency)
        conn.recv()  # everyone starts together
        cpu = time.process_time()
        await outbox.start()
        while (await repo.deliveries.counts()).remaining:  # noqa: ASYNC110 - other processes
            await asyncio.sleep(0.2)
        await outbox.stop()
        cpu = time.process_time() - cpu
        await bot.session.close()
        await redis.aclose()
        await db.dispose()
        del pinned
        return outbox.stats.requests, outbox.stats.rate_limited, cpu, outbox.window

    conn.send(asyncio.run(send()))


# ---- one run -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    senders: int
    rate: float
    latency: float
    messages: int
    shared: bool = True
    concurrency: int | None = None


async def _database() -> tuple[str, Any]:
    """A fresh PostgreSQL database (dropped by the returned callback), else SQLite."""
    try:
        import asyncpg

        admin = await asyncio.wait_for(asyncpg.connect(PG_ADMIN_URL), 5)
    except (OSError, TimeoutError):
        path = tempfile.mkdtemp(prefix="bench-scale-")
        return f"sqlite+aiosqlite:///{path}/bench.sqlite3", None
    name = f"bench_scale_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")

    async def drop() -> None:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    return f"{base}/{name}", drop


async def measure(row: Row) -> str:
    from db.database import Database
    from db.dto import NewDelivery
    from db.models import User
    from db.repo import Repos

    db_url, drop = await _database()
    db = Database(db_url)
    await db.migrate()
    ids = range(FIRST_USER, FIRST_USER + row.messages)
    async with db.transaction() as s:
        s.add_all(User(id=i, locale="ru", is_active=True) for i in ids)
    payload = {"type": "copy", "from_chat_id": 1, "message_id": 7}  # copyMessage
    now = datetime.now(UTC)
    await Repos.create(db).deliveries.enqueue(
        [NewDelivery("broadcast", f"b:{i}", i, payload, not_before=now) for i in ids]
    )
    await db.dispose()

    ctx = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    server_conn, child = ctx.Pipe()
    server = ctx.Process(target=_server_main, args=(child, row.rate, row.latency), daemon=True)
    server.start()
    api_base = await loop.run_in_executor(None, server_conn.recv)
    prefix = f"bench:outbox:{uuid.uuid4().hex}" if row.shared else None
    senders = []
    for _ in range(row.senders):
        parent, child = ctx.Pipe()
        process = ctx.Process(
            target=_sender_main,
            args=(child, db_url, api_base, row.rate, prefix, row.concurrency),
            daemon=True,
        )
        process.start()
        senders.append((process, parent))
    await asyncio.sleep(3)  # imports
    for _, parent in senders:
        parent.send("go")
    results = [await loop.run_in_executor(None, parent.recv) for _, parent in senders]
    for process, _ in senders:
        process.join(10)
    server_conn.send("done")
    delivered, statuses, rate_seen = await loop.run_in_executor(None, server_conn.recv)
    server.join(10)
    if drop is not None:
        await drop()
    lost = sum(1 for i in ids if delivered.get(i, 0) == 0)
    duplicated = sum(max(0, n - 1) for n in delivered.values())
    requests = sum(r[0] for r in results)
    cpu = sum(r[2] for r in results)
    windows = "/".join(str(r[3]) for r in results)
    return (
        f"| {row.label} | {row.senders} | {row.rate:g}/s | {row.latency * 1000:.0f} ms | "
        f"{windows} | {rate_seen / row.rate:.3f} | {statuses.get(429, 0)} | "
        f"{lost} / {duplicated} | {cpu / max(1, requests) * 1000:.2f} ms |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.outbox_scale")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--part", choices=("all", "senders", "latency"), default="all")
    args = parser.parse_args(argv)
    scale = 4 if args.quick else 1
    rows: list[Row] = []
    if args.part in ("all", "senders"):
        n = 1200 // scale
        rows += [
            Row("shared through Redis", 1, 100.0, 0.05, n),
            Row("shared through Redis", 2, 100.0, 0.05, n),
            Row("shared through Redis", 4, 100.0, 0.05, n),
            Row("each paces itself (before)", 2, 100.0, 0.05, n, shared=False),
        ]
    if args.part in ("all", "latency"):
        n = 300 // scale
        for latency in (0.0, 0.05, 0.1, 0.2, 0.3):
            rows.append(Row("adaptive window", 1, 30.0, latency, n))
        rows.append(Row("fixed 8 in flight (before)", 1, 30.0, 0.3, n, concurrency=8))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load} at the start")
    print(
        "| run | senders | configured | latency | window | achieved share | 429s | "
        "lost / duplicated | sender CPU per message |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(asyncio.run(measure(row)), flush=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
