"""Several senders, one bot: the send rate, the 429 pauses and the per-chat spacing are
shared through Redis, so two outboxes together stay under a limit the fake Bot API
enforces globally (zero 429s) — where unshared they overrun it. Also the in-flight
window that follows the round trip."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer

from bot.i18n import Translator
from bot.outbox import Outbox, OutboxSession, SharedPacing, Window
from db.database import Database
from db.dto import NewDelivery
from db.models import User
from db.repo import Repos
from sandbox.telegram import FakeBotAPI, RateLimits
from tests.conftest import REDIS_URL, service_missing

TOKEN = "42:SHARED-test"
RATE = 40.0
SINGLE = range(1000, 1160)  # one message each
TRIPLE = range(2000, 2010)  # three messages each: per-chat spacing across the senders


@pytest.fixture
async def redis_clients() -> AsyncIterator[list[object]]:
    from redis.asyncio import Redis

    clients = [Redis.from_url(REDIS_URL), Redis.from_url(REDIS_URL)]
    try:
        await clients[0].ping()
    except OSError as exc:
        service_missing("Redis at 127.0.0.1:6379", exc)
    yield list(clients)
    for client in clients:
        await client.aclose()


async def send_with_two(
    tmp_path: Path, shared: list[SharedPacing | None]
) -> tuple[int, Counter[int], float]:
    """Two outboxes over one database, one fake server limited to RATE/s overall (half a
    second of burst: the senders and the server share one busy event loop here) and 1/s
    per chat; returns the 429s, messages per chat and the seconds it took."""
    limits = RateLimits(
        global_per_second=RATE,
        global_burst=int(RATE // 2),
        private_chat_per_second=1.0,
        private_chat_burst=1,
    )
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/{uuid.uuid4().hex}.sqlite3")
    await db.migrate()
    bots: list[Bot] = []
    outboxes: list[Outbox] = []
    async with FakeBotAPI(token=TOKEN, rate_limits=limits, latency=0.01) as server:
        ids = [*TRIPLE, *SINGLE]  # the spaced chats first: the rest flows meanwhile
        async with db.transaction() as s:
            for user_id in ids:
                server.add_user(user_id, f"U{user_id}")
                s.add(User(id=user_id, locale="ru", is_active=True))
        rows = [
            NewDelivery("broadcast", f"m{n}:{i}", i, {"type": "text", "key": "error-generic"})
            for i in ids
            for n in range(3 if i in TRIPLE else 1)
        ]
        await Repos.create(db).deliveries.enqueue(rows)
        for pacing in shared:
            bot = Bot(
                TOKEN, session=OutboxSession(api=TelegramAPIServer.from_base(server.api_base))
            )
            bots.append(bot)
            outbox = Outbox(
                Repos.create(db), Translator(), bot, rate=RATE, shared=pacing,
                pause_scale=0.2, batch_size=20,
            )  # fmt: skip
            outboxes.append(outbox)
        for outbox in outboxes:
            await outbox.start()
        async with asyncio.timeout(60):
            while (await Repos.create(db).deliveries.counts()).remaining:
                await asyncio.gather(*(o.wait_idle() for o in outboxes))
                await asyncio.sleep(0.05)
        for outbox in outboxes:
            await outbox.stop()
        for bot in bots:
            await bot.session.close()
        sent = [r for r in server.requests_for("sendMessage") if r.ok]
        per_chat = Counter(int(r.params["chat_id"]) for r in sent)
        times = sorted(r.at_monotonic for r in sent)
        rate = (len(times) - 1) / (times[-1] - times[0])
    await db.dispose()
    limited = sum(o.stats.rate_limited for o in outboxes)
    assert all(o.stats.requests > 20 for o in outboxes)  # both took part
    return limited, per_chat, rate


async def test_two_senders_share_one_rate_and_the_chat_spacing(
    tmp_path: Path, redis_clients: list[object]
) -> None:
    prefix = f"test:outbox:{uuid.uuid4().hex}"
    shared = [SharedPacing(client, prefix, RATE) for client in redis_clients]
    limited, per_chat, rate = await send_with_two(tmp_path, list(shared))
    print(f"\nshared: two senders together at {rate:.1f}/s (configured {RATE:g}), 429s: {limited}")
    assert limited == 0
    assert per_chat == Counter({**dict.fromkeys(SINGLE, 1), **dict.fromkeys(TRIPLE, 3)})
    assert RATE * 0.8 <= rate <= RATE * 1.05  # one rate, not two


async def test_unshared_senders_overrun_a_global_limit(tmp_path: Path) -> None:
    """The control: the same two senders, each pacing itself, get 429s."""
    limited, per_chat, _rate = await send_with_two(tmp_path, [None, None])
    assert limited > 0
    assert set(per_chat) == {*SINGLE, *TRIPLE}  # still delivered, after the pauses


async def test_window_follows_the_round_trip() -> None:
    window = Window(8, rate=30, adaptive=True)
    for _ in range(40):
        window.observe(0.3)
    assert window.limit == 16  # 30/s x 0.3 s x 1.5 + 2
    for _ in range(60):
        window.observe(0.0)
    assert window.limit == 3  # the floor of 2, plus one for a round trip near zero
    fixed = Window(8, rate=30, adaptive=False)
    fixed.observe(1.0)
    assert fixed.limit == 8
    for _ in range(3):
        await window.acquire()
    fourth = asyncio.create_task(window.acquire())
    await asyncio.sleep(0.01)
    assert not fourth.done()  # full
    window.observe(0.3)  # the round trip grew: more room
    await asyncio.wait_for(fourth, 1)
    window.release()
    assert window.in_flight == 3
