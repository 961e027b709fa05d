"""The deliveries repository on SQLite and PostgreSQL: enqueue once, claim each row once
(also from two "processes" at a time), outcomes only from the holder, stale claims taken
back, expired rows skipped; and two outboxes over one database never send a row twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.outbox import Outbox, OutboxSession
from db.database import Database
from db.dto import DeliveryResult, NewDelivery
from db.repo import Repos
from sandbox.telegram import FakeBotAPI
from tests.factories import make_catalogue, make_users

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
TOKEN = "42:OUTBOX-test"


def rows(
    ids: range | list[int],
    *,
    key: str = "t",
    not_before: datetime = NOW,
    expires_at: datetime | None = None,
) -> list[NewDelivery]:
    payload = {"type": "copy", "from_chat_id": 1, "message_id": 1}
    return [
        NewDelivery(
            "notice", f"{key}:{i}", i, payload, not_before=not_before, expires_at=expires_at
        )
        for i in ids
    ]


async def test_enqueue_is_idempotent(any_db: Database) -> None:
    repo = Repos.create(any_db)
    seen: list[int] = []
    repo.deliveries.add_listener(seen.append)
    assert await repo.deliveries.enqueue(rows(range(1, 1201))) == 1200  # several INSERTs
    assert await repo.deliveries.enqueue(rows(range(1, 11))) == 0
    assert await repo.deliveries.enqueue(rows(range(1195, 1206))) == 5
    assert seen == [1200, 5]
    assert (await repo.deliveries.counts()).pending == 1205


async def test_a_staff_answer_and_its_mark_are_one_transaction(any_db: Database) -> None:
    """The answer's deliveries and the conversation's "answered" mark commit together: the
    outbox (woken after the commit) never sends an answer the conversation does not
    record, and a failure between the two writes leaves neither."""
    repo = Repos.create(any_db)
    cat = await make_catalogue(any_db)
    await make_users(any_db, [7, 900])
    conversation = await repo.conversations.start(7, cat.centre_id, NOW)
    await repo.conversations.add_message(conversation.id, "in", now=NOW, author_id=7)
    answer = rows([7], key="reply")

    async def mark(s: AsyncSession) -> None:
        await repo.conversations.write_message(s, conversation.id, "out", now=NOW, author_id=900)
        seen_before_commit.append(len(seen))

    async def mark_then_fail(s: AsyncSession) -> None:
        await mark(s)
        raise RuntimeError("the process dies between the two writes")

    seen: list[int] = []
    seen_before_commit: list[int] = []
    repo.deliveries.add_listener(seen.append)
    with pytest.raises(RuntimeError):
        await repo.deliveries.enqueue(answer, also=mark_then_fail)
    assert (await repo.deliveries.counts()).pending == 0
    waiting = await repo.conversations.get(conversation.id)
    assert waiting is not None and waiting.answered_by is None
    assert waiting.waiting_since is not None and seen == []

    assert await repo.deliveries.enqueue(answer, also=mark) == 1
    answered = await repo.conversations.get(conversation.id)
    assert answered is not None and answered.answered_by == 900
    assert answered.waiting_since is None
    assert (await repo.deliveries.counts()).pending == 1
    assert seen_before_commit == [0, 0] and seen == [1]  # the outbox woken after the commit


async def test_claim_takes_due_rows_once_and_skips_expired(any_db: Database) -> None:
    repo = Repos.create(any_db)
    await make_users(any_db, range(1, 11))
    await repo.deliveries.enqueue(rows(range(1, 7)))
    await repo.deliveries.enqueue(rows([7], key="later", not_before=NOW + timedelta(minutes=5)))
    await repo.deliveries.enqueue(rows([8], key="gone", expires_at=NOW - timedelta(seconds=1)))
    first = await repo.deliveries.claim("a", 4, NOW)
    second = await repo.deliveries.claim("b", 4, NOW)
    assert [d.user_id for d in first] == [1, 2, 3, 4]
    assert [d.user_id for d in second] == [5, 6]  # not the future one, not the expired one
    assert first[0].user is not None and first[0].user.locale == "en"
    assert await repo.deliveries.claim("b", 4, NOW) == []
    assert await repo.deliveries.next_due() == NOW
    assert await repo.deliveries.expire(NOW) == 1
    later = await repo.deliveries.claim("b", 4, NOW + timedelta(minutes=5))
    assert [d.user_id for d in later] == [7]
    counts = await repo.deliveries.counts()
    assert (counts.claimed, counts.skipped, counts.pending) == (7, 1, 0)


async def test_outcomes_are_written_only_by_the_holder(any_db: Database) -> None:
    repo = Repos.create(any_db)
    await make_users(any_db, range(1, 6))
    await repo.deliveries.enqueue(rows(range(1, 6)))
    held = await repo.deliveries.claim("a", 5, NOW)
    d1, d2, d3, d4, d5 = (d.id for d in held)
    await repo.deliveries.finish("b", [DeliveryResult(d1, "sent", message_id=9)], NOW)
    assert (await repo.deliveries.counts()).sent == 0  # not b's row
    await repo.deliveries.finish(
        "a",
        [
            DeliveryResult(d1, "sent", message_id=9),
            DeliveryResult(d2, "blocked", "Forbidden: bot was blocked by the user", user_id=2),
            DeliveryResult(d3, "failed", "Bad Request: chat not found"),
            DeliveryResult(d4, "retry", "Bad Gateway", not_before=NOW + timedelta(seconds=30)),
        ],
        NOW,
    )
    assert await repo.deliveries.release("a") == 1  # d5 back to pending
    counts = await repo.deliveries.counts()
    assert (counts.sent, counts.blocked, counts.failed, counts.pending) == (1, 1, 1, 2)
    assert not (await repo.users.get(2)).is_active  # type: ignore[union-attr]
    again = await repo.deliveries.claim("c", 5, NOW)
    assert [d.id for d in again] == [d5]
    retried = await repo.deliveries.claim("c", 5, NOW + timedelta(seconds=30))
    assert [(d.id, d.attempts) for d in retried] == [(d4, 1)]


async def test_stale_claims_go_back_unless_refreshed(any_db: Database) -> None:
    repo = Repos.create(any_db)
    await make_users(any_db, range(1, 5))
    await repo.deliveries.enqueue(rows(range(1, 5)))
    await repo.deliveries.claim("dead", 2, NOW)
    await repo.deliveries.claim("alive", 2, NOW)
    later = NOW + timedelta(seconds=90)
    assert await repo.deliveries.heartbeat("alive", later) == 2
    assert await repo.deliveries.reclaim_stale(later - timedelta(seconds=60)) == 2
    counts = await repo.deliveries.counts()
    assert (counts.pending, counts.claimed) == (2, 2)


async def test_concurrent_claims_never_overlap(any_db: Database) -> None:
    """Two databases objects (two processes' pools) and many claimers at once."""
    other = Database(any_db.url)
    try:
        repos = [Repos.create(any_db), Repos.create(other)]
        await make_users(any_db, range(1, 401))
        await repos[0].deliveries.enqueue(rows(range(1, 401)))

        async def claimer(n: int) -> list[int]:
            repo = repos[n % 2]
            got: list[int] = []
            while batch := await repo.deliveries.claim(f"w{n}", 7, NOW):
                got += [d.id for d in batch]
            return got

        results = await asyncio.gather(*(claimer(n) for n in range(8)))
        claimed = [i for r in results for i in r]
        assert len(claimed) == len(set(claimed)) == 400
        assert sum(1 for r in results if r) >= 2
    finally:
        await other.dispose()


async def _copies_of_a_staff_message(
    server: FakeBotAPI, db: Database, ids: range
) -> list[NewDelivery]:
    """Citizens ``ids`` (in the fake Telegram and the database) and one broadcast row
    each: a copy of a staff member's message."""
    source = server.add_user(1, "Staff").send_text("Hello")
    for i in ids:
        server.add_user(i, f"U{i}")
    await make_users(db, ids)
    payload = {"type": "copy", "from_chat_id": 1, "message_id": source["message_id"]}
    return [NewDelivery("broadcast", f"b:{i}", i, payload) for i in ids]


async def test_two_outboxes_over_one_database_send_each_row_once(any_db: Database) -> None:
    async with FakeBotAPI(token=TOKEN, latency=0.005) as server:
        ids = range(100, 400)
        copies = await _copies_of_a_staff_message(server, any_db, ids)
        other = Database(any_db.url)
        outboxes: list[Outbox] = []
        bots: list[Bot] = []
        try:
            for db in (any_db, other):
                bot = Bot(
                    TOKEN, session=OutboxSession(api=TelegramAPIServer.from_base(server.api_base))
                )
                bots.append(bot)
                # A few slots each: one outbox alone cannot claim every row at once, so
                # both must take part (the point of the test), whatever the timing.
                outbox = Outbox(
                    Repos.create(db), Translator(), bot, rate=1000, batch_size=20, concurrency=8
                )
                outboxes.append(outbox)
                await outbox.start()
            await outboxes[0].repo.deliveries.enqueue(copies)
            outboxes[1].wake()  # in production it finds them at its next poll
            await asyncio.gather(*(o.wait_idle() for o in outboxes))
            per_chat = Counter(int(r.params["chat_id"]) for r in server.requests_for("copyMessage"))
            assert per_chat == Counter(dict.fromkeys(ids, 1))
            assert all(o.stats.sent > 0 for o in outboxes)
            assert sum(o.stats.sent for o in outboxes) == len(ids)
            assert (await outboxes[0].repo.deliveries.counts()).sent == len(ids)
        finally:
            for outbox in outboxes:
                await outbox.stop()
            for bot in bots:
                await bot.session.close()
            await other.dispose()


async def test_rows_enqueued_while_the_outbox_reads_its_queue_keep_it_busy(
    sqlite_db: Database,
) -> None:
    """An outbox that reads "nothing due" while rows are being enqueued and it is woken is
    not idle: ``wait_idle`` returns only once those rows are sent and counted."""
    async with FakeBotAPI(token=TOKEN, latency=0.005) as server:
        ids = range(100, 110)
        copies = await _copies_of_a_staff_message(server, sqlite_db, ids)
        bot = Bot(TOKEN, session=OutboxSession(api=TelegramAPIServer.from_base(server.api_base)))
        outbox = Outbox(Repos.create(sqlite_db), Translator(), bot, rate=1000)
        deliveries = outbox.repo.deliveries
        reading, release = asyncio.Event(), asyncio.Event()
        real_next_due = deliveries.next_due

        async def next_due_read_before_the_rows() -> datetime | None:
            if not release.is_set():
                reading.set()
                await release.wait()
                return None  # what the queue held when the read began
            return await real_next_due()

        deliveries.next_due = next_due_read_before_the_rows  # type: ignore[method-assign]
        try:
            await outbox.start()
            await reading.wait()  # the outbox found nothing to claim and reads the queue
            await deliveries.enqueue(copies)
            outbox.wake()
            release.set()
            await outbox.wait_idle()
            assert outbox.stats.sent == len(ids)
            assert len(server.requests_for("copyMessage")) == len(ids)
        finally:
            await outbox.stop()
            await bot.session.close()
