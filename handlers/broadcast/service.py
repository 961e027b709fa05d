"""``BroadcastService``: fires broadcasts when due, watches and reports their progress."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from babel.dates import format_timedelta

from bot.broadcast_content import send_method
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.i18n import BoundTranslator, Translator
from bot.outbox import Outbox, Rendered
from bot.roles import role_of
from bot.scheduler import Scheduler
from db.dto import Audience, BroadcastDTO, DeliveryCounts, NewDelivery, UserDTO
from db.repo import Repos
from db.repo.deliveries import ENQUEUE_SLICE
from handlers.broadcast.base import BcAction, bc_button

log = logging.getLogger(__name__)
FROZEN = "broadcast"  # payload type of a delivery that sends a broadcast's frozen content


def stop_markup(t: BoundTranslator, broadcast_id: int) -> InlineKeyboardMarkup:
    button = bc_button(t.plain("broadcast-btn-stop"), BcAction.stop, id=broadcast_id)
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


# ---- the service -------------------------------------------------------------------------


class BroadcastService:
    """Fires broadcasts when due, reports their progress, stops and cancels them.

    Every process has one (staff may press Send now or Stop anywhere); only the process
    running the scheduler (``SCHEDULER_ENABLED``) holds the jobs and runs the monitor
    that edits progress messages and posts the final reports.
    """

    def __init__(
        self,
        repo: Repos,
        translator: Translator,
        bot: Bot,
        outbox: Outbox,
        settings: Settings,
        *,
        clock: Clock | None = None,
        scheduler: Scheduler | None = None,
        interval: float = 2.0,
        sync_every: float = 30.0,
    ) -> None:
        self.repo = repo
        self.translator = translator
        self.bot = bot
        self.outbox = outbox
        self.settings = settings
        self.clock = clock or SystemClock()
        self.scheduler = scheduler
        self.interval = interval
        self.sync_every = sync_every
        self._poke = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._monitor: asyncio.Task[None] | None = None
        self._fire_lock = asyncio.Lock()
        self._progress: dict[int, tuple[float, int, float, str]] = {}  # t0, done0, edited, text
        # Frozen contents by broadcast id: they never change once confirmed.
        self._contents: dict[int, dict[str, Any] | None] = {}

    @property
    def monitoring(self) -> bool:
        return self.scheduler is not None

    async def start(self) -> None:
        # Every process's outbox may claim a broadcast's rows: each renders them.
        self.outbox.register_renderer(FROZEN, self.render)
        if self.scheduler is None:
            return
        self.scheduler.on("broadcast", self.fire)
        self.scheduler.add_catch_up(self.restore)
        await self.restore()
        self.outbox.idle_listeners.append(self.poke)
        self._monitor = asyncio.create_task(self._watch(), name="broadcasts: monitor")

    async def stop_service(self) -> None:
        if self.poke in self.outbox.idle_listeners:
            self.outbox.idle_listeners.remove(self.poke)
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)

    def poke(self) -> None:
        """Look at the broadcasts being sent now (not at the next tick)."""
        self._poke.set()

    # ---- firing --------------------------------------------------------------------------

    async def restore(self) -> None:
        """Jobs from the database: due broadcasts (their time passed while the bot was down,
        or the clock jumped) are sent now, the others get their ``broadcast:{id}`` job."""
        for broadcast in await self.repo.broadcasts.scheduled():
            at = broadcast.scheduled_at or broadcast.created_at
            if at <= self.clock.now():
                await self.fire(broadcast.id)
            elif self.scheduler is not None:
                self.scheduler.schedule("broadcast", broadcast.id, at)

    def schedule(self, broadcast: BroadcastDTO) -> None:
        """A broadcast scheduled here: its job, if this process runs the scheduler (else
        the scheduler's process picks it up from the database within ``sync_every``)."""
        if self.scheduler is not None and broadcast.scheduled_at is not None:
            self.scheduler.schedule("broadcast", broadcast.id, broadcast.scheduled_at)

    def send_now(self, broadcast_id: int) -> None:
        """Fire in the background: a large audience takes a moment to enqueue."""
        task = asyncio.create_task(self.fire(broadcast_id), name=f"broadcast-{broadcast_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def fire(self, broadcast_id: int) -> None:
        """Enqueue a due broadcast's deliveries and mark it sending. Idempotent: the dedupe
        keys make a second run (after a crash, by a catch-up) add nothing."""
        async with self._fire_lock:
            broadcast = await self.repo.broadcasts.get(broadcast_id)
            if broadcast is None or broadcast.status != "scheduled":
                return
            role = await role_of(self.repo, self.settings, broadcast.author_id)
            audience = await self._centres_now(broadcast, role)
            if audience is None:
                # Its author was removed from the team, or from every centre it names:
                # their announcement does not go out.
                await self.cancel(broadcast.id, actor_id=0)
                log.warning(
                    "broadcast %s cancelled: its author %s no longer reaches its centres",
                    broadcast.id,
                    broadcast.author_id,
                )
                return
            now = self.clock.now()
            at = broadcast.scheduled_at or broadcast.created_at
            if at > now:  # the wall clock ran ahead of the injected one: not yet
                if self.scheduler is not None:
                    self.scheduler.schedule("broadcast", broadcast.id, at)
                return
            ids = await self.repo.broadcasts.audience_ids(
                audience, self.settings.default_locale, author_id=broadcast.author_id
            )
            # The progress message exists before the broadcast is ``sending``: the monitor
            # finishes only ``sending`` ones, so its final edit always finds the message
            # (a small audience may be sent before a slow sendMessage comes back).
            created = False
            if broadcast.progress_message_id is None:
                created = await self._new_progress_message(broadcast, len(ids))
            payload: dict[str, Any] = (
                {"type": FROZEN, "broadcast_id": broadcast.id}
                if broadcast.content is not None
                else {  # confirmed before contents were frozen
                    "type": "copy",
                    "from_chat_id": broadcast.source_chat_id,
                    "message_id": broadcast.source_message_id,
                }
            )
            for start in range(0, len(ids), ENQUEUE_SLICE):
                if start and not await self._still_scheduled(broadcast.id):
                    break  # stopped while its audience was being written
                await self.repo.deliveries.enqueue(
                    [
                        NewDelivery(
                            kind="broadcast",
                            dedupe_key=f"broadcast:{broadcast.id}:{user_id}",
                            user_id=user_id,
                            payload=payload,
                            broadcast_id=broadcast.id,
                            not_before=now,
                        )
                        for user_id in ids[start : start + ENQUEUE_SLICE]
                    ]
                )
            if not await self.repo.broadcasts.start(broadcast.id, now):
                # Cancelled or stopped meanwhile: what was written is not sent.
                latest = await self.repo.broadcasts.get(broadcast.id)
                reason = latest.status if latest is not None else "cancelled"
                await self.repo.deliveries.skip_pending(broadcast.id, reason)
                await self.outbox.forget_broadcast(broadcast.id, reason)
                if created and reason == "cancelled":  # never sent: no progress to show
                    await self._drop_progress_message(broadcast.id)
                self.poke()
                return
            if self.scheduler is not None:  # fired by a catch-up: the job is done too
                self.scheduler.cancel("broadcast", broadcast.id)
            log.info("broadcast %s: %s deliveries enqueued", broadcast.id, len(ids))
            self.poke()

    async def _centres_now(self, broadcast: BroadcastDTO, role: str | None) -> Audience | None:
        """The audience as it stands when the broadcast fires: a centre's staff reach only
        the centres they hold now (a centre taken away since drops out; none left: None),
        and each centre's reach is the one a programme admin set (read by the query)."""
        audience = broadcast.audience
        if role is None:
            return None
        if role == "admin" or audience.centres is None:
            return audience
        held = {g.centre_id for g in await self.repo.staff.grants_of(broadcast.author_id)}
        centres = tuple(c for c in audience.centres if c in held)
        return replace(audience, centres=centres) if centres else None

    async def render(
        self, payload: Mapping[str, Any], user: UserDTO, t: BoundTranslator
    ) -> Rendered | None:
        """A recipient's copy of a broadcast: its frozen content, sent as new."""
        broadcast_id = int(payload["broadcast_id"])
        if broadcast_id not in self._contents:
            broadcast = await self.repo.broadcasts.get(broadcast_id)
            self._contents[broadcast_id] = broadcast.content if broadcast else None
        content = self._contents[broadcast_id]
        return Rendered(method=send_method(user.id, content)) if content else None

    async def revoke_author(self, author_id: int, *, actor_id: int) -> list[BroadcastDTO]:
        """A staff member removed from the team: their scheduled broadcasts are cancelled
        and those being sent are stopped. Returns them (the admin is told which)."""
        revoked = [
            b
            for b in await self.repo.broadcasts.scheduled()
            if b.author_id == author_id and await self.cancel(b.id, actor_id=actor_id)
        ]
        revoked += [
            b
            for b in await self.repo.broadcasts.active()
            if b.author_id == author_id
            and b.status == "sending"
            and await self.stop(b.id, actor_id=actor_id)
        ]
        return revoked

    async def _still_scheduled(self, broadcast_id: int) -> bool:
        current = await self.repo.broadcasts.get(broadcast_id)
        return current is not None and current.status == "scheduled"

    async def _new_progress_message(self, broadcast: BroadcastDTO, total: int) -> bool:
        """The progress message of a broadcast fired by its schedule; True if sent."""
        chat_id = broadcast.progress_chat_id or broadcast.author_id
        t = await self._author_t(broadcast)
        text = self.progress_text(t, broadcast, DeliveryCounts(pending=total), total, None)
        try:
            sent = await self.bot.send_message(
                chat_id, text, reply_markup=stop_markup(t, broadcast.id)
            )
        except TelegramAPIError as exc:
            log.warning("broadcast %s: no progress message (%s)", broadcast.id, exc)
            return False
        await self.repo.broadcasts.set_progress_message(broadcast.id, chat_id, sent.message_id)
        return True

    async def _drop_progress_message(self, broadcast_id: int) -> None:
        latest = await self.repo.broadcasts.get(broadcast_id)
        if latest is None or latest.progress_chat_id is None:
            return
        if latest.progress_message_id is None:
            return
        try:
            await self.bot.delete_message(latest.progress_chat_id, latest.progress_message_id)
        except TelegramAPIError as exc:
            log.info("broadcast %s: progress message not deleted (%s)", broadcast_id, exc)

    async def cancel(self, broadcast_id: int, *, actor_id: int) -> bool:
        cancelled = await self.repo.broadcasts.cancel(broadcast_id, actor_id=actor_id)
        if cancelled and self.scheduler is not None:
            self.scheduler.cancel("broadcast", broadcast_id)
        return cancelled

    async def stop(self, broadcast_id: int, *, actor_id: int) -> bool:
        """Stop sending: rows not sent yet are skipped (here and, held by this process's
        outbox, at once; other processes finish what they already hold)."""
        skipped = await self.repo.broadcasts.stop(
            broadcast_id, actor_id=actor_id, now=self.clock.now()
        )
        if skipped is None:
            return False
        await self.outbox.forget_broadcast(broadcast_id)
        self.poke()
        return True

    # ---- progress and reports ------------------------------------------------------------

    async def _author_t(self, broadcast: BroadcastDTO) -> BoundTranslator:
        author = await self.repo.users.get(broadcast.author_id)
        locale = self.translator.resolve_locale(
            author.locale if author else None, author.language_code if author else None
        )
        return self.translator.bind(locale)

    @staticmethod
    def progress_text(
        t: BoundTranslator,
        broadcast: BroadcastDTO,
        counts: DeliveryCounts,
        total: int,
        rate: float | None,
    ) -> str:
        """The progress message; its first line stays the same from start to end."""
        head = t("broadcast-started", id=broadcast.id, total=total)
        if broadcast.finished_at is not None:
            body = t(
                "broadcast-progress-final",
                sent=counts.sent,
                failed=counts.failed,
                blocked=counts.blocked,
                skipped=counts.skipped,
            )
        else:
            body = t(
                "broadcast-progress",
                sent=counts.sent,
                failed=counts.failed,
                blocked=counts.blocked,
                remaining=counts.remaining,
                rate=f"{rate:.1f}" if rate is not None else "—",
            )
        return f"{head}\n\n{body}"

    async def _watch(self) -> None:
        ticks = 0
        every = max(1, round(self.sync_every / self.interval))
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._poke.wait()
            self._poke.clear()
            ticks += 1
            try:
                if ticks % every == 0:
                    await self.restore()  # broadcasts scheduled by other processes
                await self.refresh()
            except Exception:
                log.exception("broadcast monitor failed")

    async def refresh(self) -> None:
        """One look at every broadcast being sent: edit its progress, or finish it."""
        loop = asyncio.get_running_loop()
        for broadcast in await self.repo.broadcasts.active():
            counts = await self.repo.deliveries.counts(broadcast.id)
            if counts.remaining == 0:
                finished = await self.repo.broadcasts.finish(broadcast.id, self.clock.now())
                if finished is not None:
                    await self._report(finished, counts)
                continue
            now = loop.time()
            t0, done0, edited, last = self._progress.setdefault(
                broadcast.id, (now, counts.processed, 0.0, "")
            )
            if now - edited < self.interval * 0.9:  # at most one edit per interval
                continue
            rate = (counts.processed - done0) / (now - t0) if now > t0 else None
            t = await self._author_t(broadcast)
            text = self.progress_text(t, broadcast, counts, counts.total, rate)
            if text != last:
                markup = stop_markup(t, broadcast.id) if broadcast.status == "sending" else None
                await self._edit(broadcast, text, markup)
            self._progress[broadcast.id] = (t0, done0, now, text)

    async def _edit(
        self, broadcast: BroadcastDTO, text: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        if broadcast.progress_chat_id is None or broadcast.progress_message_id is None:
            return
        try:
            await self.bot.edit_message_text(
                text=text,
                chat_id=broadcast.progress_chat_id,
                message_id=broadcast.progress_message_id,
                reply_markup=markup,
            )
        except TelegramBadRequest as exc:
            if "message is not modified" not in exc.message:
                log.info("broadcast %s: progress not edited (%s)", broadcast.id, exc.message)
        except TelegramAPIError as exc:
            log.info("broadcast %s: progress not edited (%s)", broadcast.id, exc)

    async def _report(self, broadcast: BroadcastDTO, counts: DeliveryCounts) -> None:
        """The last edit of the progress message and the final report under it."""
        self._progress.pop(broadcast.id, None)
        t = await self._author_t(broadcast)
        await self._edit(
            broadcast, self.progress_text(t, broadcast, counts, counts.total, None), None
        )
        took = (broadcast.finished_at or self.clock.now()) - (
            broadcast.started_at or broadcast.created_at
        )
        key = "broadcast-report-stopped" if broadcast.status == "stopped" else "broadcast-report"
        text = t(
            key,
            id=broadcast.id,
            total=counts.total,
            sent=counts.sent,
            failed=counts.failed,
            blocked=counts.blocked,
            skipped=counts.skipped,
            duration=format_timedelta(
                max(took, timedelta(seconds=1)), locale=t.locale, threshold=2
            ),
        )
        rows: list[list[InlineKeyboardButton]] = []
        if counts.failed + counts.blocked:
            rows.append(
                [bc_button(t.plain("broadcast-btn-failures"), BcAction.csv, id=broadcast.id)]
            )
        chat_id = broadcast.progress_chat_id or broadcast.author_id
        try:
            await self.bot.send_message(
                chat_id,
                text,
                reply_markup=InlineKeyboardMarkup(inline_keyboard=rows) if rows else None,
            )
        except TelegramAPIError as exc:
            log.warning("broadcast %s: final report not sent (%s)", broadcast.id, exc)
        log.info(
            "broadcast %s %s: sent %s, failed %s, blocked %s, skipped %s",
            broadcast.id,
            broadcast.status,
            counts.sent,
            counts.failed,
            counts.blocked,
            counts.skipped,
        )
