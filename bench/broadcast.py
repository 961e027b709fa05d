"""Broadcast throughput: the real Outbox against a rate-limited, 50 ms fake Bot API.

    .venv/bin/python -m bench.broadcast            # the two runs of the README (~1 min)
    .venv/bin/python -m bench.broadcast --serial   # also a one-request-at-a-time sender
    .venv/bin/python -m bench.broadcast --quick    # smaller runs, a smoke test

The fake server runs in a process of its own and does only what a broadcast needs, so
it takes little CPU from the sender: it answers every request after ``--latency``
seconds (a network round trip) and enforces the configured send rate as Telegram does,
with a 429 and retry_after above it (the fake Bot API's token bucket, holding one second
of sends); 2 % of the recipients have blocked the bot (403). The sender is the production
path: ``Outbox`` over a SQLite database of ``deliveries`` rows, its own aiogram Bot,
copyMessage of a staff member's message to every recipient.

Printed per run: the achieved request rate as a share of the configured one (goal
≥ 0.95), 429 answers (goal 0), messages lost and duplicated (goal 0, counted on the
server), the sender's CPU per message and its peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import multiprocessing.connection
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

TOKEN = "123456:BENCH-token"
STAFF_ID = 1
SOURCE_MESSAGE_ID = 7  # the staff member's message every recipient gets a copy of
FIRST_USER = 10_000


@dataclass(frozen=True, slots=True)
class Run:
    name: str
    recipients: int
    rate: float
    blocked_share: float = 0.02
    concurrency: int | None = None  # None: the Outbox's default for the rate


@dataclass(frozen=True, slots=True)
class Result:
    run: Run
    concurrency: int
    elapsed: float
    requests: int
    sent: int
    blocked: int
    failed: int
    server_429: int
    client_429: int
    lost: int
    duplicated: int
    rss_before_mb: float
    rss_peak_mb: float
    cpu: float  # seconds of CPU the sender process used while sending

    @property
    def request_rate(self) -> float:
        return self.requests / self.elapsed

    @property
    def share(self) -> float:
        return self.request_rate / self.run.rate


# ---- the fake server, in its own process ------------------------------------------------


class RateLimitedServer:
    """Just enough Bot API for a broadcast, and cheap, so it never is the bottleneck:
    copyMessage/sendMessage answered after ``latency`` (half before the rate check, half
    after, like a round trip), 429 with retry_after above ``rate`` (the fake API's token
    bucket holding one second of sends), 403 for users who blocked the bot; every message
    delivered is counted per chat."""

    def __init__(self, rate: float, latency: float, blocked: set[int]) -> None:
        from sandbox.telegram.ratelimit import RateLimiter, RateLimits

        self.latency = latency
        self.blocked = blocked
        self.limiter = RateLimiter(
            RateLimits(global_per_second=rate, global_burst=max(1, math.ceil(rate)))
        )
        self.delivered: Counter[int] = Counter()
        self.statuses: Counter[int] = Counter()
        self._message_id = 0

    async def handle(self, request: web.Request) -> web.Response:
        from sandbox.telegram.errors import ApiError, forbidden, too_many_requests

        if request.content_type == "application/json":
            params = await request.json()
        else:
            params = dict(await request.post())
        await asyncio.sleep(self.latency / 2)
        chat_id = int(params.get("chat_id", 0))
        try:
            if request.match_info["method"].lower() not in ("copymessage", "sendmessage"):
                raise ApiError(404, "Not Found: method not found")
            if chat_id in self.blocked:
                raise forbidden("bot was blocked by the user")
            retry_after = self.limiter.acquire(chat_id, is_private=True)
            if retry_after:
                raise too_many_requests(retry_after)
            self._message_id += 1
            self.delivered[chat_id] += 1
            status, body = 200, {"ok": True, "result": {"message_id": self._message_id}}
        except ApiError as exc:
            status, body = exc.status, exc.body()
        self.statuses[status] += 1
        await asyncio.sleep(self.latency / 2)
        return web.json_response(body, status=status)


def _server_main(
    conn: multiprocessing.connection.Connection, rate: float, latency: float, blocked: set[int]
) -> None:
    asyncio.run(_serve(conn, rate, latency, blocked))


async def _serve(
    conn: multiprocessing.connection.Connection, rate: float, latency: float, blocked: set[int]
) -> None:
    server = RateLimitedServer(rate, latency, blocked)
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", server.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    conn.send(f"http://127.0.0.1:{port}")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)  # the sender has finished
    conn.send((dict(server.delivered), dict(server.statuses)))
    await runner.cleanup()


# ---- the sender ---------------------------------------------------------------------------


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def measure(run: Run, latency: float) -> Result:
    from aiogram import Bot
    from aiogram.client.telegram import TelegramAPIServer

    from bot.factory import pin_response_models
    from bot.i18n import Translator
    from bot.outbox import Outbox, OutboxSession, default_concurrency
    from db.database import Database
    from db.dto import NewDelivery
    from db.models import User
    from db.repo import Repos

    ids = range(FIRST_USER, FIRST_USER + run.recipients)
    blocked_count = round(run.recipients * run.blocked_share)
    # Every 50th recipient (for 2 %) has blocked the bot.
    step = max(1, run.recipients // blocked_count) if blocked_count else 0
    blocked = set(list(ids)[::step][:blocked_count]) if blocked_count else set()
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(
        target=_server_main, args=(child, run.rate, latency, blocked), daemon=True
    )
    process.start()
    loop = asyncio.get_running_loop()
    api_base = await loop.run_in_executor(None, parent.recv)

    workdir = Path(tempfile.mkdtemp(prefix="bench-broadcast-"))
    db = Database(f"sqlite+aiosqlite:///{workdir}/bench.sqlite3")
    await db.migrate()
    repo = Repos.create(db)
    async with db.transaction() as s:
        s.add_all(User(id=i, locale="kk", is_active=True, reminders_enabled=True) for i in ids)
    payload = {"type": "copy", "from_chat_id": STAFF_ID, "message_id": SOURCE_MESSAGE_ID}
    now = datetime.now(UTC)
    await repo.deliveries.enqueue(
        [NewDelivery("broadcast", f"bench:{i}", i, payload, not_before=now) for i in ids]
    )

    pinned = pin_response_models()  # as BotProcess does
    concurrency = run.concurrency
    bot = Bot(
        TOKEN,
        session=OutboxSession(
            api=TelegramAPIServer.from_base(api_base),
            limit=(concurrency or default_concurrency(run.rate)) + 2,
        ),
    )
    outbox = Outbox(repo, Translator(), bot, rate=run.rate, concurrency=concurrency)
    rss_before = _rss_mb()
    started = time.perf_counter()
    cpu_started = time.process_time()
    await outbox.start()
    await outbox.wait_idle()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    await outbox.stop()
    await bot.session.close()
    del pinned
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    parent.send("done")
    delivered, statuses = await loop.run_in_executor(None, parent.recv)
    process.join(10)
    counts = await repo.deliveries.counts()
    await db.dispose()

    reachable = [i for i in ids if i not in blocked]
    stats = outbox.stats
    return Result(
        run=run,
        concurrency=outbox.concurrency,
        elapsed=elapsed,
        requests=stats.requests,
        sent=counts.sent,
        blocked=counts.blocked,
        failed=counts.failed + counts.remaining,
        server_429=int(statuses.get(429, 0)),
        client_429=stats.rate_limited,
        lost=sum(1 for i in reachable if delivered.get(i, 0) == 0),
        duplicated=sum(max(0, c - 1) for c in delivered.values()),
        rss_before_mb=rss_before,
        rss_peak_mb=rss_peak,
        cpu=cpu,
    )


def report(result: Result) -> str:
    run = result.run
    return (
        f"{run.name}: {run.recipients} recipients ({result.blocked} blocked the bot), "
        f"configured {run.rate:g}/s, concurrency {result.concurrency}\n"
        f"  took {result.elapsed:.1f} s: {result.request_rate:.1f} requests/s = "
        f"{result.share:.3f} of the configured rate (goal >= 0.95); "
        f"{result.sent / result.elapsed:.1f} delivered/s\n"
        f"  429 answers: {result.server_429} (goal 0); lost: {result.lost}, "
        f"duplicated: {result.duplicated}, failed: {result.failed} (goal 0)\n"
        f"  sender: {result.cpu / result.elapsed:.0%} of one CPU "
        f"({result.cpu / max(1, result.requests) * 1000:.2f} ms per message); "
        f"memory {result.rss_before_mb:.0f} MB before, peak RSS {result.rss_peak_mb:.0f} MB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.broadcast", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small runs (a smoke test)")
    parser.add_argument("--serial", action="store_true", help="also one request at a time")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    runs = [
        Run("scaled", 10_000 // scale, 500.0),
        Run("real rate", 1_000 // scale, 30.0),
    ]
    if args.serial:
        runs.append(Run("serial (1 in flight)", 300 // scale, 30.0, concurrency=1))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"fake Bot API: {args.latency * 1000:.0f} ms per request, limit = configured rate; "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    failed = False
    for run in runs:
        result = asyncio.run(measure(run, args.latency))
        print(report(result), flush=True)
        if run.concurrency is None:
            failed |= result.share < 0.95 or result.server_429 > 0
            failed |= result.lost > 0 or result.duplicated > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
