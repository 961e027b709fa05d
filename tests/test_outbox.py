"""The outbox sender against the fake Bot API: what it sends (renderers, the recipient's
language), how fast (the global rate, per-chat spacing) and what it never sends."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer

from bot.clock import ManualClock
from bot.formatting import fmt_datetime
from bot.i18n import BoundTranslator, Translator
from bot.outbox import Outbox, OutboxSession, Rendered
from db.database import Database
from db.dto import NewDelivery, UserDTO
from db.models import User
from db.repo import Repos
from sandbox.telegram import FakeBotAPI

TOKEN = "42:OUTBOX-test"
MakeOutbox = Callable[..., Outbox]


@pytest.fixture
async def server() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as api:
        yield api


@pytest.fixture
async def make_outbox(sqlite_db: Database, server: FakeBotAPI) -> AsyncIterator[MakeOutbox]:
    made: list[Outbox] = []
    bots: list[Bot] = []

    def make(**options: Any) -> Outbox:
        bot = Bot(TOKEN, session=OutboxSession(api=TelegramAPIServer.from_base(server.api_base)))
        bots.append(bot)
        outbox = Outbox(Repos.create(sqlite_db), Translator(), bot, **options)
        made.append(outbox)
        return outbox

    yield make
    for outbox in made:
        await outbox.stop()
    for bot in bots:
        await bot.session.close()


async def people(db: Database, server: FakeBotAPI, spec: Mapping[int, str | None]) -> None:
    """Users by id with their stored locale (None: only Telegram's language, "ky")."""
    async with db.transaction() as s:
        for user_id, locale in spec.items():
            server.add_user(user_id, f"U{user_id}", language_code="ky")
            s.add(User(id=user_id, locale=locale, language_code="ky", is_active=True))


async def test_text_is_rendered_in_each_recipients_language(
    sqlite_db: Database, server: FakeBotAPI, make_outbox: MakeOutbox
) -> None:
    await people(sqlite_db, server, {1: "kk", 2: "ru", 3: None})
    outbox = make_outbox(rate=100)
    await outbox.start()
    starts = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    payload = {
        "type": "text",
        "key": "schedule-notice-header",
        "blocks": [
            {
                "key": "schedule-notice-cancelled",
                "params": {
                    "course": {"pick": {"kk": "Python kk", "ru": "Python ru", "ky": "Python ky"}},
                    "group": "<1>",
                    "when": {"datetime": starts.isoformat(), "tz": "Asia/Almaty"},
                },
            }
        ],
        "buttons": [[{"key": "btn-back", "callback_data": "my:l"}]],
    }
    await outbox.repo.deliveries.enqueue(
        [NewDelivery("notice", f"n:{i}", i, payload) for i in (1, 2, 3)]
    )
    await outbox.wait_idle()
    t = Translator()
    for user_id, locale in ((1, "kk"), (2, "ru"), (3, "ky")):
        [message] = server.user(user_id).bot_messages()
        expected = (
            t.get(locale, "schedule-notice-header")
            + "\n\n"
            + t.get(
                locale,
                "schedule-notice-cancelled",
                course=f"Python {locale}",
                group="<1>",  # escaped: user text never breaks the HTML
                when=fmt_datetime(starts, "Asia/Almaty", locale),
            )
        )
        assert message.html == expected
        assert message.buttons() == [t.plain(locale, "btn-back")]


async def test_a_registered_renderer_plugs_in_and_may_skip(
    sqlite_db: Database, server: FakeBotAPI, make_outbox: MakeOutbox
) -> None:
    await people(sqlite_db, server, {1: "en", 2: "en", 3: "en"})
    outbox = make_outbox(rate=100)

    async def reminder(
        payload: Mapping[str, Any], user: UserDTO, t: BoundTranslator
    ) -> Rendered | None:
        if user.id == 2:
            return None  # e.g. turned reminders off
        return Rendered(text=f"Class {payload['session']} for {user.id}")

    outbox.register_renderer("reminder", reminder)
    await outbox.start()
    await outbox.repo.deliveries.enqueue(
        [NewDelivery("reminder", f"r:{i}", i, {"type": "reminder", "session": 7}) for i in (1, 2)]
        + [NewDelivery("notice", "x:3", 3, {"type": "unknown"})]
    )
    await outbox.wait_idle()
    assert [m.content for m in server.user(1).bot_messages()] == ["Class 7 for 1"]
    assert server.user(2).bot_messages() == []
    counts = await outbox.repo.deliveries.counts()
    assert (counts.sent, counts.skipped, counts.failed) == (1, 1, 1)


async def test_the_rate_holds_and_one_chat_is_spaced(
    sqlite_db: Database, server: FakeBotAPI, make_outbox: MakeOutbox
) -> None:
    ids = range(1, 81)
    await people(sqlite_db, server, dict.fromkeys(ids, "en"))
    outbox = make_outbox(rate=100, per_chat_interval=0.2)
    await outbox.start()
    payload = {"type": "text", "key": "btn-back"}
    rows = [NewDelivery("notice", f"a:{i}", i, payload) for i in ids]
    rows += [NewDelivery("notice", f"b:{n}", 1, payload) for n in range(3)]
    await outbox.repo.deliveries.enqueue(rows)
    await outbox.wait_idle()
    calls = server.requests_for("sendMessage")
    assert len(calls) == 83 and all(r.ok for r in calls)
    times = sorted(r.at_monotonic for r in calls)
    burst = 10  # slots missed in up to 0.1 s may be made up for
    assert times[-1] - times[0] >= (83 - burst) / 100 - 0.02  # never faster than the rate
    for start in times:  # a half-second holds its share, one catch-up and a little jitter
        assert sum(1 for x in times if start <= x < start + 0.5) <= 50 + burst + 5
    to_one = sorted(r.at_monotonic for r in calls if r.params["chat_id"] == 1)
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(to_one))


