"""Several bot processes on one PostgreSQL database: three started at once on a fresh
database all come up (migrations and seeding under an advisory lock), exactly one runs
the scheduler, and another takes it over when that one stops."""

from __future__ import annotations

import asyncio

import pytest

from bot.config import load_settings
from bot.runner import BotProcess
from sandbox.telegram import FakeBotAPI

TOKEN = "123456789:WORKERS-test"
pytestmark = pytest.mark.postgres


async def test_three_workers_start_together_one_leads(pg_url: str) -> None:
    async with FakeBotAPI(token=TOKEN) as server:
        env = {
            "BOT_TOKEN": TOKEN,
            "BOT_API_URL": server.api_base,
            "DATABASE_URL": pg_url,
            "ADMIN_IDS": "1,2",
            "BACKUP_KEEP": "0",
        }
        settings = load_settings(env, require_token=True)
        workers = [BotProcess(settings) for _ in range(3)]
        for worker in workers:
            worker.leader_retry = 0.1
        try:
            # A fresh database: each would migrate, add the admins and load the catalogue.
            # (Without the lock they deadlock or fail on each other's tables.)
            async with asyncio.timeout(60):
                await asyncio.gather(*(w.start(polling=False) for w in workers))
            leaders = [w for w in workers if w.scheduler is not None]
            assert len(leaders) == 1
            repo = workers[0].app.repo  # type: ignore[union-attr]
            centres = await repo.catalogue.centres()
            assert centres
            names = [c.name for c in centres]
            assert len(names) == len({str(n) for n in names})  # loaded once, not thrice
            assert await repo.staff.list() == []  # admins get a row once they /start

            # The leader stops: one of the others takes the scheduler over.
            await leaders[0].stop()
            rest = [w for w in workers if w is not leaders[0]]
            async with asyncio.timeout(10):
                while not any(w.scheduler is not None for w in rest):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            assert sum(w.scheduler is not None for w in rest) == 1
            leader = next(w for w in rest if w.scheduler is not None)
            assert leader.app is not None
            assert leader.app.dispatcher["scheduler"] is leader.scheduler
        finally:
            for worker in workers:
                await worker.stop()
