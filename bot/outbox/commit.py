"""Writing outcomes: the sender's group commit (a mixin of ``Outbox``).

Everything finished since the last write goes in one transaction; a slot is freed only
once its row's outcome is committed, so after a crash at most the requests in flight can
have gone out without being marked."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.clock import Clock
from db.dto import DeliveryResult
from db.repo import Repos

log = logging.getLogger("bot.outbox.sender")

COMMIT_LINGER = 0.005  # seconds the committer waits for more outcomes while sends are busy
OutcomeListener = Callable[[list[DeliveryResult]], Awaitable[None]]


@dataclass(slots=True)
class OutboxStats:
    """What this outbox did since it started (committed outcomes and raw requests)."""

    requests: int = 0
    sent: int = 0
    failed: int = 0
    blocked: int = 0
    skipped: int = 0
    retried: int = 0
    rate_limited: int = 0  # 429 answers
    dropped: int = 0  # held past the staleness timeout (a frozen worker): never sent


class GroupCommit:
    """The committer task and its helpers; ``Outbox`` provides the state below."""

    repo: Repos
    clock: Clock
    worker_id: str
    stats: OutboxStats
    progress_at: float
    outcome_listeners: list[OutcomeListener]
    _listening: set[asyncio.Task[None]]
    _results: list[tuple[DeliveryResult, asyncio.Future[None]]]
    _results_ready: asyncio.Event
    _in_flight: set[asyncio.Task[None]]
    _stopping: bool
    _wake: asyncio.Event
    _owned: set[int]
    _last_claim_full: bool

    async def _commit(self, result: DeliveryResult) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._results.append((result, future))
        self._results_ready.set()
        await future

    async def _commit_loop(self) -> None:
        """Group commit: everything finished since the last write goes in one transaction.
        A failed write is retried until it succeeds (sending stalls meanwhile, as every
        slot waits for its outcome); when stopping, it is given up after a few tries."""
        while True:
            await self._results_ready.wait()
            if len(self._results) < len(self._in_flight) and not self._stopping:
                # More outcomes are due within milliseconds: one transaction for them all
                # costs SQLite far less than one each.
                await asyncio.sleep(COMMIT_LINGER)
            self._results_ready.clear()
            batch, self._results = self._results, []
            if not batch:
                if self._stopping and not self._in_flight:
                    return
                continue
            results = [result for result, _ in batch]
            error: BaseException | None = None
            for attempt in itertools.count():
                try:
                    await self.repo.deliveries.finish(self.worker_id, results, self.clock.now())
                    error = None
                    break
                except Exception as exc:
                    error = exc
                    log.warning("outbox: writing %s outcomes failed (%s)", len(results), exc)
                    if self._stopping and attempt >= 2:
                        break
                    await asyncio.sleep(min(5.0, 0.1 * 2**attempt))
            for _, future in batch:
                if not future.done():
                    if error is None:
                        future.set_result(None)
                    else:
                        future.set_exception(error)
            if error is None:
                # Written: sent, failed, skipped, or pending again (a retry). Not claimed.
                self._owned.difference_update(result.id for result in results)
                self.progress_at = asyncio.get_running_loop().time()
                self._count(results)
                self._tell_listeners(results)
            if any(r.status == "retry" for r in results):
                self._last_claim_full = True  # pending again: claimable when due
                self._wake.set()

    def _tell_listeners(self, results: list[DeliveryResult]) -> None:
        final = [r for r in results if r.status in ("sent", "failed", "blocked", "skipped")]
        for listener in self.outcome_listeners if final else ():
            task = asyncio.create_task(self._run_listener(listener, final))
            self._listening.add(task)
            task.add_done_callback(self._listening.discard)

    @staticmethod
    async def _run_listener(listener: OutcomeListener, results: list[DeliveryResult]) -> None:
        try:
            await listener(results)
        except Exception:
            log.exception("outbox: an outcome listener failed")

    def _count(self, results: list[DeliveryResult]) -> None:
        stats = self.stats
        for result in results:
            if result.status == "sent":
                stats.sent += 1
            elif result.status == "failed":
                stats.failed += 1
            elif result.status == "blocked":
                stats.blocked += 1
            elif result.status == "skipped":
                stats.skipped += 1
            elif result.status == "retry":
                stats.retried += 1
            if result.status in ("failed", "blocked"):
                log.info("delivery %s %s: %s", result.id, result.status, result.error)
