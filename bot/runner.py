"""The bot process: one start-up path for production, tests, the sandbox and benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats

from bot.clock import Clock, SystemClock
from bot.config import DEFAULT_CATALOG_FILE, Settings
from bot.factory import App, build_bot, build_outbox_bot, create_app, pin_response_models
from bot.i18n import Translator

if TYPE_CHECKING:
    from bot.outbox import Outbox
    from bot.reminders.service import ReminderService
    from bot.retention import FormExpiry
    from bot.scheduler import Scheduler
    from handlers.broadcast.service import BroadcastService

log = logging.getLogger(__name__)
COMMANDS = ("start", "courses", "my", "language", "help", "cancel")


async def register_commands(bot: Bot, translator: Translator) -> None:
    """Commands and descriptions per language (and a default in DEFAULT_LOCALE)."""
    scope = BotCommandScopeAllPrivateChats()
    for locale in (*translator.locales, None):
        loc = locale or translator.default_locale
        commands = [
            BotCommand(command=c, description=translator.plain(loc, f"command-{c}"))
            for c in COMMANDS
        ]
        try:
            await bot.set_my_commands(commands, scope=scope, language_code=locale)
            await bot.set_my_description(
                translator.plain(loc, "bot-description"), language_code=locale
            )
            await bot.set_my_short_description(
                translator.plain(loc, "bot-short-description"), language_code=locale
            )
        except TelegramAPIError as exc:
            log.warning("could not register commands for %s: %s", locale or "default", exc)


async def seed_catalog_if_empty(app: App, path: Path | None) -> None:
    """A fresh database gets the catalogue (CATALOG_FILE, or the demo) so the bot works."""
    if await app.repo.catalogue.centres():
        return
    from bot.services.catalog import import_catalog

    report = await import_catalog(app.db, path or DEFAULT_CATALOG_FILE)
    log.info("catalogue imported: %s", report.summary())


UPDATE_DRAIN_SECONDS = 10.0


async def drain_updates(dispatcher: Dispatcher, timeout: float) -> bool:  # noqa: ASYNC109
    """Wait for the updates still being handled: aiogram runs each as a task and does not
    wait for them when polling stops (its set of them is private; aiogram is pinned)."""
    tasks = set(getattr(dispatcher, "_handle_update_tasks", ()))
    if not tasks:
        return True
    _done, pending = await asyncio.wait(tasks, timeout=timeout)
    return not pending


class BotProcess:
    """Builds the app, starts background services and polling; stops them in order."""

    def __init__(
        self,
        settings: Settings,
        *,
        storage: BaseStorage | None = None,
        clock: Clock | None = None,
        seed_catalog: bool = True,
        on_app: Callable[[App], object] | None = None,
        outbox_options: Mapping[str, Any] | None = None,
    ) -> None:
        """``outbox_options``: keyword arguments for the ``Outbox`` (tests scale its
        back-offs and pauses down; the crash test sets its concurrency)."""
        self.settings = settings
        self.outbox_options = dict(outbox_options or {})
        self.outbox: Outbox | None = None
        self.outbox_bot: Bot | None = None
        # Jobs derived from the database; None where SCHEDULER_ENABLED=false.
        self.scheduler: Scheduler | None = None
        self.broadcasts: BroadcastService | None = None
        self.reminders: ReminderService | None = None
        self.form_expiry: FormExpiry | None = None
        self.on_app = on_app
        self.storage = storage
        self.clock = clock or SystemClock()
        self.seed_catalog = seed_catalog
        self.app: App | None = None
        self.bot: Bot | None = None
        self._polling: asyncio.Task[None] | None = None
        # Called when the clock jumps (tests, the sandbox): each re-checks what is due.
        self.tickers: list[Callable[[], Awaitable[None]]] = []
        self._pinned_models: list[type] = []

    async def start(self, *, polling: bool = True) -> App:
        self._pinned_models = pin_response_models()
        self.app = app = await create_app(self.settings, self.storage, clock=self.clock)
        self.bot = bot = build_bot(self.settings)
        if self.on_app is not None:
            self.on_app(app)
        if self.seed_catalog:
            await seed_catalog_if_empty(app, self.settings.catalog_file)
        await register_commands(bot, app.translator)
        await self._start_services(app, bot)
        if polling:
            await bot.delete_webhook(drop_pending_updates=False)
            self._polling = asyncio.create_task(
                app.dispatcher.start_polling(
                    bot, handle_signals=False, close_bot_session=False, polling_timeout=20
                ),
                name="polling",
            )
        return app

    async def _start_services(self, app: App, bot: Bot) -> None:
        """Background services start here, after the app: the outbox (which first takes
        back rows a crashed process left claimed), then the scheduler. Handlers get them
        as ``outbox``, ``scheduler`` (None if this process runs none), ``broadcasts`` and
        ``reminders``."""
        from bot.outbox import Outbox, default_concurrency
        from bot.reminders.service import ReminderService
        from bot.scheduler import Scheduler
        from bot.support.delivery import KIND as REPLY_KIND
        from bot.support.delivery import ReplyOutcomes, render_reply
        from handlers.broadcast.service import BroadcastService

        settings = self.settings
        options = {"rate": settings.broadcast_rate, **self.outbox_options}
        concurrency = int(options.get("concurrency") or default_concurrency(options["rate"]))
        self.outbox_bot = build_outbox_bot(settings, connections=concurrency + 2)
        self.outbox = Outbox(app.repo, app.translator, self.outbox_bot, clock=self.clock, **options)
        # Staff answers to citizens' questions (issue 12): a delivery kind, and a report to
        # the staff member when one cannot be delivered.
        self.outbox.register_renderer(REPLY_KIND, render_reply)
        self.outbox.outcome_listeners.append(
            ReplyOutcomes(bot, app.repo, app.translator, app.settings)
        )
        await self.outbox.start()
        self.tickers.append(self.outbox.time_moved)
        if settings.scheduler_enabled:
            self.scheduler = Scheduler(self.clock)
            await self.scheduler.start()
            self.tickers.append(self.scheduler.time_moved)
        self.broadcasts = BroadcastService(
            app.repo,
            app.translator,
            bot,
            self.outbox,
            settings,
            clock=self.clock,
            scheduler=self.scheduler,
        )
        app.dispatcher["outbox"] = self.outbox
        app.dispatcher["scheduler"] = self.scheduler
        app.dispatcher["broadcasts"] = self.broadcasts
        await self.broadcasts.start()
        # Reminders and the digest: no jobs where SCHEDULER_ENABLED=false (scheduler None).
        self.reminders = ReminderService(
            app.repo,
            app.translator,
            settings,
            clock=self.clock,
            bot=bot,
            outbox=self.outbox,
            scheduler=self.scheduler,
        )
        app.dispatcher["reminders"] = self.reminders
        await self.reminders.start()
        if self.scheduler is not None:
            from bot.retention import FormExpiry

            self.form_expiry = FormExpiry(
                app.db,
                app.storage,
                settings.form_state_ttl,
                app.clock,
                self.scheduler,
                conversations_kept=settings.support_keep,
            )
            await self.form_expiry.start()

    async def _stop_services(self) -> None:
        """Background services stop here, before the database closes: in reverse order,
        the outbox last, after the requests it has in flight."""
        if self.form_expiry is not None:
            self.form_expiry.stop()
            self.form_expiry = None
        if self.reminders is not None:
            await self.reminders.stop()
            self.reminders = None
        if self.broadcasts is not None:
            await self.broadcasts.stop_service()
            self.broadcasts = None
        if self.scheduler is not None:
            self._forget_ticker(self.scheduler.time_moved)
            await self.scheduler.stop()
            self.scheduler = None
        if self.outbox is not None:
            self._forget_ticker(self.outbox.time_moved)
            await self.outbox.stop()
            self.outbox = None
        if self.outbox_bot is not None:
            await self.outbox_bot.session.close()
            self.outbox_bot = None

    def _forget_ticker(self, tick: Callable[[], Awaitable[None]]) -> None:
        if tick in self.tickers:
            self.tickers.remove(tick)

    async def stop(self) -> None:
        if self.app is not None and self._polling is not None:
            with contextlib.suppress(RuntimeError):  # polling already stopped
                await self.app.dispatcher.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling
            self._polling = None
        # aiogram does not wait for the updates it is still handling when polling stops;
        # they finish before the services, the session and the database close under them.
        if self.app is not None and not await drain_updates(
            self.app.dispatcher, UPDATE_DRAIN_SECONDS
        ):
            log.warning("stopping with updates still being handled")
        await self._stop_services()
        if self.bot is not None:
            await self.bot.session.close()
            self.bot = None
        if self.app is not None:
            await self.app.close()
            self.app = None

    async def time_moved(self) -> None:
        """The clock jumped forward: let every time-driven service catch up now."""
        for tick in self.tickers:
            await tick()

    async def wait(self) -> None:
        """Until polling stops (by a signal or an error)."""
        if self._polling is not None:
            await self._polling


async def run_bot(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM: long polling, or a webhook when WEBHOOK_URL is set."""
    process = BotProcess(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        app = await process.start(polling=not settings.webhook_mode)
        if settings.webhook_mode:
            assert process.bot is not None
            await _run_webhook(settings, app, process.bot, stop)
        else:
            log.info("polling %s", settings.bot_api_url)
            waiter = asyncio.create_task(stop.wait())
            polling = asyncio.create_task(process.wait())
            await asyncio.wait({waiter, polling}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
    finally:
        await process.stop()


async def _run_webhook(settings: Settings, app: App, bot: Bot, stop: asyncio.Event) -> None:
    from aiogram.webhook.aiohttp_server import setup_application
    from aiohttp import web

    from bot.webhook import WebhookHandler

    assert settings.webhook_url is not None
    web_app = web.Application()
    WebhookHandler(app.dispatcher, bot, settings.webhook_secret).register(web_app, path="/webhook")
    setup_application(web_app, app.dispatcher, bot=bot)
    await bot.set_webhook(
        settings.webhook_url.rstrip("/") + "/webhook",
        secret_token=settings.webhook_secret,
        allowed_updates=app.dispatcher.resolve_used_update_types(),
    )
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
    await site.start()
    log.info("webhook listening on %s:%s", settings.webhook_host, settings.webhook_port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
