"""The outbox (``deliveries``); broadcasts are in ``db.repo.broadcasts``.

Every bulk message is a ``deliveries`` row before it is sent (DESIGN rule 2). A sender
claims due rows in one short transaction, sends with no transaction open, then writes
the outcome in another. Claims are safe across processes:

* PostgreSQL: ``UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)``: two
  workers never claim the same row and never wait for each other's locked rows;
* SQLite: the same statement (SQLite has no FOR UPDATE) inside the ``BEGIN IMMEDIATE``
  transaction every ``Database`` transaction starts with, which serialises writers.

Outcomes are written only for rows the writer still holds (``claimed_by``), so a row
taken back from a stalled worker (``reclaim_stale``) is never overwritten by it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db.database import Database
from db.dto import (
    ClaimedDelivery,
    DeliveryCounts,
    DeliveryFailureDTO,
    DeliveryResult,
    NewDelivery,
)
from db.models import Delivery, User, utcnow
from db.repo.users import user_dto

log = logging.getLogger(__name__)

DELIVERIES = cast(Table, Delivery.__table__)
USERS = cast(Table, User.__table__)
ENQUEUE_CHUNK = 500  # rows per INSERT (11 parameters each, well under both limits)
# Rows per enqueue() call when a big audience is written while the outbox sends: short
# transactions leave SQLite's one connection free for the sender's claims and outcomes
# (1,000-row transactions cost a 500/s wave about 5 % of its rate; bench/reminders.py).
ENQUEUE_SLICE = 250
ERROR_MAX = 1000
LOCALES = ("kk", "ky", "ru", "en")
EnqueueListener = Callable[[int], None]


def _clip(error: str | None) -> str | None:
    return error[:ERROR_MAX] if error else error


def _outcome_values(status: str, now: datetime) -> tuple[dict[str, Any], frozenset[str]]:
    """The SET clause writing one kind of outcome, and the parameters it takes per row."""
    d = DELIVERIES.c
    base = frozenset({"b_id", "b_worker"})
    if status == "sent":
        return {
            "status": "sent",
            "sent_at": now,
            "message_id": bindparam("b_message"),
            "attempts": d.attempts + 1,
            "last_error": None,
        }, base | {"b_message"}
    if status in ("failed", "blocked"):
        return {
            "status": status,
            "last_error": bindparam("b_error"),
            "attempts": d.attempts + 1,
        }, base | {"b_error"}
    if status == "skipped":
        return {"status": "skipped", "last_error": bindparam("b_error")}, base | {"b_error"}
    if status == "retry":
        return {
            "status": "pending",
            "not_before": bindparam("b_not_before"),
            "last_error": bindparam("b_error"),
            "attempts": d.attempts + 1,
            "claimed_by": None,
            "claimed_at": None,
        }, base | {"b_error", "b_not_before"}
    if status == "release":
        return {"status": "pending", "claimed_by": None, "claimed_at": None}, base
    raise ValueError(f"unknown delivery outcome {status!r}")


class DeliveryRepo:
    """Enqueue, claim and mark deliveries; counts and failures per broadcast."""

    def __init__(self, db: Database, now: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self._now = now
        self._listeners: list[EnqueueListener] = []

    # ---- enqueue -------------------------------------------------------------------------

    def add_listener(self, listener: EnqueueListener) -> None:
        """Called with the number of new rows after every enqueue that added some (the
        outbox of this process wakes up at once instead of at its next poll)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: EnqueueListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def sent_message(self, dedupe_key: str) -> tuple[int, int] | None:
        """(chat id, message id) of the message a delivery became, once sent."""
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(Delivery.user_id, Delivery.message_id).where(
                        Delivery.dedupe_key == dedupe_key,
                        Delivery.status == "sent",
                        Delivery.message_id.is_not(None),
                    )
                )
            ).first()
        if row is None or row[1] is None:
            return None
        return int(row[0]), int(row[1])

    async def enqueue(
        self,
        rows: Sequence[NewDelivery],
        *,
        also: Callable[[AsyncSession], Awaitable[object]] | None = None,
    ) -> int:
        """Insert the rows whose dedupe key is new (ON CONFLICT DO NOTHING); returns how
        many were new. One transaction; ``also`` writes what belongs with the rows in it
        (a staff answer's "answered" mark), so they are committed together or not at all,
        and the outbox is woken only after that."""
        if not rows and also is None:
            return 0
        async with self.db.transaction() as s:
            new = await self.enqueue_in(s, rows)
            if also is not None:
                await also(s)
        self.enqueued(new)
        return new

    async def enqueue_in(self, s: AsyncSession, rows: Sequence[NewDelivery]) -> int:
        """Insert the rows in the caller's transaction (ON CONFLICT DO NOTHING); returns
        how many were new. The caller calls ``enqueued`` with it once committed."""
        now = self._now()
        values = [
            {
                "kind": r.kind,
                "dedupe_key": r.dedupe_key,
                "broadcast_id": r.broadcast_id,
                "session_id": r.session_id,
                "user_id": r.user_id,
                "payload": r.payload,
                "status": "pending",
                "attempts": 0,
                "not_before": r.not_before or now,
                "expires_at": r.expires_at,
                "created_at": now,
            }
            for r in rows
        ]
        new = 0
        for start in range(0, len(values), ENQUEUE_CHUNK):
            stmt = (
                self.db.insert(DELIVERIES)
                .values(values[start : start + ENQUEUE_CHUNK])
                .on_conflict_do_nothing(index_elements=["dedupe_key"])
                .returning(DELIVERIES.c.id)
            )
            new += len((await s.execute(stmt)).all())
        return new

    def enqueued(self, new: int) -> None:
        """Wake this process's outbox for ``new`` committed rows."""
        if new:
            for listener in list(self._listeners):
                listener(new)

    # ---- the sender's side ---------------------------------------------------------------

    async def claim(self, worker_id: str, limit: int, now: datetime) -> list[ClaimedDelivery]:
        """Atomically move up to ``limit`` due pending rows (oldest first) to claimed by
        ``worker_id``; expired rows are left for ``expire``. Recipients come along."""
        d = DELIVERIES.c
        due = (
            select(d.id)
            .where(
                d.status == "pending",
                d.not_before <= now,
                or_(d.expires_at.is_(None), d.expires_at >= now),
            )
            .order_by(d.not_before, d.id)
            .limit(limit)
        )
        picked: ColumnElement[bool]
        if self.db.is_sqlite:
            picked = d.id.in_(due.scalar_subquery())
        else:
            # A materialised CTE runs once: an IN (subquery … SKIP LOCKED) may be re-run by
            # the planner and then claim more than ``limit`` rows.
            cte = due.with_for_update(skip_locked=True).cte("due").prefix_with("MATERIALIZED")
            picked = d.id == cte.c.id
        stmt = (
            update(DELIVERIES)
            .where(picked, d.status == "pending")
            .values(status="claimed", claimed_by=worker_id, claimed_at=now)
            .returning(
                d.id,
                d.kind,
                d.user_id,
                d.payload,
                d.attempts,
                d.broadcast_id,
                d.session_id,
                d.expires_at,
            )
        )
        async with self.db.transaction() as s:
            rows = (await s.execute(stmt)).all()
            if not rows:
                return []
            # Group chats (staff cards, notices to a chat) have negative ids: no user row
            # to read for them.
            user_ids = {int(r.user_id) for r in rows if int(r.user_id) > 0}
            users = (
                {
                    u.id: user_dto(u)
                    for u in await s.scalars(select(User).where(User.id.in_(user_ids)))
                }
                if user_ids
                else {}
            )
        claimed = [
            ClaimedDelivery(
                id=int(r.id),
                kind=str(r.kind),
                user_id=int(r.user_id),
                payload=dict(r.payload or {}),
                attempts=int(r.attempts),
                broadcast_id=r.broadcast_id,
                session_id=r.session_id,
                expires_at=r.expires_at,
                user=users.get(int(r.user_id)),
            )
            for r in rows
        ]
        claimed.sort(key=lambda c: c.id)
        return claimed

    async def finish(
        self, worker_id: str, results: Sequence[DeliveryResult], now: datetime
    ) -> None:
        """Write many outcomes in one transaction (the sender's group commit). Rows no
        longer held by ``worker_id`` are left as they are. A ``blocked`` outcome also
        marks its user inactive."""
        if not results:
            return
        by_status: dict[str, list[DeliveryResult]] = {}
        for result in results:
            by_status.setdefault(result.status, []).append(result)
        d = DELIVERIES.c
        held = and_(
            d.id == bindparam("b_id"), d.claimed_by == bindparam("b_worker"), d.status == "claimed"
        )
        async with self.db.transaction() as s:
            for status, group in by_status.items():
                values, keys = _outcome_values(status, now)
                params = [
                    {
                        key: value
                        for key, value in (
                            ("b_id", r.id),
                            ("b_worker", worker_id),
                            ("b_error", _clip(r.error)),
                            ("b_message", r.message_id),
                            ("b_not_before", r.not_before or now),
                        )
                        if key in keys
                    }
                    for r in group
                ]
                await s.execute(update(DELIVERIES).where(held).values(**values), params)
            blocked = {r.user_id for r in by_status.get("blocked", ()) if r.user_id is not None}
            if blocked:
                await s.execute(
                    update(USERS).where(USERS.c.id.in_(blocked)).values(is_active=False)
                )

    async def mark_sent(self, worker_id: str, delivery_id: int, message_id: int | None) -> None:
        now = self._now()
        await self.finish(
            worker_id, [DeliveryResult(delivery_id, "sent", message_id=message_id)], now
        )

    async def mark_failed(self, worker_id: str, delivery_id: int, error: str) -> None:
        await self.finish(worker_id, [DeliveryResult(delivery_id, "failed", error)], self._now())

    async def mark_blocked(
        self, worker_id: str, delivery_id: int, user_id: int, error: str
    ) -> None:
        await self.finish(
            worker_id,
            [DeliveryResult(delivery_id, "blocked", error, user_id=user_id)],
            self._now(),
        )

    async def retry_later(
        self, worker_id: str, delivery_id: int, error: str, not_before: datetime
    ) -> None:
        await self.finish(
            worker_id,
            [DeliveryResult(delivery_id, "retry", error, not_before=not_before)],
            self._now(),
        )

    async def release(self, worker_id: str, ids: Sequence[int] | None = None) -> int:
        """Give claimed rows back (pending again, attempt not counted): the given ones, or
        every row the worker holds (a worker stopping after its last request)."""
        d = DELIVERIES.c
        query = update(DELIVERIES).where(d.claimed_by == worker_id, d.status == "claimed")
        if ids is not None:
            query = query.where(d.id.in_(list(ids)))
        async with self.db.transaction() as s:
            result = await s.execute(
                query.values(status="pending", claimed_by=None, claimed_at=None)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    async def heartbeat(self, worker_id: str, now: datetime) -> int:
        """Refresh ``claimed_at`` of the rows this worker holds, so they never look stale."""
        d = DELIVERIES.c
        async with self.db.transaction() as s:
            result = await s.execute(
                update(DELIVERIES)
                .where(d.claimed_by == worker_id, d.status == "claimed")
                .values(claimed_at=now)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    async def heartbeat_ids(self, worker_id: str, now: datetime) -> set[int]:
        """``heartbeat``, returning the ids still held: a row missing from the answer was
        taken back by another worker (this one was frozen past the staleness timeout)."""
        d = DELIVERIES.c
        async with self.db.transaction() as s:
            result = await s.execute(
                update(DELIVERIES)
                .where(d.claimed_by == worker_id, d.status == "claimed")
                .values(claimed_at=now)
                .returning(d.id)
            )
            return {int(row_id) for row_id in result.scalars()}

    async def reclaim_stale(self, older_than: datetime) -> int:
        """Rows claimed before ``older_than`` (their worker crashed or hangs) go back to
        pending; returns how many. The message may have gone out already: that is the
        at-most-in-flight duplicate DESIGN rule 2 allows."""
        d = DELIVERIES.c
        stale = and_(d.status == "claimed", d.claimed_at < older_than)
        picked: ColumnElement[bool] = stale
        if not self.db.is_sqlite:
            # Rows a frozen worker has locked mid-transaction are skipped, not waited for
            # (they are taken back on a later round, once its transaction is over).
            cte = (
                select(d.id)
                .where(stale)
                .with_for_update(skip_locked=True)
                .cte("stale")
                .prefix_with("MATERIALIZED")
            )
            picked = and_(d.id == cte.c.id, stale)
        async with self.db.transaction() as s:
            result = await s.execute(
                update(DELIVERIES)
                .where(picked)
                .values(status="pending", claimed_by=None, claimed_at=None)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    async def expire(self, now: datetime) -> int:
        """Pending rows past their ``expires_at`` are skipped, never sent."""
        d = DELIVERIES.c
        async with self.db.transaction() as s:
            result = await s.execute(
                update(DELIVERIES)
                .where(d.status == "pending", d.expires_at.is_not(None), d.expires_at < now)
                .values(status="skipped", last_error="expired")
            )
            return int(getattr(result, "rowcount", 0) or 0)

    async def oldest_due(self, now: datetime, kind: str | None = None) -> datetime | None:
        """When the longest-waiting due row (pending, not expired) fell due; None: none
        (``/readyz`` and the reminder lag metric)."""
        d = DELIVERIES.c
        query = select(func.min(d.not_before)).where(
            d.status == "pending",
            d.not_before <= now,
            or_(d.expires_at.is_(None), d.expires_at >= now),
        )
        if kind is not None:
            query = query.where(d.kind == kind)
        async with self.db.read() as s:
            value = await s.scalar(query)
        return cast(datetime | None, value)

    async def next_due(self) -> datetime | None:
        """When the earliest pending row becomes due (None: nothing pending)."""
        d = DELIVERIES.c
        async with self.db.read() as s:
            value = await s.scalar(select(func.min(d.not_before)).where(d.status == "pending"))
        return cast(datetime | None, value)

    # ---- per broadcast -------------------------------------------------------------------

    async def counts(self, broadcast_id: int | None = None) -> DeliveryCounts:
        """Rows by status, of one broadcast or of all."""
        d = DELIVERIES.c
        query = select(d.status, func.count()).group_by(d.status)
        if broadcast_id is not None:
            query = query.where(d.broadcast_id == broadcast_id)
        async with self.db.read() as s:
            rows = (await s.execute(query)).all()
        found = {str(status): int(n) for status, n in rows}
        return DeliveryCounts(**{k: found.get(k, 0) for k in DeliveryCounts.__dataclass_fields__})

    async def failures(self, broadcast_id: int) -> list[DeliveryFailureDTO]:
        """Failed and blocked deliveries of a broadcast, by user id."""
        d = DELIVERIES.c
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(
                        d.user_id,
                        d.status,
                        d.attempts,
                        d.last_error,
                        User.first_name,
                        User.username,
                    )
                    .select_from(DELIVERIES.outerjoin(User, User.id == d.user_id))
                    .where(d.broadcast_id == broadcast_id, d.status.in_(("failed", "blocked")))
                    .order_by(d.user_id)
                )
            ).all()
        return [DeliveryFailureDTO(int(r[0]), str(r[1]), int(r[2]), r[3], r[4], r[5]) for r in rows]

    async def skip_pending(self, broadcast_id: int, reason: str) -> int:
        """Pending rows of a broadcast are skipped (Stop; a cancelled broadcast)."""
        async with self.db.transaction() as s:
            return await _skip_pending(s, broadcast_id, reason)

    async def open_count(self, broadcast_id: int | None = None) -> int:
        """Rows not yet final (pending or claimed), of one broadcast or of all."""
        d = DELIVERIES.c
        query = select(func.count()).where(d.status.in_(("pending", "claimed")))
        if broadcast_id is not None:
            query = query.where(d.broadcast_id == broadcast_id)
        async with self.db.read() as s:
            return int(await s.scalar(query) or 0)


async def _skip_pending(s: AsyncSession, broadcast_id: int, reason: str) -> int:
    d = DELIVERIES.c
    result = await s.execute(
        update(DELIVERIES)
        .where(d.broadcast_id == broadcast_id, d.status == "pending")
        .values(status="skipped", last_error=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)
