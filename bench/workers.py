"""Several webhook workers: 1, 2 and 4 bot processes on PostgreSQL + Redis.

    .venv/bin/python -m bench.workers                  # 1, 2, 4 workers (~2 min)
    .venv/bin/python -m bench.workers --workers 1 2    # some of them

Each run starts W real bot processes (``python main.py run`` in webhook mode) on one
port (SO_REUSEPORT: the kernel spreads the connections), one fresh PostgreSQL database
and one Redis (form state, per-chat locks, the outbox's shared pacing; one of them elected
to run the scheduler). This process plays Telegram twice: the fake Bot API the workers
call (answering after ``--latency``), and the simulated citizens, each posting an update
to the webhook (with the secret), waiting for the bot's answer in their chat, then posting
the next (closed loop). Per worker count: updates/s, p50/p95 reply time (post to the
answer reaching the fake Bot API) and the workers' CPU per update — the figure that
predicts a bigger machine. On a 2-core machine the curve flattens at 2 workers: the
citizens and the fake server need a core too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

TOKEN = "123456789:WORKERS-bench"
SECRET = "bench-webhook-secret-0123456789"
FIRST = 700_000
COMMANDS = ("/help", "/courses", "/my", "/help")
PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": f"U{user_id}", "language_code": "ru"}
    command = text.split(maxsplit=1)[0]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": f"U{user_id}"},
            "from": user,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


async def _fresh_database() -> tuple[str, Any]:
    import asyncpg

    admin = await asyncio.wait_for(asyncpg.connect(PG_ADMIN_URL), 5)
    name = f"bench_workers_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")

    async def drop() -> None:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    return f"{base}/{name}", drop


async def run(workers: int, citizens: int, updates: int, latency: float) -> dict[str, float]:
    from redis.asyncio import Redis

    from sandbox.telegram import Event, EventKind, FakeBotAPI

    db_url, drop = await _fresh_database()
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    port = _free_port()
    waiting: dict[int, asyncio.Future[float]] = {}

    def on_event(event: Event) -> None:
        message = event.message
        if event.kind is EventKind.MESSAGE_SENT and message is not None:
            future = waiting.pop(message.chat_id, None)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())

    async with FakeBotAPI(token=TOKEN, latency=latency, max_recorded_requests=1000) as server:
        ids = [FIRST + n for n in range(citizens)]
        for user_id in ids:
            server.add_user(user_id, f"U{user_id}", language_code="ru")
        server.subscribe(on_event)
        env = {
            **os.environ,
            "BOT_TOKEN": TOKEN,
            "BOT_API_URL": server.api_base,
            "DATABASE_URL": db_url,
            "REDIS_URL": REDIS_URL,
            "WEBHOOK_URL": "https://bench.example.org",
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_PORT": str(port),
            "THROTTLE_RATE": "0",
            "LOG_LEVEL": "WARNING",
            "BACKUP_KEEP": "0",
        }
        env.pop("HEALTH_PORT", None)
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable, "main.py", "run", cwd=ROOT, env=env
            )
            for _ in range(workers)
        ]
        try:
            async with asyncio.timeout(120):  # every worker has set the webhook
                while len(server.requests_for("setWebhook")) < workers:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            latencies: list[float] = []
            counter = iter(range(1, 10**9))
            connector = aiohttp.TCPConnector(limit=citizens, force_close=True)
            async with aiohttp.ClientSession(connector=connector) as http:

                async def citizen(user_id: int, steps: int) -> None:
                    loop = asyncio.get_running_loop()
                    for step in range(steps):
                        answered: asyncio.Future[float] = loop.create_future()
                        waiting[user_id] = answered
                        started = time.perf_counter()
                        text = "/start" if step == 0 else COMMANDS[step % len(COMMANDS)]
                        async with http.post(
                            f"http://127.0.0.1:{port}/webhook",
                            json=_update(next(counter), user_id, text),
                            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                        ) as response:
                            assert response.status == 200, response.status
                        done = await asyncio.wait_for(answered, 30)
                        if step:  # the first /start warms the user up
                            latencies.append(done - started)
                        await asyncio.sleep(0.02)  # late second messages land meanwhile

                # Warm-up: every citizen starts once (user rows, form state, caches).
                await asyncio.gather(*(citizen(u, 1) for u in ids))
                cpu_before = [_cpu_seconds(p.pid) for p in procs]
                driver_before = time.process_time()
                started = time.perf_counter()
                await asyncio.gather(*(citizen(u, updates + 1) for u in ids))
                elapsed = time.perf_counter() - started
                cpu = sum(_cpu_seconds(p.pid) - b for p, b in zip(procs, cpu_before, strict=True))
                driver_cpu = time.process_time() - driver_before
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            await redis.flushdb()
            await redis.aclose()
            await drop()
    handled = len(latencies)
    latencies.sort()
    return {
        "workers": workers,
        "updates": handled,
        "rate": handled / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p95": latencies[int(0.95 * (handled - 1))] * 1000,
        "cpu_per_update": cpu / handled * 1000,
        "worker_cpu": cpu / elapsed,
        "driver_cpu": driver_cpu / elapsed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.workers", description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--citizens", type=int, default=60)
    parser.add_argument("--updates", type=int, default=10, help="per citizen")
    parser.add_argument("--latency", type=float, default=0.05, help="Bot API seconds")
    args = parser.parse_args(argv)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{os.cpu_count()} CPUs, load average {load}; {args.citizens} citizens x "
        f"{args.updates} updates, Bot API {args.latency * 1000:.0f} ms"
    )
    print(
        "| workers | updates/s | p50 reply | p95 reply | worker CPU per update | "
        "workers' CPU (cores) | citizens + fake API CPU (cores) |"
    )
    print("|---|---|---|---|---|---|---|")
    for workers in args.workers:
        r = asyncio.run(run(workers, args.citizens, args.updates, args.latency))
        print(
            f"| {workers} | {r['rate']:.0f} | {r['p50']:.0f} ms | {r['p95']:.0f} ms | "
            f"{r['cpu_per_update']:.1f} ms | {r['worker_cpu']:.2f} | {r['driver_cpu']:.2f} |",
            flush=True,
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
