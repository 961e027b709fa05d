"""The update queue: pushing updates, long polling (with Telegram's conflicts), webhooks."""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any

from ..errors import ApiError
from .base import (
    ALL_UPDATE_TYPES,
    CONFLICT_POLL,
    CONFLICT_WEBHOOK,
    DEFAULT_ALLOWED_UPDATES,
    Poller,
)
from .events import SimulatorEvents

if TYPE_CHECKING:
    pass


class SimulatorUpdates(SimulatorEvents):
    def push_update(self, kind: str, payload: dict[str, Any]) -> int | None:
        """Queue an update unless the bot's ``allowed_updates`` exclude its type."""
        if kind not in self.allowed_updates:
            return None
        update_id = self._next_update_id
        self._next_update_id += 1
        self._updates.append({"update_id": update_id, kind: payload})
        for poller in self._pollers:
            if not poller.future.done():
                poller.future.set_result(None)
        return update_id

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot (via getUpdates offset)."""
        return list(self._updates)

    def drop_updates(self) -> None:
        self._updates.clear()

    def _confirm(self, offset: int | None) -> None:
        updates = self._updates
        if offset is None or offset == 0:
            return
        if offset > 0:
            while updates and updates[0]["update_id"] < offset:
                updates.popleft()
        else:
            while len(updates) > -offset:
                updates.popleft()

    async def get_updates(
        self,
        *,
        offset: int | None,
        limit: int,
        timeout: float,  # noqa: ASYNC109 - the getUpdates parameter
        allowed_updates: list[str] | None,
    ) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise ApiError(409, CONFLICT_WEBHOOK)
        for poller in self._pollers:
            poller.superseded = True
            if not poller.future.done():
                poller.future.set_result(None)
        if allowed_updates is not None:
            known = frozenset(allowed_updates) & frozenset(ALL_UPDATE_TYPES)
            self.allowed_updates = known or DEFAULT_ALLOWED_UPDATES
        self._confirm(offset)
        limit = min(max(limit, 1), 100)
        if self._updates or timeout <= 0 or self._closing:
            return list(itertools.islice(self._updates, limit))
        poller = Poller(asyncio.get_running_loop().create_future())
        self._pollers.append(poller)
        for started in self._poll_started:
            if not started.done():
                started.set_result(None)
        self._poll_started.clear()
        try:
            await asyncio.wait_for(poller.future, timeout)
        except TimeoutError:
            pass
        finally:
            self._pollers.remove(poller)
        if poller.superseded:
            raise ApiError(409, CONFLICT_POLL)
        return list(itertools.islice(self._updates, limit))

    @property
    def is_polling(self) -> bool:
        return bool(self._pollers)

    async def wait_until_polling(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
    ) -> None:
        """Wait until a getUpdates long poll is waiting for updates."""
        if self._pollers:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._poll_started.append(future)
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            if future in self._poll_started:
                self._poll_started.remove(future)

    def close(self) -> None:
        """Release long polls (they answer with what they have) and refuse to wait again."""
        self._closing = True
        for poller in self._pollers:
            if not poller.future.done():
                poller.future.set_result(None)

    def reopen(self) -> None:
        self._closing = False
