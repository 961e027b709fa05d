"""The sandbox without a browser: its HTTP API and WebSocket drive the real bot over the
fake Bot API; its guards keep it local; main.py starts it when there is no token."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import DEFAULT_DATABASE_URL, load_settings
from sandbox.telegram.media import SAMPLE_PNG
from sandbox.web import (
    PERSONAS,
    STAFF_CHAT_ID,
    Sandbox,
    SandboxError,
    SandboxHostError,
    SandboxServer,
    check_bind_host,
    run_sandbox,
    sandbox_settings,
)
from sandbox.web.core import SANDBOX_TOKEN
from sandbox.web.personas import JOHN, OLGA
from sandbox.web.view import map_url

Event = dict[str, Any]


@dataclass
class Client:
    sandbox: Sandbox
    server: SandboxServer
    http: aiohttp.ClientSession
    ws: aiohttp.ClientWebSocketResponse
    seen: list[Event]

    @property
    def url(self) -> str:
        return self.server.url

    async def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        async with self.http.post(self.url + path, json=body or {}) as response:
            data: dict[str, Any] = await response.json()
            assert response.status == 200, data
            return data

    async def get(self, path: str) -> dict[str, Any]:
        async with self.http.get(self.url + path) as response:
            assert response.status == 200
            data: dict[str, Any] = await response.json()
            return data

    async def event(self, predicate: Callable[[Event], bool], timeout: float = 10) -> Event:  # noqa: ASYNC109
        """The first pushed event (already received or coming) matching ``predicate``."""
        for event in self.seen:
            if predicate(event):
                return event
        async with asyncio.timeout(timeout):
            while True:
                message = await self.ws.receive()
                assert message.type is aiohttp.WSMsgType.TEXT, message
                pushed: Event = json.loads(message.data)
                self.seen.append(pushed)
                if predicate(pushed):
                    return pushed

    async def replies(self, chat_id: int, count: int = 1) -> None:
        """Until the bot has sent ``count`` messages to the chat (a test ends only once
        the bot is done with what it was sent)."""
        sent: list[Event] = []

        def match(event: Event) -> bool:
            if (
                event["type"] == "message"
                and event["chat_id"] == chat_id
                and event["message"]["sender"] == "bot"
                and not event["edited"]
            ):
                sent.append(event)
            return len(sent) >= count

        await self.event(match)

    async def bot_says(self, chat_id: int, contains: str) -> Event:
        def match(event: Event) -> bool:
            return (
                event["type"] == "message"
                and event["chat_id"] == chat_id
                and event["message"]["sender"] == "bot"
                and contains in event["message"]["html"]
            )

        return await self.event(match)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    settings = load_settings({"THROTTLE_RATE": "0"})
    async with Sandbox(settings, data_dir=tmp_path / "sandbox") as sandbox:
        server = SandboxServer(sandbox, host="127.0.0.1", port=0)
        await server.start()
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(server.url + "/ws") as ws,
            ):
                hello = await ws.receive_json()
                assert hello["type"] == "hello"
                yield Client(sandbox, server, http, ws, [])
        finally:
            await server.stop()


def t(client: Client, locale: str, key: str, **params: Any) -> str:
    assert client.sandbox.process is not None and client.sandbox.process.app is not None
    return client.sandbox.process.app.translator.plain(locale, key, **params)


async def test_state_lists_personas_and_the_staff_chat(client: Client) -> None:
    state = await client.get("/api/state")
    assert state["bot"]["username"] == "itcourses_sandbox_bot"
    keys = [chat["key"] for chat in state["chats"]]
    assert keys == ["aida", "bakyt", "olga", "john", "asel", "coordinator", "naryn-staff", "staff"]
    languages = {c["key"]: c["persona"]["language_code"] for c in state["chats"]}
    assert [languages[k] for k in ("aida", "bakyt", "olga", "john")] == ["kk", "ky", "ru", "en"]
    staff = state["chats"][-1]
    assert (staff["kind"], staff["chat_id"], staff["persona"]["role"]) == (
        "group",
        STAFF_CHAT_ID,
        "staff",
    )
    assert state["clock"]["offset_seconds"] == 0
    # The bot registered its command menu; each persona sees it in its own language.
    aida = await client.get("/api/chats/aida")
    assert aida["messages"] == [] and aida["reply_keyboard"] is None
    assert [c["command"] for c in aida["commands"]][:2] == ["start", "courses"]
    assert aida["commands"][1]["description"] == t(client, "kk", "command-courses")
    john = await client.get("/api/chats/john")
    assert john["commands"][1]["description"] == t(client, "en", "command-courses")
    assert aida["description"] == t(client, "kk", "bot-description")


async def test_a_citizen_talks_to_the_real_bot(client: Client) -> None:
    aida = PERSONAS[0]
    await client.post("/api/chats/aida/commands", {"command": "start"})
    picker = await client.bot_says(aida.user_id, "Choose your language")
    buttons = picker["message"]["inline_keyboard"]
    kazakh = buttons[0][0]
    assert kazakh["text"].startswith("✓ ") and "Қазақша" in kazakh["text"]

    pressed = await client.post(
        "/api/chats/aida/callbacks",
        {"message_id": picker["message"]["id"], "data": kazakh["callback_data"]},
    )
    answer = await client.event(
        lambda e: e["type"] == "callback_answer" and e["query_id"] == pressed["query_id"]
    )
    assert answer["text"] == t(client, "kk", "language-set")
    # The picker is edited in place; the welcome brings the main menu keyboard.
    edited = await client.event(lambda e: e["type"] == "message" and e["edited"])
    assert edited["message"]["id"] == picker["message"]["id"] and edited["message"]["edited"]
    welcome = await client.bot_says(aida.user_id, t(client, "kk", "start-welcome")[:20])
    keyboard = welcome["reply_keyboard"]
    assert keyboard["rows"][0][0]["text"] == t(client, "kk", "menu-catalogue")

    # A reply keyboard button sends its text; the catalogue answers with inline buttons.
    await client.post("/api/chats/aida/reply-buttons", {"text": t(client, "kk", "menu-catalogue")})
    centres = await client.bot_says(aida.user_id, t(client, "kk", "catalogue-choose-centre")[:15])
    assert centres["message"]["inline_keyboard"]

    history = await client.get("/api/chats/aida")
    senders = [m["sender"] for m in history["messages"]]
    assert senders[:2] == ["user", "bot"] and senders.count("user") == 2
    assert history["reply_keyboard"]["rows"][0][0]["text"] == t(client, "kk", "menu-catalogue")
    # The persona list shows the newest message of each chat.
    state = await client.get("/api/state")
    assert state["chats"][0]["last"]["id"] == history["messages"][-1]["id"]


async def test_user_text_is_never_markup(client: Client) -> None:
    await client.post("/api/chats/olga/messages", {"text": '<img src=x onerror="alert(1)"> & <b>'})
    event = await client.event(
        lambda e: e["type"] == "message" and e["message"]["sender"] == "user"
    )
    assert event["message"]["html"] == (
        "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &lt;b&gt;"
    )
    await client.replies(OLGA.user_id)


async def test_contact_button_shares_the_personas_own_number(client: Client) -> None:
    await client.post("/api/chats/bakyt/contact")
    event = await client.event(
        lambda e: e["type"] == "message" and e["message"]["kind"] == "contact"
    )
    assert event["message"]["contact"]["phone_number"] == "+996555123456"
    assert event["chat_id"] == PERSONAS[1].user_id
    await client.replies(PERSONAS[1].user_id)


async def test_upload_and_download_files(client: Client) -> None:
    form = aiohttp.FormData()
    form.add_field("file", b"name,phone\n", filename="list.csv", content_type="text/csv")
    form.add_field("caption", "the list")
    async with client.http.post(client.url + "/api/chats/john/files", data=form) as response:
        assert response.status == 200
    document = await client.event(
        lambda e: e["type"] == "message" and e["message"]["kind"] == "document"
    )
    file = document["message"]["file"]
    assert (file["name"], file["size"], file["is_image"]) == ("list.csv", 11, False)
    assert document["message"]["html"] == "the list"
    async with client.http.get(client.url + file["url"]) as response:
        assert await response.read() == b"name,phone\n"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"

    form = aiohttp.FormData()
    form.add_field("file", SAMPLE_PNG, filename="me.png", content_type="image/png")
    async with client.http.post(client.url + "/api/chats/john/files", data=form) as response:
        assert response.status == 200
    photo = await client.event(lambda e: e["type"] == "message" and e["message"]["kind"] == "photo")
    assert photo["message"]["file"]["is_image"]
    async with client.http.get(client.url + photo["message"]["file"]["url"]) as response:
        assert response.content_type == "image/png"
        assert "Content-Disposition" not in response.headers
    # A file that claims to be an image but is HTML is never served inline.
    form = aiohttp.FormData()
    form.add_field("file", b"<script>alert(1)</script>", filename="x.png", content_type="image/png")
    async with client.http.post(client.url + "/api/chats/john/files", data=form) as response:
        assert response.status == 200
    fake = await client.event(
        lambda e: e["type"] == "message" and e["message"].get("file", {}).get("name") == "x.png"
    )
    assert fake["message"]["kind"] == "document"
    await client.replies(JOHN.user_id, 3)
    async with client.http.get(client.url + fake["message"]["file"]["url"]) as response:
        assert response.headers["Content-Disposition"].startswith("attachment;")


async def test_bot_media_reaches_the_page(client: Client) -> None:
    """Venues become a map link; photos and documents the bot sends can be fetched."""
    bot_api = client.sandbox.api.url + f"/bot{SANDBOX_TOKEN}"
    chat_id = PERSONAS[3].user_id
    async with client.http.post(
        bot_api + "/sendVenue",
        json={
            "chat_id": chat_id,
            "latitude": 42.9,
            "longitude": 71.366667,
            "title": "Taraz IT centre",
            "address": "Tole bi 1",
        },
    ) as response:
        assert response.status == 200
    venue = await client.event(lambda e: e["type"] == "message" and e["message"]["kind"] == "venue")
    assert venue["message"]["venue"]["map_url"] == map_url(42.9, 71.366667)
    assert venue["message"]["venue"]["map_url"].startswith(
        "https://www.openstreetmap.org/?mlat=42.900000&mlon=71.366667"
    )
    form = aiohttp.FormData()
    form.add_field("chat_id", str(chat_id))
    form.add_field("document", b"x" * 100, filename="export.xlsx")
    form.add_field("caption", "<b>Export</b>")
    form.add_field("parse_mode", "HTML")
    async with client.http.post(bot_api + "/sendDocument", data=form) as response:
        assert response.status == 200
    document = await client.event(
        lambda e: e["type"] == "message" and e["message"]["kind"] == "document"
    )
    assert document["message"]["html"] == "<b>Export</b>"
    async with client.http.get(client.url + document["message"]["file"]["url"]) as response:
        assert await response.read() == b"x" * 100
        assert "export.xlsx" in response.headers["Content-Disposition"]


async def test_clock_moves_and_time_driven_services_catch_up(client: Client) -> None:
    process = client.sandbox.process
    assert process is not None
    ticks: list[timedelta] = []

    async def tick() -> None:
        ticks.append(client.sandbox.clock.offset)

    process.tickers.append(tick)
    before = client.sandbox.clock.now()
    moved = await client.post("/api/clock", {"amount": 2, "unit": "days"})
    assert moved["clock"]["offset_seconds"] == 2 * 86400
    assert ticks == [timedelta(days=2)]
    assert client.sandbox.clock.now() - before >= timedelta(days=2)
    pushed = await client.event(lambda e: e["type"] == "clock")
    assert pushed["clock"]["offset_seconds"] == 2 * 86400
    # The bot's own clock is the one that moved.
    assert process.app is not None and process.app.clock is client.sandbox.clock
    # Messages sent now carry sandbox time.
    await client.post("/api/chats/john/messages", {"text": "hello"})
    sent = await client.event(lambda e: e["type"] == "message" and e["message"]["html"] == "hello")
    assert sent["message"]["date"] >= int(before.timestamp()) + 2 * 86400
    await client.replies(JOHN.user_id)
    async with client.http.post(
        client.url + "/api/clock", json={"amount": -1, "unit": "hours"}
    ) as response:
        assert response.status == 400
        assert "forward" in (await response.json())["error"]


async def test_refuses_what_a_telegram_client_cannot_do(client: Client) -> None:
    async def status(path: str, **kwargs: Any) -> int:
        async with client.http.post(client.url + path, **kwargs) as response:
            return response.status

    assert await status("/api/chats/nobody/messages", json={"text": "hi"}) == 404
    assert await status("/api/chats/aida/messages", json={"text": "   "}) == 400
    assert await status("/api/chats/aida/messages", json={"text": "x" * 4097}) == 400
    assert await status("/api/chats/aida/messages", data="text=hi") == 400  # not JSON
    assert await status("/api/chats/aida/callbacks", json={"message_id": 1, "data": "x"}) == 400
    assert await status("/api/chats/aida/reply-buttons", json={"text": "nope"}) == 400
    assert await status("/api/chats/aida/commands", json={"command": "bad command!"}) == 400
    async with client.http.get(client.url + "/api/files/nothing") as response:
        assert response.status == 404
    async with client.http.get(client.url + "/static/..%2Fserver.py") as response:
        assert response.status == 404


async def test_other_sites_and_rebound_hosts_are_refused(client: Client) -> None:
    """Another web page open in the same browser cannot drive the sandbox."""
    async with client.http.post(
        client.url + "/api/chats/aida/messages",
        json={"text": "hi"},
        headers={"Origin": "https://evil.example"},
    ) as response:
        assert response.status == 403
    async with client.http.get(
        client.url + "/api/state", headers={"Host": "evil.example"}
    ) as response:
        assert response.status == 421
    async with client.http.post(
        client.url + "/api/chats/aida/messages",
        json={"text": "same origin"},
        headers={"Origin": client.url},
    ) as response:
        assert response.status == 200
    await client.replies(PERSONAS[0].user_id)
    async with client.http.get(client.url + "/") as response:
        page = await response.text()
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert "/static/app.js" in page and "http" not in page.replace("http-equiv", "")


def test_only_loopback_unless_asked() -> None:
    check_bind_host("127.0.0.1", explicit=False)
    check_bind_host("::1", explicit=False)
    check_bind_host("localhost", explicit=False)
    with pytest.raises(SandboxHostError, match=r"SANDBOX_HOST=0\.0\.0\.0"):
        check_bind_host("0.0.0.0", explicit=False)
    with pytest.raises(SandboxHostError):
        check_bind_host("192.168.1.5", explicit=False)
    check_bind_host("0.0.0.0", explicit=True)


def test_sandbox_settings_keep_nothing_of_production(tmp_path: Path) -> None:
    production = load_settings(
        {
            "BOT_TOKEN": "123:REAL-token",
            "DATABASE_URL": "postgresql+asyncpg://u:p@db/prod",
            "REDIS_URL": "redis://prod:6379/0",
            "ADMIN_IDS": "42",
            "STAFF_CHAT_ID": "-100999",
            "WEBHOOK_URL": "https://bot.example.org",
            "WEBHOOK_SECRET": "x" * 20,
        }
    )
    settings = sandbox_settings(production, api_url="http://127.0.0.1:1", data_dir=tmp_path)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'bot.sqlite3'}"
    assert settings.bot_token == SANDBOX_TOKEN
    assert settings.bot_api_url == "http://127.0.0.1:1"
    assert settings.database_url != DEFAULT_DATABASE_URL
    assert settings.redis_url is None and settings.webhook_url is None
    assert settings.admin_ids == frozenset({PERSONAS[-1].user_id})
    assert settings.staff_chat_id == STAFF_CHAT_ID


async def test_run_sandbox_prints_one_line_and_stops(tmp_path: Path) -> None:
    out = io.StringIO()
    stop = asyncio.Event()
    urls: list[str] = []

    def ready(server: SandboxServer) -> None:
        urls.append(server.url)
        stop.set()

    settings = dataclasses.replace(load_settings({}), sandbox_port=0)
    await run_sandbox(
        settings, data_dir=tmp_path / "sb", out=out, stop=stop, on_ready=ready, explicit=True
    )
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Sandbox (started with 'python main.py sandbox'): the real bot")
    assert "demo catalogue" in lines[0] and "local test Bot API server" in lines[0]
    assert lines[0].endswith(f"web chat at {urls[0]} (Ctrl+C stops it)")
    assert urls[0].startswith("http://127.0.0.1:")
    assert (tmp_path / "sb" / "bot.sqlite3").is_file()


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, "sandbox-implicit"),
        (["sandbox"], {}, "sandbox-explicit"),
        (["sandbox"], {"BOT_TOKEN": "123:ABC"}, "sandbox-explicit"),
        ([], {"BOT_TOKEN": "123:ABC"}, "bot"),
        (["run"], {}, "config-error"),
    ],
)
def test_main_starts_the_sandbox_without_a_token(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    env: dict[str, str],
    expected: str,
) -> None:
    import bot.runner
    import main
    import sandbox.web

    for name in ("BOT_TOKEN", "SANDBOX_HOST", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    calls: list[str] = []

    async def fake_sandbox(settings: object, *, explicit: bool, explicit_host: bool) -> None:
        calls.append("sandbox-explicit" if explicit else "sandbox-implicit")
        assert explicit_host is False

    async def fake_bot(settings: object) -> None:
        calls.append("bot")

    monkeypatch.setattr(sandbox.web, "run_sandbox", fake_sandbox)
    monkeypatch.setattr(bot.runner, "run_bot", fake_bot)
    code = main.main(argv)
    if expected == "config-error":
        assert code == 2 and calls == []
        assert "BOT_TOKEN is not set" in capsys.readouterr().err
    else:
        assert code == 0 and calls == [expected]


def test_main_refuses_a_public_host_it_was_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    import main

    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.delenv("SANDBOX_HOST", raising=False)
    monkeypatch.setattr("bot.config.load_settings", _settings_with_host("0.0.0.0"))
    assert main.main(["sandbox"]) == 2


def _settings_with_host(host: str) -> Callable[..., Any]:
    from bot.config import load_settings as real

    def load(*args: Any, **kwargs: Any) -> Any:
        return dataclasses.replace(real({}), sandbox_host=host)

    return load


async def test_never_the_production_database(tmp_path: Path) -> None:
    production = load_settings({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/bot.sqlite3"})
    (tmp_path / "bot.sqlite3").write_bytes(b"production data")
    with pytest.raises(SandboxError, match="the bot's own database"):
        sandbox_settings(production, api_url="http://127.0.0.1:1", data_dir=tmp_path)
    with pytest.raises(SandboxError):
        await Sandbox(production, data_dir=tmp_path).start()
    assert (tmp_path / "bot.sqlite3").read_bytes() == b"production data"


async def test_each_run_starts_afresh(tmp_path: Path) -> None:
    """The simulated Telegram lives in memory, so the sandbox database does too, in effect:
    a new run never sees message ids remembered from an older one."""
    settings = load_settings({"THROTTLE_RATE": "0"})
    data = tmp_path / "sandbox"
    for _ in range(2):
        async with Sandbox(settings, data_dir=data) as sandbox:
            assert sandbox.process is not None and sandbox.process.app is not None
            repo = sandbox.process.app.repo
            assert await repo.users.get(PERSONAS[0].user_id) is None
            view = sandbox.view("aida")
            sandbox.send_command(view, "start")
            await sandbox.api.user(PERSONAS[0].user_id).wait_reply(timeout=10)
            assert await repo.users.get(PERSONAS[0].user_id) is not None
    assert (data / "bot.sqlite3").is_file()


async def test_one_sandbox_per_data_directory(tmp_path: Path) -> None:
    settings = load_settings({})
    async with Sandbox(settings, data_dir=tmp_path):
        with pytest.raises(SandboxError, match="another sandbox is running"):
            await Sandbox(settings, data_dir=tmp_path).start()
    async with Sandbox(settings, data_dir=tmp_path):  # free again once stopped
        pass


async def test_the_centre_manager_persona_sees_her_centre_only(client: Client) -> None:
    """Asel manages one lyceum: her staff menu names it, her lists hold its applications
    only, and its staff chat is the one bound to it."""
    from sandbox.web.personas import ASEL, CENTRE_CHAT_ID, CENTRE_MANAGER_CENTRE

    assert client.sandbox.process is not None and client.sandbox.process.app is not None
    repo = client.sandbox.process.app.repo
    centre = await repo.catalogue.centre_by_code(CENTRE_MANAGER_CENTRE)
    assert centre is not None
    bound = await repo.centres.chat_of(centre.id)
    assert bound is not None and bound.chat_id == CENTRE_CHAT_ID
    asel = await repo.users.with_scope(ASEL.user_id)
    assert asel is not None
    scope = asel.staff
    assert scope is not None and scope.managed == frozenset({centre.id})
    await client.post("/api/chats/asel/commands", {"command": "admin"})
    menu = await client.bot_says(
        ASEL.user_id, t(client, "ky", "centres-menu-yours", centres="")[:8]
    )
    assert "Нарын" in menu["message"]["html"]
    labels = [b["text"] for row in menu["message"]["inline_keyboard"] for b in row]
    assert t(client, "ky", "centres-section-contacts") in labels


async def test_reset_starts_the_sandbox_again_from_nothing(client: Client) -> None:
    """The page's «Reset sandbox» button: empty chats and database, the clock back to now,
    the bot answering again; open pages are told to reload."""
    await client.post("/api/clock", {"amount": 2, "unit": "days"})
    await client.post("/api/chats/john/messages", {"text": "hello"})
    await client.replies(JOHN.user_id)
    first = client.sandbox.process
    assert (await client.get("/api/chats/john"))["messages"]
    assert await client.post("/api/reset") == {"ok": True}
    await client.event(lambda e: e["type"] == "reset")
    assert client.sandbox.process is not None and client.sandbox.process is not first
    assert client.sandbox.clock.offset == timedelta(0)
    assert (await client.get("/api/chats/john"))["messages"] == []
    await client.post("/api/chats/john/messages", {"text": "hello"})
    await client.replies(JOHN.user_id)
