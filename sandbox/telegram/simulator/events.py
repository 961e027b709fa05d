"""Events: everything that happens is emitted to subscribers and awaitable by tests."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..models import Event, EventKind
from ..state import ChatState, MessageState
from .base import EventCallback, EventPredicate, SimulatorBase

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)


class SimulatorEvents(SimulatorBase):
    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def emit(
        self,
        kind: EventKind,
        *,
        chat: ChatState | None = None,
        message: MessageState | None = None,
        raw: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> Event:
        event = Event(
            kind=kind,
            seq=self.next_seq(),
            chat_id=chat.id if chat is not None else None,
            message=message.snapshot(raw) if message is not None else None,
            data=data or {},
        )
        if message is not None and kind in {EventKind.MESSAGE_SENT, EventKind.USER_MESSAGE}:
            message.seq = event.seq
        if chat is not None:
            if kind in {EventKind.MESSAGE_SENT, EventKind.MESSAGE_EDITED}:
                chat.bot_events.append(event)
            elif kind in {EventKind.USER_MESSAGE, EventKind.USER_CALLBACK}:
                chat.last_user_seq = event.seq
        if self._event_waiters:
            for predicate, future in self._event_waiters:
                if future.done():
                    continue
                try:
                    matched = predicate(event)
                except Exception as exc:  # handed to the waiting test
                    future.set_exception(exc)
                    continue
                if matched:
                    future.set_result(event)
        for callback in tuple(self._subscribers):
            try:
                result = callback(event)
            except Exception:
                logger.exception("fake API event subscriber failed")
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(_await_none(result))
                self._tasks.add(task)
                task.add_done_callback(self._subscriber_done)
        return event

    def _subscriber_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("fake API event subscriber failed", exc_info=task.exception())

    async def wait_event(
        self,
        predicate: EventPredicate,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
        *,
        past: Iterable[Event] = (),
    ) -> Event:
        """The first event (among ``past``, then future ones) satisfying ``predicate``."""
        for event in past:
            if predicate(event):
                return event
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._event_waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._event_waiters.remove(waiter)


async def _await_none(awaitable: Awaitable[None]) -> None:
    await awaitable
