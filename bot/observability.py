"""Seeing the bot run: ``/healthz``, ``/readyz`` and Prometheus ``/metrics``.

Served by the webhook server in webhook mode, and by a small side server on
``HEALTH_PORT`` in polling mode (none unless set). Each process has its own registry
(built in ``BotProcess``, nothing at import time); with several workers Prometheus
scrapes each one and sums.

* ``/healthz``: the process is alive (its event loop answers) — 200 always.
* ``/readyz``: the database answers, the Bot API answered ``getMe`` within the last
  ``BOT_API_CHECK_EVERY`` seconds, and the outbox is not stuck (due rows older than
  ``STUCK_AFTER`` while it has written no outcome for as long) — 200, else 503 with the
  failing checks named.
* ``/metrics``: updates handled by type, handler latency, handler errors, outbox queue
  depth, messages sent (``rate()`` of it is sends per second), 429s and 403s, reminder
  lag (how late the oldest due reminder is), scheduler jobs and leadership.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from bot.runner import BotProcess

log = logging.getLogger(__name__)

BOT_API_CHECK_EVERY = 30.0  # seconds a successful getMe counts for /readyz
STUCK_AFTER = 300.0  # seconds: due rows this old with no outcome written for as long
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UpdateMetricsMiddleware(BaseMiddleware):
    """Outer update middleware: counts updates by type, times them, counts failures
    (the errors router still handles them: the exception goes on)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        kind = (event.event_type if isinstance(event, Update) else None) or "unknown"
        started = time.perf_counter()
        try:
            return await handler(event, data)
        except Exception:
            self.metrics.errors.labels(kind).inc()
            raise
        finally:
            self.metrics.updates.labels(kind).inc()
            self.metrics.latency.labels(kind).observe(time.perf_counter() - started)


class _LiveCollector(Collector):
    """Figures read when Prometheus scrapes: the outbox's counters, the scheduler's jobs,
    and the database figures ``Metrics.refresh`` read just before."""

    def __init__(self, process: BotProcess, metrics: Metrics) -> None:
        self.process = process
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        outbox = self.process.outbox
        stats = outbox.stats if outbox is not None else None
        sent = CounterMetricFamily("bot_outbox_sent", "Bulk messages delivered")
        sent.add_metric([], stats.sent if stats else 0)
        yield sent
        limited = CounterMetricFamily("bot_outbox_rate_limited", "429 answers to bulk sends")
        limited.add_metric([], stats.rate_limited if stats else 0)
        yield limited
        blocked = CounterMetricFamily(
            "bot_outbox_blocked", "Bulk sends to users who blocked the bot (403)"
        )
        blocked.add_metric([], stats.blocked if stats else 0)
        yield blocked
        failed = CounterMetricFamily("bot_outbox_failed", "Bulk sends given up")
        failed.add_metric([], stats.failed if stats else 0)
        yield failed
        window = GaugeMetricFamily("bot_outbox_in_flight_limit", "Send window (requests)")
        window.add_metric([], outbox.window if outbox is not None else 0)
        yield window
        depth = GaugeMetricFamily(
            "bot_outbox_queue_depth", "Deliveries not sent yet (pending or claimed)"
        )
        depth.add_metric([], self.metrics.queue_depth)
        yield depth
        lag = GaugeMetricFamily(
            "bot_reminder_lag_seconds", "How late the oldest due, unsent reminder is"
        )
        lag.add_metric([], self.metrics.reminder_lag)
        yield lag
        scheduler = self.process.scheduler
        jobs = GaugeMetricFamily("bot_scheduler_jobs", "Jobs waiting in this process")
        jobs.add_metric([], len(scheduler.jobs()) if scheduler is not None else 0)
        yield jobs
        leader = GaugeMetricFamily("bot_scheduler_leader", "1 if this process runs the scheduler")
        leader.add_metric([], 1 if scheduler is not None else 0)
        yield leader


class Metrics:
    """This process's Prometheus registry and its instruments."""

    def __init__(self, process: BotProcess) -> None:
        self.process = process
        self.registry = CollectorRegistry()
        self.updates = Counter("bot_updates", "Updates handled", ["type"], registry=self.registry)
        self.errors = Counter(
            "bot_handler_errors", "Updates whose handler raised", ["type"], registry=self.registry
        )
        self.latency = Histogram(
            "bot_handler_seconds",
            "Time to handle an update",
            ["type"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.queue_depth = 0
        self.reminder_lag = 0.0
        self.registry.register(_LiveCollector(process, self))

    async def refresh(self) -> None:
        """Read the database figures (queue depth, reminder lag) for the next scrape."""
        app = self.process.app
        if app is None:
            return
        now = app.clock.now()
        self.queue_depth = await app.repo.deliveries.open_count()
        oldest = await app.repo.deliveries.oldest_due(now, kind="reminder")
        self.reminder_lag = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0

    def render(self) -> bytes:
        return generate_latest(self.registry)


class Health:
    """The three endpoints, for any aiohttp application."""

    def __init__(self, process: BotProcess, metrics: Metrics) -> None:
        self.process = process
        self.metrics = metrics
        self._api_ok_at = 0.0

    def add_routes(self, web_app: web.Application) -> None:
        web_app.router.add_get("/healthz", self.healthz)
        web_app.router.add_get("/readyz", self.readyz)
        web_app.router.add_get("/metrics", self.metrics_view)

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def checks(self) -> dict[str, str]:
        """Each check's result: "ok" or why not."""
        results: dict[str, str] = {}
        process = self.process
        app = process.app
        if app is None or process.bot is None:
            return {"process": "starting or stopping"}
        try:
            async with asyncio.timeout(5):
                await app.repo.deliveries.open_count()
            results["database"] = "ok"
        except Exception as exc:
            results["database"] = type(exc).__name__
        loop = asyncio.get_running_loop()
        if loop.time() - self._api_ok_at > BOT_API_CHECK_EVERY:
            try:
                async with asyncio.timeout(5):
                    await process.bot.get_me()
                self._api_ok_at = loop.time()
            except Exception as exc:
                results["bot_api"] = type(exc).__name__
        results.setdefault("bot_api", "ok")
        results["outbox"] = await self._outbox_check()
        return results

    async def _outbox_check(self) -> str:
        process = self.process
        outbox = process.outbox
        app = process.app
        if outbox is None or app is None:
            return "not running"
        if not outbox.running:
            return "stopped"
        try:
            now = app.clock.now()
            oldest = await app.repo.deliveries.oldest_due(now)
        except Exception as exc:
            return type(exc).__name__
        late = (now - oldest).total_seconds() if oldest is not None else 0.0
        quiet = asyncio.get_running_loop().time() - outbox.progress_at
        if late > STUCK_AFTER and quiet > STUCK_AFTER:
            return f"stuck: a due delivery waits {late:.0f} s, nothing written for {quiet:.0f} s"
        return "ok"

    async def readyz(self, _request: web.Request) -> web.Response:
        results = await self.checks()
        ready = all(value == "ok" for value in results.values())
        return web.json_response(
            {"status": "ready" if ready else "not ready", "checks": results},
            status=200 if ready else 503,
        )

    async def metrics_view(self, _request: web.Request) -> web.Response:
        try:
            await self.metrics.refresh()
        except Exception:
            log.warning("metrics: the database figures could not be read")
        return web.Response(
            body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )


async def start_side_server(health: Health, host: str, port: int) -> web.AppRunner:
    """The endpoints on a port of their own (polling mode)."""
    web_app = web.Application()
    health.add_routes(web_app)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("health and metrics on %s:%s", host, port)
    return runner