async def test_never_sent_expired_or_to_inactive_users(
    sqlite_db: Database, server: FakeBotAPI, make_outbox: MakeOutbox
) -> None:
    await people(sqlite_db, server, {1: "en", 2: "en", 3: "en"})
    clock = ManualClock(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    outbox = make_outbox(rate=100, clock=clock)
    repo = outbox.repo
    await repo.users.set_active(2, False)
    now = clock.now()
    payload = {"type": "text", "key": "btn-back"}
    await repo.deliveries.enqueue(
        [
            NewDelivery("reminder", "r:1", 1, payload, not_before=now, expires_at=now),
            NewDelivery("notice", "n:2", 2, payload, not_before=now),
        ]
    )
    clock.advance(timedelta(seconds=1))  # the reminder's class has started
    await outbox.start()
    await outbox.wait_idle()
    counts = await repo.deliveries.counts()
    assert (counts.skipped, counts.blocked) == (1, 1)
    assert server.requests_for("sendMessage") == []

    later = clock.now() + timedelta(minutes=1)
    await repo.deliveries.enqueue([NewDelivery("notice", "n:3", 3, payload, not_before=later)])
    clock.set(later)
    await outbox.time_moved()
    await outbox.wait_idle()
    assert [int(r.params["chat_id"]) for r in server.requests_for("sendMessage")] == [3]


async def test_a_row_claimed_but_no_longer_held_is_given_back_and_sent(
    sqlite_db: Database, server: FakeBotAPI, make_outbox: MakeOutbox
) -> None:
    """A give-back that failed (the database busy under load) leaves a row claimed under
    this worker's id but held nowhere: the heartbeat must not keep it claimed for ever."""
    await people(sqlite_db, server, {1: "en"})
    outbox = make_outbox(rate=100, stale_after=0.4)
    repo = outbox.repo
    await repo.deliveries.enqueue(
        [NewDelivery("notice", "n:1", 1, {"type": "text", "key": "btn-back"})]
    )
    [row] = await repo.deliveries.claim(outbox.worker_id, 10, datetime.now(UTC))
    await outbox.start()  # claimed a moment ago: not stale, so not taken back at start
    async with asyncio.timeout(10):
        await server.wait_for(lambda r: r.method == "sendMessage" and r.ok)
        await outbox.wait_idle()
    assert (await repo.deliveries.counts()).sent == 1
    assert [r.params["chat_id"] for r in server.requests_for("sendMessage")] in ([1], ["1"])
    assert row.id not in outbox._owned  # written: the outbox answers for it no more


async def test_one_new_row_costs_one_claim(
    sqlite_db: Database, server: FakeBotAPI, make_outbox: MakeOutbox
) -> None:
    """A claim is a write transaction: after one that found less than it asked for, the
    outbox waits to be woken (a row enqueued here), polled or due before claiming again."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    await people(sqlite_db, server, {1: "en"})
    outbox = make_outbox(rate=100, poll_interval=60.0)
    await outbox.start()
    await outbox.wait_idle()
    claims: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # SQLite's claim: the due pending rows, oldest first, up to the limit.
        if statement.startswith("UPDATE deliveries SET status") and (
            "WHERE deliveries.id IN (SELECT" in statement
        ):
            claims.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        for n in range(3):
            await outbox.repo.deliveries.enqueue(
                [NewDelivery("notice", f"n:{n}", 1, {"type": "text", "key": "btn-back"})]
            )
            await outbox.wait_idle()
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert len(server.user(1).bot_messages()) == 3
    assert len(claims) == 3, claims
