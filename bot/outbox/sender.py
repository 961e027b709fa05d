"""The sender: claims rows, paces and sends them, writes the outcomes (see the package)."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import os
import random
import socket
import uuid
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import CopyMessage, SendMessage, TelegramMethod

from bot.clock import Clock, SystemClock
from bot.i18n import Translator
from bot.outbox.commit import GroupCommit, OutboxStats, OutcomeListener
from bot.outbox.pacing import Pacer, SharedPacing, Window
from bot.outbox.render import _RENDERERS, Rendered, Renderer, chat_recipient
from db.dto import ClaimedDelivery, DeliveryResult
from db.repo import Repos

log = logging.getLogger(__name__)

# Errors worth another try: Telegram or the network failed, not the request.
RETRYABLE = (
    TelegramServerError,
    TelegramNetworkError,
    TelegramConflictError,
    TelegramUnauthorizedError,
    ClientDecodeError,
)


WINDOW_CEILING = 128  # requests in flight at most (an adaptive window's ceiling)
# A held row is dropped once held this share of ``stale_after`` without a heartbeat
# confirming it (another worker may take it back at the full timeout).
HOLD_MARGIN = 0.75
PACER_CATCH_UP = 0.1  # seconds of missed send slots the pacer may make up for


def default_concurrency(rate: float) -> int:
    """Enough requests in flight for the rate at up to ~0.25 s a request: 8 at Telegram's
    real rates, more only for a raised BROADCAST_RATE (local Bot API server, benchmarks)."""
    return max(8, min(128, math.ceil(rate / 4)))


def _describe(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}"


class Outbox(GroupCommit):
    """The sender of one process; see the module docstring. ``start()`` then ``stop()``."""

    def __init__(
        self,
        repo: Repos,
        translator: Translator,
        bot: Bot,
        *,
        clock: Clock | None = None,
        rate: float = 25.0,
        concurrency: int | None = None,
        per_chat_interval: float = 1.0,
        max_attempts: int = 5,
        retry_base: float = 2.0,
        retry_max: float = 300.0,
        request_timeout: float = 20.0,
        poll_interval: float = 3.0,
        stale_after: float = 60.0,
        pause_scale: float = 1.0,
        batch_size: int | None = None,
        worker_id: str | None = None,
        shared: SharedPacing | None = None,
    ) -> None:
        """``pause_scale`` multiplies a 429's retry_after (tests only: below 1 keeps them
        fast); ``stale_after`` is how long a claim may go without its worker's heartbeat
        before another worker takes the row back. ``concurrency``: a fixed number of
        requests in flight; None: a window that follows the measured round trip.
        ``shared``: pacing shared with the bot's other processes (Redis); None: this
        process's own rate."""
        self.repo = repo
        self.translator = translator
        self.bot = bot
        self.clock = clock or SystemClock()
        self.rate = rate
        self.concurrency = concurrency or default_concurrency(rate)
        self.adaptive = concurrency is None
        self.shared = shared
        self.per_chat_interval = per_chat_interval
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.request_timeout = request_timeout
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self.pause_scale = pause_scale
        self.batch_size = batch_size or min(
            500, max(2 * self.concurrency, math.ceil(rate / 2), 32 if self.adaptive else 0)
        )
        self.worker_id = worker_id or (
            f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        self.renderers: dict[str, Renderer] = {}
        # Called when the outbox runs out of work (the broadcast monitor reports then).
        self.idle_listeners: list[Callable[[], None]] = []
        # Called with every batch of final outcomes once written (e.g. a staff answer that
        # could not be delivered is reported back to the staff member); never awaited by
        # the sender, so a slow listener cannot stall sending.
        self.outcome_listeners: list[OutcomeListener] = []
        self._listening: set[asyncio.Task[None]] = set()
        self.stats = OutboxStats()
        # Slots missed in a stall of up to 0.1 s (a busy CPU) may be caught up: the long-run
        # rate stays exact and the burst stays tiny next to Telegram's one-second window.
        self._pacer = Pacer(rate, burst=max(2, math.ceil(rate * PACER_CATCH_UP)))
        self._ready: deque[ClaimedDelivery] = deque()
        self._delayed: list[tuple[float, int, ClaimedDelivery]] = []  # per-chat spacing
        self._chat_next: dict[int, float] = {}
        self._in_flight: set[asyncio.Task[None]] = set()
        self._window = Window(
            self.concurrency, rate=rate, adaptive=self.adaptive, ceiling=WINDOW_CEILING
        )
        # Loop time each held row was last known to be this worker's (its claim, or a
        # heartbeat that found it still claimed): a row held longer than the staleness
        # timeout may be another worker's by now, so it is dropped, never sent.
        self._held_at: dict[int, float] = {}
        # Every row this worker claimed and still answers for: held, in flight, or its
        # outcome being written. A row claimed in the database under this worker's id but
        # not here (a give-back that failed) is an orphan: the heartbeat would keep it
        # fresh for ever, so the housekeeping gives it back instead (``_release_orphans``).
        self._owned: set[int] = set()
        self._orphan_suspects: set[int] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._resume_at = 0.0  # loop time when a 429 pause ends
        self._results: list[tuple[DeliveryResult, asyncio.Future[None]]] = []
        self._results_ready = asyncio.Event()
        self._last_claim_full = True
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._listener = lambda _new: self.wake()
        # Loop time of the last outcome written (``/readyz`` tells a stuck outbox by it).
        self.progress_at = 0.0

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Take back rows a crashed process left claimed, then start sending."""
        reclaimed = await self.repo.deliveries.reclaim_stale(
            self.clock.now() - timedelta(seconds=self.stale_after)
        )
        if reclaimed:
            log.info(
                "outbox: %s deliveries left claimed by a stopped process are due again", reclaimed
            )
        self.repo.deliveries.add_listener(self._listener)
        self._stopping = False
        self.progress_at = asyncio.get_running_loop().time()
        self._tasks = [
            asyncio.create_task(self._dispatch(), name="outbox-dispatch"),
            asyncio.create_task(self._commit_loop(), name="outbox-commit"),
            asyncio.create_task(self._housekeeping(), name="outbox-housekeeping"),
        ]

    async def stop(self) -> None:
        """Stop taking rows, finish the requests in flight, write their outcomes and give
        back the rows claimed but not sent."""
        if not self._tasks:
            return
        self.repo.deliveries.remove_listener(self._listener)
        self._stopping = True
        dispatch, commit, housekeeping = self._tasks
        self._tasks = []
        dispatch.cancel()
        housekeeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await dispatch
        with contextlib.suppress(asyncio.CancelledError):
            await housekeeping
        if self._in_flight:
            _done, late = await asyncio.wait(self._in_flight, timeout=self.request_timeout + 5)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        self._results_ready.set()
        await commit
        if self._listening:  # reports of the last outcomes, before the database closes
            await asyncio.wait(self._listening, timeout=5)
        self._ready.clear()
        self._delayed.clear()
        self._owned.clear()
        try:
            # Every request has finished and its outcome is written: whatever this worker
            # still holds was never sent.
            await self.repo.deliveries.release(self.worker_id)
        except Exception:
            log.warning("outbox: could not give back the deliveries claimed by this worker")

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    @property
    def window(self) -> int:
        """Requests allowed in flight now."""
        return self._window.limit

    def wake(self) -> None:
        """New rows may be due (enqueued here, or the clock moved): look now."""
        self._last_claim_full = True
        self._idle.clear()
        self._wake.set()

    async def time_moved(self) -> None:
        """``BotProcess.tickers`` hook: back-offs are counted on the injected clock."""
        self.wake()

    async def wait_idle(self) -> None:
        """Until nothing is left to send: no row pending (due or later), none held here
        and no request in flight."""
        await self._idle.wait()

    def register_renderer(self, kind: str, renderer: Renderer) -> None:
        """Like the module's ``register_renderer``, for this outbox only."""
        self.renderers[kind] = renderer

    async def forget_broadcast(self, broadcast_id: int, reason: str = "stopped") -> int:
        """Skip the rows of a broadcast this outbox holds but has not sent yet (Stop)."""
        held = [*self._ready, *(entry[2] for entry in self._delayed)]
        dropped = [row.id for row in held if row.broadcast_id == broadcast_id]
        for row_id in dropped:
            self._held_at.pop(row_id, None)
            self._owned.discard(row_id)  # if the write below fails, an orphan: given back
        self._ready = deque(row for row in self._ready if row.broadcast_id != broadcast_id)
        self._delayed = [e for e in self._delayed if e[2].broadcast_id != broadcast_id]
        heapq.heapify(self._delayed)
        if dropped:
            await self.repo.deliveries.finish(
                self.worker_id,
                [DeliveryResult(i, "skipped", reason) for i in dropped],
                self.clock.now(),
            )
            self.stats.skipped += len(dropped)
        return len(dropped)

    # ---- choosing the next row -----------------------------------------------------------

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            row = await self._next_row()
            if row is None:
                continue
            try:
                await self._window.acquire()
            except BaseException:
                self._ready.appendleft(row)
                raise
            try:
                go = await self._gate(row)
            except BaseException:
                self._window.release()
                self._ready.appendleft(row)
                raise
            if not go:  # its chat's turn is later, or it is no longer surely ours
                self._window.release()
                continue
            self._chat_next[row.user_id] = loop.time() + self.per_chat_interval
            task = asyncio.create_task(self._deliver(row))
            self._in_flight.add(task)
            task.add_done_callback(self._delivered)

    def _delivered(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not self._in_flight:
            self._wake.set()  # maybe idle now

    async def _next_row(self) -> ClaimedDelivery | None:
        loop = asyncio.get_running_loop()
        # Cleared before the state is read: a wake-up from here on is not lost.
        self._wake.clear()
        now = loop.time()
        while self._delayed and self._delayed[0][0] <= now:
            row = heapq.heappop(self._delayed)[2]
            if self._spaced(row, now):
                return row
        low = len(self._ready) + len(self._delayed) < self.batch_size // 2
        # Claimed less than asked: nothing else was due then, and a claim is a write
        # transaction. The next one waits for a reason: rows enqueued here (``wake``), a
        # retry written back, a back-off due, or the poll (another process's rows).
        if self._last_claim_full and (low or not self._ready):
            await self._claim()
        while self._ready:
            row = self._ready.popleft()
            if self._spaced(row, now):
                return row
        await self._wait_for_work()
        return None

    def _spaced(self, row: ClaimedDelivery, now: float) -> bool:
        """True if the row's chat may get a message now; else it waits its turn."""
        ready_at = self._chat_next.get(row.user_id, 0.0)
        if ready_at <= now:
            return True
        heapq.heappush(self._delayed, (ready_at, row.id, row))
        return False

    async def _claim(self) -> None:
        limit = max(1, self.batch_size - len(self._ready) - len(self._delayed))
        claimed_at = asyncio.get_running_loop().time()
        try:
            rows = await self.repo.deliveries.claim(self.worker_id, limit, self.clock.now())
        except Exception:
            log.exception("outbox: claiming deliveries failed")
            rows = []
        self._last_claim_full = len(rows) == limit
        if rows:
            self._idle.clear()
            self._ready.extend(rows)
            for row in rows:
                self._held_at[row.id] = claimed_at
                self._owned.add(row.id)

    async def _wait_for_work(self) -> None:
        """Nothing to send now: sleep until woken, a spaced-out row is ready, a pending
        row falls due (back-off) or the next poll (another process may enqueue)."""
        loop = asyncio.get_running_loop()
        timeout = self.poll_interval
        # Woken by the clock for a row spaced out in memory: no claim needed for it.
        spacing = False
        if self._delayed:
            ready_in = self._delayed[0][0] - loop.time()
            spacing = ready_in < timeout
            timeout = min(timeout, ready_in)
        else:
            try:
                due = await self.repo.deliveries.next_due()
                now = self.clock.now()
                if due is not None and due <= now:
                    # Due but not claimable: expired rows are skipped now, not polled for.
                    await self.repo.deliveries.expire(now)
                    due = await self.repo.deliveries.next_due()
            except Exception:
                log.exception("outbox: reading the next due delivery failed")
                due = None
            if due is not None:
                left = (due - self.clock.now()).total_seconds()
                timeout = min(timeout, max(left, 0.01))
            elif (
                not self._in_flight
                and not self._results
                and not self._idle.is_set()
                # Woken while the queue was read (rows enqueued, a retry): that read may
                # be older than the rows, so this is not idle; the loop looks again.
                and not self._wake.is_set()
            ):
                self._idle.set()
                for listener in list(self.idle_listeners):
                    listener()
        try:
            async with asyncio.timeout(max(timeout, 0.001)):
                await self._wake.wait()
        except TimeoutError:
            if not spacing:
                self._last_claim_full = True  # polled, or a back-off is due: claim again

    async def _gate(self, row: ClaimedDelivery) -> bool:
        """Wait out a 429 pause, then for a send slot (this process's pacer, or the slot
        shared by every process). False: not now — the chat's turn is later (the row
        waits in the delayed heap), or the row was held too long to be surely ours."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if self._resume_at > now:
                await asyncio.sleep(self._resume_at - now)
                continue
            if self.shared is None:
                await self._pacer.wait()
            else:
                try:
                    kind, seconds = await self.shared.reserve(row.user_id)
                except Exception:
                    log.warning("outbox: shared pacing unavailable; pacing this process alone")
                    await self._pacer.wait()
                else:
                    if kind == "chat":
                        heapq.heappush(self._delayed, (loop.time() + seconds, row.id, row))
                        return False
                    if seconds > 0:
                        await asyncio.sleep(seconds)
            if self._resume_at <= loop.time():
                break
        if self._held_too_long(row.id):
            await self._drop_stale_holds()
            return False
        return True

    def _held_too_long(self, row_id: int) -> bool:
        held_at = self._held_at.get(row_id)
        limit = self.stale_after * HOLD_MARGIN
        return held_at is None or asyncio.get_running_loop().time() - held_at > limit

    async def _drop_stale_holds(self, lost: set[int] | None = None) -> None:
        """Forget the held rows that may be another worker's now (this process was frozen
        or cut off past the staleness timeout; or ``lost``: a heartbeat found them taken)
        and give back those still ours. None of them is sent from here."""
        stale = {
            row.id
            for row in (*self._ready, *(entry[2] for entry in self._delayed))
            if (lost is not None and row.id in lost) or self._held_too_long(row.id)
        }
        if not stale:
            return
        self._ready = deque(row for row in self._ready if row.id not in stale)
        self._delayed = [e for e in self._delayed if e[2].id not in stale]
        heapq.heapify(self._delayed)
        for row_id in stale:
            self._held_at.pop(row_id, None)
            self._owned.discard(row_id)  # if giving back fails, an orphan: given back later
        self.stats.dropped += len(stale)
        log.warning("outbox: %s held deliveries dropped, not sent (held too long)", len(stale))
        try:
            await self.repo.deliveries.release(self.worker_id, list(stale))
        except Exception:
            log.warning("outbox: could not give back the dropped deliveries (they go stale)")

    # ---- sending -------------------------------------------------------------------------

    async def _deliver(self, row: ClaimedDelivery) -> None:
        try:
            result = await self._attempt(row)
            # Spaced from the answer too: a request slowed on its way must not arrive at
            # Telegram less than ``per_chat_interval`` before the chat's next one.
            loop = asyncio.get_running_loop()
            ready_at = loop.time() + self.per_chat_interval
            if ready_at > self._chat_next.get(row.user_id, 0.0):
                self._chat_next[row.user_id] = ready_at
            if self.shared is not None:
                with contextlib.suppress(Exception):
                    await self.shared.answered(row.user_id)
            if result is None:  # 429: the same row again after the pause
                self._ready.appendleft(row)
                self._wake.set()
            else:
                self._held_at.pop(row.id, None)
                await self._commit(result)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Only a write given up while stopping gets here: the row is still claimed, so
            # it is given back (or taken back as stale) and may go out once more.
            log.exception("outbox: the outcome of delivery %s was not written", row.id)
        finally:
            self._window.release()

    async def _attempt(self, row: ClaimedDelivery) -> DeliveryResult | None:
        user = row.user
        if row.expires_at is not None and row.expires_at < self.clock.now():
            return DeliveryResult(row.id, "skipped", "expired")
        if user is None and row.payload.get("to_chat"):
            user = chat_recipient(row.user_id, self.clock.now())
        if user is None:
            return DeliveryResult(row.id, "skipped", "no such user")
        if not user.is_active:
            return DeliveryResult(row.id, "blocked", "inactive: the user blocked the bot")
        kind = str(row.payload.get("type", ""))
        renderer = self.renderers.get(kind) or _RENDERERS.get(kind)
        if renderer is None:
            return DeliveryResult(row.id, "failed", f"no renderer for payload type {kind!r}")
        t = self.translator.bind(self.translator.resolve_locale(user.locale, user.language_code))
        try:
            rendered = await renderer(row.payload, user, t)
        except Exception as exc:
            log.exception("outbox: rendering delivery %s failed", row.id)
            return DeliveryResult(row.id, "failed", f"render: {_describe(exc)}")
        if rendered is None:
            return DeliveryResult(row.id, "skipped", "nothing to send")
        self.stats.requests += 1
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            method = self._method(row.user_id, rendered)
            sent = await self.bot(method, request_timeout=self._timeout)
        except TelegramRetryAfter as exc:
            self.stats.rate_limited += 1
            self._pause(exc.retry_after)
            if self.shared is not None:
                with contextlib.suppress(Exception):
                    await self.shared.pause(max(exc.retry_after, 0) * self.pause_scale)
            return None
        except TelegramForbiddenError as exc:
            self._window.observe(loop.time() - started)
            return DeliveryResult(row.id, "blocked", _describe(exc), user_id=row.user_id)
        except RETRYABLE as exc:
            return self._retry(row, _describe(exc))
        except TelegramAPIError as exc:  # 400 and the like: this recipient only
            return DeliveryResult(row.id, "failed", _describe(exc))
        except Exception as exc:  # e.g. a renderer's method that does not validate
            log.exception("outbox: sending delivery %s failed", row.id)
            return DeliveryResult(row.id, "failed", _describe(exc))
        self._window.observe(loop.time() - started)
        message_id = getattr(sent, "message_id", None)
        return DeliveryResult(row.id, "sent", message_id=message_id)

    @property
    def _timeout(self) -> int:
        # aiogram annotates the timeout as int; aiohttp takes any number of seconds.
        return self.request_timeout  # type: ignore[return-value]

    @staticmethod
    def _method(chat_id: int, rendered: Rendered) -> TelegramMethod[Any]:
        if rendered.method is not None:
            return rendered.method
        if rendered.copy_from is not None:
            from_chat_id, message_id = rendered.copy_from
            return CopyMessage(
                chat_id=chat_id,
                from_chat_id=from_chat_id,
                message_id=message_id,
                reply_markup=rendered.reply_markup,
            )
        if rendered.text:  # renderers write Telegram HTML, whatever the Bot's default
            return SendMessage(
                chat_id=chat_id,
                text=rendered.text,
                parse_mode=ParseMode.HTML,
                reply_markup=rendered.reply_markup,
            )
        raise ValueError("a rendered message needs text, copy_from or method")

    def _pause(self, retry_after: float) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + max(retry_after, 0) * self.pause_scale
        if until > self._resume_at:
            log.warning("outbox: Telegram asks to wait %s s; all sending paused", retry_after)
            self._resume_at = until

    def _retry(self, row: ClaimedDelivery, error: str) -> DeliveryResult:
        attempts = row.attempts + 1
        if attempts >= self.max_attempts:
            return DeliveryResult(row.id, "failed", error)
        delay = min(self.retry_max, self.retry_base * 2 ** (attempts - 1))
        delay *= 1 + random.random() * 0.25  # jitter, so retries do not come in waves
        not_before = self.clock.now() + timedelta(seconds=delay)
        return DeliveryResult(row.id, "retry", error, not_before=not_before)

    # ---- housekeeping --------------------------------------------------------------------

    async def _release_orphans(self, claimed: set[int]) -> None:
        """Give back rows claimed in the database under this worker's id that it no longer
        answers for (a give-back that failed under load): untouched, the heartbeat would
        keep them claimed for ever and nobody would send them. A row is given back when two
        heartbeats in a row find it so (the first may have run between a claim's commit
        and the moment the claimed rows reached ``_owned``)."""
        orphans = claimed - self._owned
        confirmed = orphans & self._orphan_suspects
        self._orphan_suspects = orphans - confirmed
        if confirmed:
            released = await self.repo.deliveries.release(self.worker_id, sorted(confirmed))
            log.warning("outbox: %s deliveries claimed but not held were given back", released)
            self.wake()

    async def _housekeeping(self) -> None:
        """Keep this worker's claims fresh, take back stale ones of dead workers, skip
        expired rows and forget old per-chat spacing."""
        interval = max(0.05, min(10.0, self.stale_after / 4))
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            now = self.clock.now()
            try:
                checked_at = loop.time()
                still_mine = await self.repo.deliveries.heartbeat_ids(self.worker_id, now)
                lost = {row_id for row_id in self._held_at if row_id not in still_mine}
                for row_id in still_mine:
                    if row_id in self._held_at:
                        self._held_at[row_id] = checked_at
                if lost:  # taken back by another worker while this one was away
                    await self._drop_stale_holds(lost)
                    for row_id in lost:
                        self._held_at.pop(row_id, None)
                        self._owned.discard(row_id)
                await self._release_orphans(still_mine)
                reclaimed = await self.repo.deliveries.reclaim_stale(
                    now - timedelta(seconds=self.stale_after)
                )
                if reclaimed:
                    log.info("outbox: took back %s stale deliveries", reclaimed)
                    self.wake()
                await self.repo.deliveries.expire(now)
            except Exception:
                log.exception("outbox: housekeeping failed")
            if len(self._chat_next) > 1000:
                cutoff = loop.time()
                self._chat_next = {k: v for k, v in self._chat_next.items() if v > cutoff}
