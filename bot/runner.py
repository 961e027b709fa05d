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
from bot.factory import (
    App,
    build_bot,
    build_outbox_bot,
    create_app,
    pin_response_models,
    settle_heap,
)
from bot.i18n import Translator
from bot.services.backup import RunLock
from db.locks import LeaderLock, startup_lock

if TYPE_CHECKING:
    from aiohttp import web

    from bot.observability import Health, Metrics
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
    from bot.services.catalog import CatalogError, import_catalog, render_cli

    english = app.translator.bind("en").plain
    file = path or DEFAULT_CATALOG_FILE
    # The demo's term starts in the week of the bot's clock (a sandbox tried months
    # after the demo was written still has classes ahead); a file of the centre's own
    # is imported as written.
    dates_from = app.clock.now().date() if path is None else None
    try:
        report = await import_catalog(app.db, file, dates_from=dates_from)
    except CatalogError as exc:
        for problem in exc.problems:
            log.error("catalogue file: %s", render_cli(problem, english, exc.filename))
        raise
    for problem in report.warnings:
        log.info("catalogue file: %s", render_cli(problem, english, file.name))
    log.info("catalogue imported: %s", report.summary())


UPDATE_DRAIN_SECONDS = 10.0
LEADER_RETRY_SECONDS = 15.0  # how often a follower tries to take the scheduler over


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
        self.metrics: Metrics | None = None
        self.health: Health | None = None
        self._side_server: web.AppRunner | None = None
        self._leader: LeaderLock | None = None
        self._leader_task: asyncio.Task[None] | None = None
        self._run_lock = RunLock(settings.database_url)
        self.leader_retry = LEADER_RETRY_SECONDS
        self._outbox_redis: Any = None

    async def start(self, *, polling: bool = True, health_server: bool = True) -> App:
        """``health_server``: serve /healthz, /readyz, /metrics on HEALTH_PORT if set
        (the webhook server serves them too)."""
        from bot.observability import Health, Metrics, UpdateMetricsMiddleware, start_side_server

        self._pinned_models = pin_response_models()
        self._run_lock.acquire()  # `main.py restore` refuses while this is held
        # Workers started together on a fresh database: one migrates and seeds at a time.
        async with startup_lock(self.settings.database_url):
            self.app = app = await create_app(self.settings, self.storage, clock=self.clock)
            if self.seed_catalog:
                await seed_catalog_if_empty(app, self.settings.catalog_file)
        self.bot = bot = build_bot(self.settings, db=app.db)
        self.metrics = Metrics(self)
        self.health = Health(self, self.metrics)
        app.dispatcher.update.outer_middleware(UpdateMetricsMiddleware(self.metrics))
        if self.on_app is not None:
            self.on_app(app)
        await register_commands(bot, app.translator)
        await self._start_services(app, bot)
        await self._revoke_demoted(app, bot)
        port = self.settings.health_port
        if health_server and port is not None:
            self._side_server = await start_side_server(
                self.health, self.settings.health_host, port
            )
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
        from bot.outbox import WINDOW_CEILING, Outbox, SharedPacing
        from bot.support.delivery import KIND as REPLY_KIND
        from bot.support.delivery import ReplyOutcomes, render_reply

        settings = self.settings
        options = {"rate": settings.broadcast_rate, **self.outbox_options}
        if settings.redis_url and "shared" not in options:
            # One global send rate (and per-chat spacing, and 429 pauses) for every
            # process of this bot: the pacing lives in Redis.
            from redis.asyncio import Redis

            self._outbox_redis = Redis.from_url(settings.redis_url)
            bot_id = (settings.bot_token or "0").split(":", 1)[0]
            options["shared"] = SharedPacing(
                self._outbox_redis,
                f"itbot:outbox:{bot_id}",
                float(options["rate"]),
                per_chat_interval=float(options.get("per_chat_interval", 1.0)),
            )
        # A fixed concurrency, or the adaptive window's ceiling.
        connections = int(options.get("concurrency") or WINDOW_CEILING)
        self.outbox_bot = build_outbox_bot(settings, connections=connections + 2)
        self.outbox = Outbox(app.repo, app.translator, self.outbox_bot, clock=self.clock, **options)
        # Staff answers to citizens' questions (issue 12): a delivery kind, and a report to
        # the staff member when one cannot be delivered.
        self.outbox.register_renderer(REPLY_KIND, render_reply)
        self.outbox.outcome_listeners.append(
            ReplyOutcomes(bot, app.repo, app.translator, app.settings)
        )
        from bot.notify import STAFF_CARD, staff_card_renderer

        self.outbox.register_renderer(
            STAFF_CARD, staff_card_renderer(app.repo, settings, app.translator)
        )
        await self.outbox.start()
        self.tickers.append(self.outbox.time_moved)
        app.dispatcher["outbox"] = self.outbox
        leader = False
        if settings.scheduler_enabled:
            # Several workers may all have SCHEDULER_ENABLED=true: one of them leads.
            self._leader = LeaderLock(settings.database_url)
            leader = await self._leader.try_acquire()
        await self._start_scheduled(app, bot, leader=leader)
        if settings.scheduler_enabled and not leader:
            log.info("another process runs the scheduler; this one takes over if it stops")
            self._leader_task = asyncio.create_task(self._follow(), name="leader-election")

    async def _revoke_demoted(self, app: App, bot: Bot) -> None:
        """An admin whom ADMIN_IDS no longer lists lost the role at start-up; the rest of
        their reach goes as it does when an admin removes a member from the team screen:
        their scheduled announcements are cancelled, their forms cleared, and they are taken
        out of every staff chat. What the bot could not do is logged for a person to finish."""
        from bot.revoke import revoke_staff

        for user_id in app.demoted_admins:
            if self.broadcasts is not None:
                await self.broadcasts.revoke_author(user_id, actor_id=0)
            revocation = await revoke_staff(bot, app.repo, self.settings, app.storage, user_id)
            if revocation.not_removed_from:
                log.warning(
                    "user %s (no longer in ADMIN_IDS) could not be removed from %d staff "
                    "chat(s): the bot needs to be an administrator there; remove them by hand",
                    user_id,
                    len(revocation.not_removed_from),
                )

    async def _follow(self) -> None:
        """A follower tries to become the leader now and then (the leader's lock goes with
        its process or its database connection); a leader that lost its lock steps down."""
        while True:
            await asyncio.sleep(self.leader_retry)
            if self._leader is None or self.app is None or self.bot is None:
                return
            try:
                if self.scheduler is None and await self._leader.try_acquire():
                    log.info("this process now runs the scheduler")
                    await self._stop_scheduled()
                    await self._start_scheduled(self.app, self.bot, leader=True)
                elif self.scheduler is not None and not self._leader.held:
                    log.warning("lost the scheduler lock; another process takes over")
                    await self._stop_scheduled()
                    await self._start_scheduled(self.app, self.bot, leader=False)
            except Exception:
                log.exception("leader election failed; trying again later")

    async def _start_scheduled(self, app: App, bot: Bot, *, leader: bool) -> None:
        """The scheduler (leader only) and the services that plan jobs on it."""
        from bot.reminders.service import ReminderService
        from bot.scheduler import Scheduler
        from handlers.broadcast.service import BroadcastService

        settings = self.settings
        assert self.outbox is not None
        if leader:
            self.scheduler = Scheduler(self.clock)
            await self.scheduler.start()
            self.tickers.append(self.scheduler.time_moved)
            if settings.backup_keep > 0:
                from bot.maintenance import NightlyBackup

                NightlyBackup(settings, self.clock).attach(self.scheduler)
        self.broadcasts = BroadcastService(
            app.repo,
            app.translator,
            bot,
            self.outbox,
            settings,
            clock=self.clock,
            scheduler=self.scheduler,
        )
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

    async def _stop_scheduled(self) -> None:
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

    async def _stop_services(self) -> None:
        """Background services stop here, before the database closes: in reverse order,
        the outbox last, after the requests it has in flight."""
        if self._leader_task is not None:
            self._leader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leader_task
            self._leader_task = None
        await self._stop_scheduled()
        if self._leader is not None:
            await self._leader.release()
            self._leader = None
        if self.outbox is not None:
            self._forget_ticker(self.outbox.time_moved)
            await self.outbox.stop()
            self.outbox = None
        if self.outbox_bot is not None:
            await self.outbox_bot.session.close()
            self.outbox_bot = None
        if self._outbox_redis is not None:
            await self._outbox_redis.aclose()
            self._outbox_redis = None

    def _forget_ticker(self, tick: Callable[[], Awaitable[None]]) -> None:
        if tick in self.tickers:
            self.tickers.remove(tick)

    async def stop(self) -> None:
        try:
            await self._stop()
        finally:
            self._run_lock.release()  # even when stopping failed half-way

    async def _stop(self) -> None:
        if self._side_server is not None:
            await self._side_server.cleanup()
            self._side_server = None
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
        settle_heap()
        if settings.webhook_mode:
            await run_webhook(process, app, stop)
        else:
            log.info("polling %s", settings.bot_api_url)
            waiter = asyncio.create_task(stop.wait())
            polling = asyncio.create_task(process.wait())
            await asyncio.wait({waiter, polling}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
    finally:
        await process.stop()


async def run_webhook(process: BotProcess, app: App, stop: asyncio.Event) -> None:
    """Serve Telegram's webhook (and /healthz, /readyz, /metrics) until ``stop``.

    Shutting down (SIGTERM) in order: the listening socket closes first (Telegram, or the
    reverse proxy, sends new updates to another worker or again later), then every update
    already acknowledged with 200 is handled to the end, and only then do the bot's
    session and storage close (``process.stop()``)."""
    from aiohttp import web

    from bot.webhook import WebhookHandler

    settings = process.settings
    bot = process.bot
    assert settings.webhook_url is not None and bot is not None
    web_app = web.Application()
    handler = WebhookHandler(app.dispatcher, bot, settings.webhook_secret)
    # Not handler.register(): its shutdown hook would close the bot's session while
    # acknowledged updates are still being answered.
    web_app.router.add_post("/webhook", handler.handle)
    if process.health is not None:
        process.health.add_routes(web_app)
    await bot.set_webhook(
        settings.webhook_url.rstrip("/") + "/webhook",
        secret_token=settings.webhook_secret,
        allowed_updates=app.dispatcher.resolve_used_update_types(),
    )
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=5)
    await runner.setup()
    # SO_REUSEPORT: several workers may listen on one port (the kernel spreads requests).
    site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port, reuse_port=True)
    await site.start()
    log.info("webhook listening on %s:%s", settings.webhook_host, settings.webhook_port)
    try:
        await stop.wait()
    finally:
        log.info("stopping: no new updates; finishing the ones acknowledged")
        await site.stop()  # the listening socket closes
        await asyncio.sleep(0)
        if runner.server is not None:
            runner.server.pre_shutdown()  # no more requests on kept-alive connections
        await drain_webhook(handler.tasks, UPDATE_DRAIN_SECONDS)
        await runner.cleanup()


async def drain_webhook(tasks: set[asyncio.Task[None]], timeout: float) -> None:  # noqa: ASYNC109
    """Wait for the updates acknowledged with 200 and handled in the background, new
    ones included."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while tasks and loop.time() < deadline:
        await asyncio.wait(set(tasks), timeout=max(0.0, deadline - loop.time()))
    if tasks:
        log.warning("%s acknowledged updates were still being handled", len(tasks))
