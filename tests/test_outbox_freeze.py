"""A worker frozen (SIGSTOP) in the middle of a broadcast while another takes its rows
over, then thawed (SIGCONT): the rows it still held in memory are dropped, not sent, so
the only duplicates are the requests it had in flight when it froze.

On PostgreSQL, as several workers run: a SQLite writer frozen inside its transaction
would hold the file's write lock and stop every other process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter

import pytest

from bot.config import PROJECT_ROOT, load_settings
from bot.runner import BotProcess
from db.database import Database
from db.dto import NewDelivery
from db.models import User
from db.repo import Repos
from sandbox.telegram import Event, EventKind, FakeBotAPI

TOKEN = "123456789:FREEZE-test"
RECIPIENTS = 400
CONCURRENCY = 8
STALE_AFTER = 1.0
BATCH = 150  # rows a worker holds: far more than it has in flight
FREEZE_AFTER = 60


@pytest.mark.postgres
async def test_frozen_worker_drops_what_it_held(pg_migrated_url: str) -> None:
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": pg_migrated_url,
        "BROADCAST_RATE": "100",
        "SCHEDULER_ENABLED": "false",
        "LOG_LEVEL": "ERROR",
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.crash_worker",
        str(CONCURRENCY),
        str(STALE_AFTER),
        str(BATCH),
        cwd=PROJECT_ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        async with FakeBotAPI(token=TOKEN, max_recorded_requests=10) as server:
            env["BOT_API_URL"] = server.api_base
            staff = server.add_user(1, "Staff")
            source = staff.send_text("Занятие переносится")
            ids = range(20_000, 20_000 + RECIPIENTS)
            for user_id in ids:
                server.add_user(user_id, f"U{user_id}", language_code="ru")
            recipients = set(ids)
            delivered: Counter[int] = Counter()
            enough = asyncio.Event()

            def count(event: Event) -> None:
                message = event.message
                sent = event.kind is EventKind.MESSAGE_SENT and message is not None
                if sent and message.chat_id in recipients:  # type: ignore[union-attr]
                    delivered[message.chat_id] += 1  # type: ignore[union-attr]
                    if delivered.total() >= FREEZE_AFTER:
                        enough.set()

            server.subscribe(count)
            db = Database(env["DATABASE_URL"])
            await db.migrate()
            async with db.transaction() as s:
                s.add_all(User(id=i, locale="ru", is_active=True) for i in ids)
            payload = {"type": "copy", "from_chat_id": 1, "message_id": source["message_id"]}
            await Repos.create(db).deliveries.enqueue(
                [NewDelivery("broadcast", f"freeze:{i}", i, payload) for i in ids]
            )
            await db.dispose()

            assert worker.stdin is not None
            worker.stdin.write(f"{server.api_base}\n".encode())
            await worker.stdin.drain()
            await asyncio.wait_for(enough.wait(), 60)
            worker.send_signal(signal.SIGSTOP)  # frozen, holding a batch
            frozen_at = delivered.total()
            assert frozen_at < RECIPIENTS

            # Another worker takes the frozen one's rows once they are stale, sends all.
            settings = load_settings(env, require_token=True)
            other = BotProcess(
                settings,
                seed_catalog=False,
                outbox_options={
                    "concurrency": CONCURRENCY,
                    "stale_after": STALE_AFTER,
                    "rate": 400,
                },
            )
            await other.start(polling=False)
            try:
                assert other.outbox is not None and other.app is not None
                repo = other.app.repo
                loop = asyncio.get_running_loop()
                last, quiet_since = -1, loop.time()
                async with asyncio.timeout(60):
                    while (await repo.deliveries.counts()).remaining:
                        if delivered.total() != last:
                            last, quiet_since = delivered.total(), loop.time()
                        elif loop.time() - quiet_since > 3:
                            break  # the rest is in the frozen worker's open transaction
                        await asyncio.sleep(0.1)
                all_taken_over = not (await repo.deliveries.counts()).remaining
                before_thaw = delivered.total()
                worker.send_signal(signal.SIGCONT)  # it wakes up with its old batch
                await asyncio.sleep(2.5 * STALE_AFTER)
                after_thaw = delivered.total() - before_thaw
                async with asyncio.timeout(30):
                    while (await repo.deliveries.counts()).remaining:  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
            finally:
                await other.stop()
    finally:
        if worker.returncode is None:
            worker.send_signal(signal.SIGCONT)
            worker.kill()
            await worker.wait()

    missing = [i for i in ids if delivered[i] == 0]
    duplicates = sum(n - 1 for n in delivered.values() if n > 1)
    print(
        f"\nfreeze test: frozen after {frozen_at} of {RECIPIENTS}, holding up to {BATCH}; "
        f"sent by it after the thaw: {after_thaw}; duplicates: {duplicates} "
        f"(in flight at most {CONCURRENCY})"
    )
    assert missing == []
    if all_taken_over:  # then whatever went out after the thaw came from the frozen one
        assert after_thaw <= CONCURRENCY
    assert duplicates <= CONCURRENCY
