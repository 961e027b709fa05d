"""The real bot against the project's fake Bot API server, in one process.

Used by the end-to-end tests, the benchmarks and the sandbox::

    async with BotHarness(tmp_path) as h:
        aida = h.user(1001, language_code="kk")
        aida.send_command("start")
        reply = await aida.wait_reply()
        await h.restart()          # same database, new process state
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiogram.types import TelegramObject, Update

from bot.clock import Clock
from bot.config import Settings, load_settings
from bot.factory import App
from bot.runner import BotProcess
from sandbox.telegram import FakeBotAPI, FakeGroupChat, FakeUser

TOKEN = "123456789:TEST-harness-token"
ADMIN_ID = 900_001
STAFF_CHAT_ID = -100_777
# The outbox spaces a chat's messages by Telegram's one second. Against a fake server
# without flood limits (the default here) that is only a wait on the wall clock, so
# a chat's messages are spaced by this instead: still one after the other, in order.
UNLIMITED_PER_CHAT_INTERVAL = 0.2


class BotHarness:
    def __init__(
        self,
        workdir: Path,
        *,
        env: dict[str, str] | None = None,
        server: FakeBotAPI | None = None,
        clock: Clock | None = None,
        database_url: str | None = None,
        seed_catalog: bool = True,
        server_options: dict[str, Any] | None = None,
        template: Path | None = None,
        outbox_options: dict[str, Any] | None = None,
    ) -> None:
        """``outbox_options``: keyword arguments for the bot's ``Outbox``; by default a
        chat's messages are spaced by ``UNLIMITED_PER_CHAT_INTERVAL`` when the fake server
        has no flood limits (``server_options`` without ``rate_limits``)."""
        self.workdir = workdir
        self.extra_env = env or {}
        self.server = server or FakeBotAPI(token=TOKEN, **(server_options or {}))
        self._own_server = server is None
        self.clock = clock
        self.database_url = database_url or f"sqlite+aiosqlite:///{workdir}/bot.sqlite3"
        self.seed_catalog = seed_catalog
        if outbox_options is None and self.server.sim.rate_limiter is None:
            outbox_options = {"per_chat_interval": UNLIMITED_PER_CHAT_INTERVAL}
        self.outbox_options = outbox_options or {}
        if template is not None and database_url is None:
            # A ready database (migrated, catalogue imported) copied instead of rebuilt.
            shutil.copyfile(template, workdir / "bot.sqlite3")
        self.process: BotProcess | None = None
        self.settings: Settings | None = None
        self.handled_updates: list[Update] = []
        self._handled = asyncio.Condition()

    # ---- lifecycle ----------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._own_server:
            await self.server.start()
        self.staff_chat = self.server.add_group_chat(STAFF_CHAT_ID, title="Staff")
        await self.start_bot()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop_bot()
        if self._own_server:
            await self.server.stop()

    def build_settings(self) -> Settings:
        env = {
            "BOT_TOKEN": TOKEN,
            "BOT_API_URL": self.server.api_base,
            "DATABASE_URL": self.database_url,
            "ADMIN_IDS": str(ADMIN_ID),
            "STAFF_CHAT_ID": str(STAFF_CHAT_ID),
            "DEFAULT_LOCALE": "ru",
            # Tests type much faster than people; the flood limit has its own test.
            "THROTTLE_RATE": "0",
            **self.extra_env,
        }
        return load_settings(env, require_token=True)

    async def start_bot(self) -> App:
        self.settings = self.build_settings()
        self.process = BotProcess(
            self.settings,
            clock=self.clock,
            seed_catalog=self.seed_catalog,
            outbox_options=self.outbox_options,
            on_app=lambda app: app.dispatcher.update.outer_middleware(self._track),
        )
        app = await self.process.start()
        await self.server.wait_until_polling()
        return app

    async def stop_bot(self) -> None:
        if self.process is not None:
            await self.process.stop()
            self.process = None

    async def restart(self) -> App:
        """Stop the bot completely and start it again on the same database."""
        await self.stop_bot()
        return await self.start_bot()

    async def _track(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        finally:
            if isinstance(event, Update):
                async with self._handled:
                    self.handled_updates.append(event)
                    self._handled.notify_all()

    async def wait_handled(
        self,
        predicate: Callable[[Update], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Update:
        """The first update (already handled, or handled later) matching ``predicate``."""

        def find() -> Update | None:
            return next((u for u in self.handled_updates if predicate(u)), None)

        async with asyncio.timeout(timeout), self._handled:
            await self._handled.wait_for(lambda: find() is not None)
        found = find()
        assert found is not None
        return found

    # ---- access -------------------------------------------------------------------

    @property
    def app(self) -> App:
        assert self.process is not None and self.process.app is not None, "bot is not running"
        return self.process.app

    @property
    def repo(self) -> Any:
        return self.app.repo

    def user(
        self,
        user_id: int,
        *,
        first_name: str = "Test",
        language_code: str | None = "en",
        username: str | None = None,
    ) -> FakeUser:
        return self.server.add_user(
            user_id, first_name=first_name, language_code=language_code, username=username
        )

    def admin(self, language_code: str = "ru") -> FakeUser:
        user = self.user(
            ADMIN_ID, first_name="Admin", language_code=language_code, username="coordinator"
        )
        self.staff_chat.add_member(user)
        return user

    @property
    def staff_group(self) -> FakeGroupChat:
        return self.staff_chat
