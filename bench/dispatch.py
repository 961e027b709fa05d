"""Dispatch benchmark: the sign-up conversation through real polling, many users at once.

Runs the real bot (BotProcess: every middleware, the SQL FSM storage, SQLite) against the
project's fake Bot API server over HTTP, with N simulated citizens each going through the
whole sign-up (12 steps). Then, in the same run and on the same server, a bare aiogram echo
bot answers the same number of messages from the same number of users. Prints updates per
second and p50/p99 latency (user action → the bot's answer) for both, and their ratios.

    .venv/bin/python -m bench.dispatch [--users 100] [--latency 0.05]

The fake server answers at once by default; ``--latency`` adds that many seconds to every
Bot API answer (both bots), as a network round trip would.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

from bot.i18n import LANGUAGE_NAMES, pick_text
from db.repo.applications import ApplicationFilter
from sandbox.harness import TOKEN, BotHarness
from sandbox.telegram import ChatMessage, EventKind, FakeBotAPI, FakeUser
from sandbox.telegram.models import Event

REPLY_KINDS = frozenset({EventKind.MESSAGE_SENT, EventKind.MESSAGE_EDITED})


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    updates: int = 0
    elapsed: float = 0.0

    def line(self, name: str) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        return (
            f"{name:<22} {self.updates / self.elapsed:>9.0f} updates/s   "
            f"p50 {p50:>7.1f} ms   p99 {p99:>7.1f} ms   ({self.updates} updates)"
        )

    @property
    def rate(self) -> float:
        return self.updates / self.elapsed

    def pct(self, q: float) -> float:
        lat = sorted(self.latencies)
        return lat[min(len(lat) - 1, int(len(lat) * q))]


async def wait_for(
    server: FakeBotAPI, user: FakeUser, match: Callable[[ChatMessage], bool], point: int
) -> ChatMessage:
    chat = server.sim.chat(user.id)

    def predicate(event: Event) -> bool:
        return (
            event.chat_id == user.id
            and event.kind in REPLY_KINDS
            and event.seq > point
            and event.message is not None
            and match(event.message)
        )

    event = await server.sim.wait_event(predicate, 30.0, past=chat.bot_events)
    assert event.message is not None
    return event.message


async def step(
    server: FakeBotAPI,
    user: FakeUser,
    stats: Stats,
    action: Callable[[], object],
    match: Callable[[ChatMessage], bool],
) -> ChatMessage:
    point = server.sim.chat(user.id).last_user_seq if server.sim.chat(user.id) else 0
    started = time.perf_counter()
    action()
    point = max(point, server.sim.chat(user.id).last_user_seq - 1)
    reply = await wait_for(server, user, match, point)
    stats.latencies.append(time.perf_counter() - started)
    stats.updates += 1
    return reply


def has(text: str) -> Callable[[ChatMessage], bool]:
    return lambda m: text in m.content


def has_button(text: str) -> Callable[[ChatMessage], bool]:
    return lambda m: text in m.buttons()


async def signup_conversation(h: BotHarness, user: FakeUser, stats: Stats) -> None:
    tr = h.app.translator
    loc = "en"
    centre = (await h.repo.catalogue.centres())[0]
    course = (await h.repo.catalogue.courses(centre.id))[0]
    districts = await h.repo.catalogue.districts(centre.region_id)
    s = h.server
    picker_label = f"✓ {LANGUAGE_NAMES[loc]}"
    await step(s, user, stats, lambda: user.send_command("start"), has_button(picker_label))
    await step(
        s,
        user,
        stats,
        lambda: user.press_button(picker_label),
        has(tr.plain(loc, "start-welcome").split("\n")[0][:12]),
    )
    await step(
        s,
        user,
        stats,
        lambda: user.send_text(tr.plain(loc, "menu-catalogue")),
        has_button(
            tr.plain(loc, "catalogue-centre-button", name=centre.name["en"], city=centre.city["en"])
        ),
    )
    await step(
        s,
        user,
        stats,
        lambda: user.press_button(
            tr.plain(loc, "catalogue-centre-button", name=centre.name["en"], city=centre.city["en"])
        ),
        has_button(f"🟢 {pick_text(course.title, loc)}"),
    )
    await step(
        s,
        user,
        stats,
        lambda: user.press_button(f"🟢 {pick_text(course.title, loc)}"),
        has_button(tr.plain(loc, "course-signup")),
    )
    await step(
        s,
        user,
        stats,
        lambda: user.press_button(tr.plain(loc, "course-signup")),
        has_button(tr.plain(loc, "signup-consent-agree")),
    )
    await step(
        s,
        user,
        stats,
        lambda: user.press_button(tr.plain(loc, "signup-consent-agree")),
        has("phone number"),
    )
    await step(
        s,
        user,
        stats,
        lambda: user.press_reply_button(tr.plain(loc, "signup-share-phone")),
        has("What is your"),  # the contact carries a first name only: the name is asked
    )
    await step(
        s,
        user,
        stats,
        lambda: user.send_text("Serikova Aida"),
        has_button(pick_text(districts[0].name, loc)),
    )
    await step(
        s,
        user,
        stats,
        lambda: user.press_button(pick_text(districts[0].name, loc)),
        has_button(tr.plain(loc, "signup-any-group")),
    )
    await step(
        s,
        user,
        stats,
        lambda: user.press_button(tr.plain(loc, "signup-any-group")),
        has_button(tr.plain(loc, "signup-confirm")),
    )
    await step(
        s,
        user,
        stats,
        lambda: user.press_button(tr.plain(loc, "signup-confirm")),
        has("Application No."),
    )


async def bench_bot(users: int, workdir: Path, latency: float = 0.0) -> Stats:
    stats = Stats()
    options = {"max_recorded_requests": 1000, "latency": latency}
    async with BotHarness(workdir, server_options=options) as h:
        people = [h.user(100_000 + i, language_code="en") for i in range(users)]
        started = time.perf_counter()
        await asyncio.gather(*(signup_conversation(h, u, stats) for u in people))
        stats.elapsed = time.perf_counter() - started
        _, total = await h.repo.applications.search(ApplicationFilter(), limit=1)
        assert total == users, f"expected {users} applications, got {total}"
    return stats


async def bench_echo(users: int, messages_each: int, latency: float = 0.0) -> Stats:
    """A bare aiogram bot: one async handler that echoes the text back."""
    stats = Stats()
    async with FakeBotAPI(token=TOKEN, max_recorded_requests=1000, latency=latency) as server:
        router = Router()

        @router.message()
        async def echo(message: Message) -> None:
            await message.answer(message.text or "")

        dp = Dispatcher()
        dp.include_router(router)
        bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(server.api_base)))
        polling = asyncio.create_task(
            dp.start_polling(bot, handle_signals=False, close_bot_session=False)
        )
        await server.wait_until_polling()
        people = [server.add_user(200_000 + i, language_code="en") for i in range(users)]

        async def talk(user: FakeUser) -> None:
            for n in range(messages_each):
                text = f"hello {n}"

                def send(text: str = text) -> object:
                    return user.send_text(text)

                await step(server, user, stats, send, has(text))

        started = time.perf_counter()
        await asyncio.gather(*(talk(u) for u in people))
        stats.elapsed = time.perf_counter() - started
        await dp.stop_polling()
        await polling
        await bot.session.close()
    return stats


async def main(users: int, latency: float) -> None:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        ours = await bench_bot(users, Path(tmp), latency)
    echo = await bench_echo(users, 12, latency)
    print(
        f"sign-up conversation, {users} users at once, 12 steps each, real polling over HTTP, "
        f"fake server answering after {latency * 1000:.0f} ms"
    )
    print(echo.line("bare aiogram echo bot"))
    print(ours.line("this bot (sign-up)"))
    print(
        f"ratio (this bot / echo): throughput {ours.rate / echo.rate:.2f}, "
        f"p50 latency {ours.pct(0.5) / echo.pct(0.5):.2f}x, "
        f"p99 latency {ours.pct(0.99) / echo.pct(0.99):.2f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds the fake server waits per answer"
    )
    args = parser.parse_args()
    asyncio.run(main(args.users, args.latency))
