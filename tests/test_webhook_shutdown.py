"""SIGTERM in webhook mode: the bot stops accepting, answers every update it already
acknowledged with 200, then closes its session and storage and exits cleanly.

The bot runs as ``python main.py run`` (webhook mode) against the fake Bot API, which
answers after 200 ms like a network; the test plays Telegram, posting updates to the
webhook with the secret, and sends SIGTERM while updates are still arriving."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp

from bot.config import PROJECT_ROOT
from sandbox.telegram import FakeBotAPI

TOKEN = "123456789:WEBHOOK-stop"
SECRET = "webhook-secret-for-the-test"
USERS = 60
FIRST = 50_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def update(n: int) -> dict[str, object]:
    user = {"id": FIRST + n, "is_bot": False, "first_name": f"U{n}", "language_code": "ru"}
    if n % 3 == 2:  # a button press: its answer may ride on the response (bot/webhook.py)
        chat = {"id": FIRST + n, "type": "private", "first_name": f"U{n}"}
        message = {"message_id": 1, "date": int(time.time()), "chat": chat, "text": "?"}
        query = {"id": f"q{n}", "from": user, "chat_instance": "1", "data": "stale:1"}
        return {"update_id": 1000 + n, "callback_query": query | {"message": message}}
    return {
        "update_id": 1000 + n,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": FIRST + n, "type": "private", "first_name": f"U{n}"},
            "from": user,
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def test_sigterm_answers_every_acknowledged_update(tmp_path: Path, template_db: Path) -> None:
    shutil.copy(template_db, tmp_path / "bot.sqlite3")
    port = free_port()
    async with FakeBotAPI(token=TOKEN, latency=0.2) as server:
        for n in range(USERS):
            server.add_user(FIRST + n, f"U{n}", language_code="ru")
        env = {
            **os.environ,
            "BOT_TOKEN": TOKEN,
            "BOT_API_URL": server.api_base,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3",
            "WEBHOOK_URL": "https://bot.example.org",
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_HOST": "127.0.0.1",
            "WEBHOOK_PORT": str(port),
            "SCHEDULER_ENABLED": "false",
            "THROTTLE_RATE": "0",
            "LOG_LEVEL": "WARNING",
        }
        bot = await asyncio.create_subprocess_exec(
            sys.executable,
            "main.py",
            "run",
            cwd=PROJECT_ROOT,
            env=env,
            stderr=asyncio.subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        acknowledged: list[int] = []
        in_response: list[int] = []
        some_acknowledged = asyncio.Event()
        refused = 0
        try:
            async with aiohttp.ClientSession() as http:
                async with asyncio.timeout(60):
                    while True:  # up once /healthz answers
                        try:
                            async with http.get(f"{base}/healthz") as r:
                                if r.status == 200:
                                    break
                        except aiohttp.ClientConnectionError:
                            pass
                        await asyncio.sleep(0.1)
                assert server.sim.webhook_url == "https://bot.example.org/webhook"

                async def post(n: int) -> None:
                    nonlocal refused
                    try:
                        async with http.post(
                            f"{base}/webhook",
                            json=update(n),
                            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                        ) as r:
                            if r.status == 200:
                                acknowledged.append(n)
                                if len(acknowledged) >= USERS // 3:
                                    some_acknowledged.set()
                                if (await r.json()).get("method") == "answerCallbackQuery":
                                    in_response.append(n)
                    except aiohttp.ClientError:
                        refused += 1  # not acknowledged: Telegram would send it again

                async def telegram() -> None:
                    for n in range(USERS):
                        asyncio.create_task(post(n))  # noqa: RUF006 - awaited below
                        await asyncio.sleep(0.01)

                sender = asyncio.create_task(telegram())
                async with asyncio.timeout(30):
                    await some_acknowledged.wait()
                bot.send_signal(signal.SIGTERM)  # updates are being handled: SIGTERM now
                await sender
                assert bot.stderr is not None
                errors = (await asyncio.wait_for(bot.stderr.read(), 30)).decode()
                rc = await asyncio.wait_for(bot.wait(), 30)
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
        answered = [
            n
            for n in acknowledged
            if server.requests_for("sendMessage", chat_id=FIRST + n)
            or n in in_response
            or any(
                r.params.get("callback_query_id") == f"q{n}"
                for r in server.requests_for("answerCallbackQuery")
            )
        ]
    print(f"\nwebhook SIGTERM: {len(acknowledged)} acknowledged, {refused} refused after it")
    assert rc == 0
    assert "ERROR" not in errors, errors  # no handler lost its session or database
    assert len(acknowledged) >= 5  # some arrived before the signal
    assert refused > 0  # and some after it: the bot stopped accepting
    assert sorted(answered) == sorted(acknowledged)  # each acknowledged one got its answer
    assert in_response  # button presses were answered in the response
