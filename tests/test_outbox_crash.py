"""A bot process killed with SIGKILL in the middle of a 2,000-message broadcast, then
started again: every recipient gets the message, and only messages in flight at the
kill (at most the sender's concurrency) can have gone out twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

from bot.config import PROJECT_ROOT, load_settings
from bot.runner import BotProcess
from db.database import Database
from db.dto import NewDelivery
from db.models import User
from db.repo import Repos
from sandbox.telegram import Event, EventKind, FakeBotAPI
from tests.conftest import copy_database

TOKEN = "123456789:CRASH-test"
RECIPIENTS = 2000
CONCURRENCY = 16
KILL_AFTER = 700  # messages delivered when the first process dies


async def test_sigkill_mid_broadcast_loses_nothing(tmp_path: Path, migrated_db: Path) -> None:
    copy_database(migrated_db, tmp_path / "bot.sqlite3")
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3",
        "BROADCAST_RATE": "1000",
        "SCHEDULER_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    # The worker imports aiogram while this process prepares the server and database.
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.crash_worker",
        str(CONCURRENCY),
        cwd=PROJECT_ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
    )
    try:
        async with FakeBotAPI(token=TOKEN, max_recorded_requests=10) as server:
            env["BOT_API_URL"] = server.api_base
            staff = server.add_user(1, "Staff")
            source = staff.send_text("Регистрация на курсы открыта!")
            ids = range(10_000, 10_000 + RECIPIENTS)
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
                    if delivered.total() >= KILL_AFTER:
                        enough.set()

            server.subscribe(count)
            db = Database(env["DATABASE_URL"])
            await db.migrate()
            async with db.transaction() as s:
                s.add_all(User(id=i, locale="ru", is_active=True) for i in ids)
            payload = {"type": "copy", "from_chat_id": 1, "message_id": source["message_id"]}
            await Repos.create(db).deliveries.enqueue(
                [NewDelivery("broadcast", f"crash:{i}", i, payload) for i in ids]
            )
            await db.dispose()

            assert worker.stdin is not None
            worker.stdin.write(f"{server.api_base}\n".encode())
            await worker.stdin.drain()
            await asyncio.wait_for(enough.wait(), 60)
            worker.send_signal(signal.SIGKILL)
            await worker.wait()
            before_restart = delivered.total()
            assert KILL_AFTER <= before_restart < RECIPIENTS, "killed mid-run"

            # Started again (here): rows the dead process held come back once stale.
            settings = load_settings(env, require_token=True)
            process = BotProcess(
                settings,
                seed_catalog=False,
                outbox_options={"concurrency": CONCURRENCY, "stale_after": 1.0},
            )
            await process.start(polling=False)
            try:
                assert process.outbox is not None and process.app is not None
                repo = process.app.repo
                async with asyncio.timeout(60):  # a stuck outbox fails here, not hangs
                    while (await repo.deliveries.counts()).remaining:
                        await process.outbox.wait_idle()
                        await asyncio.sleep(0.1)  # the dead process's claims go stale after 1 s
                counts = await repo.deliveries.counts()
            finally:
                await process.stop()
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()

    missing = [i for i in ids if delivered[i] == 0]
    duplicates = sum(n - 1 for n in delivered.values() if n > 1)
    print(
        f"\ncrash test: {before_restart} of {RECIPIENTS} delivered before SIGKILL; after the "
        f"restart every recipient has it; duplicates: {duplicates} (concurrency {CONCURRENCY})"
    )
    assert missing == []
    assert counts.sent == RECIPIENTS
    assert duplicates <= CONCURRENCY
