"""Telegram-like flood limits: a global token bucket plus one bucket per chat."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "RateLimits", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Flood limits for message-sending methods; ``None`` switches a limit off.

    The defaults approximate Telegram: about 30 messages per second overall, about one
    message per second in a private chat (with a small burst) and 20 per minute in a group.
    """

    global_per_second: float | None = 30.0
    global_burst: int = 30
    private_chat_per_second: float | None = 1.0
    private_chat_burst: int = 3
    group_per_minute: float | None = 20.0
    group_burst: int = 5


class TokenBucket:
    """Classic token bucket; ``try_take`` returns 0 or the seconds to wait (rounded up)."""

    __slots__ = ("_capacity", "_clock", "_rate", "_tokens", "_updated")

    def __init__(
        self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or capacity < 1:
            msg = "rate must be positive and capacity at least 1"
            raise ValueError(msg)
        self._rate = rate
        self._capacity = float(capacity)
        self._tokens = float(capacity)
        self._clock = clock
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
            self._updated = now

    def check(self) -> int:
        """Seconds to wait before a token is available (0 when one is available now)."""
        self._refill()
        if self._tokens >= 1.0:
            return 0
        return max(1, math.ceil((1.0 - self._tokens) / self._rate))

    def take(self) -> None:
        self._tokens -= 1.0


class RateLimiter:
    """Applies ``RateLimits`` to message sends; O(1) per call."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._global = (
            TokenBucket(limits.global_per_second, limits.global_burst, clock)
            if limits.global_per_second
            else None
        )
        self._chats: dict[int, TokenBucket] = {}

    def _chat_bucket(self, chat_id: int, is_private: bool) -> TokenBucket | None:
        bucket = self._chats.get(chat_id)
        if bucket is not None:
            return bucket
        limits = self.limits
        if is_private:
            if not limits.private_chat_per_second:
                return None
            bucket = TokenBucket(
                limits.private_chat_per_second, limits.private_chat_burst, self._clock
            )
        else:
            if not limits.group_per_minute:
                return None
            bucket = TokenBucket(limits.group_per_minute / 60.0, limits.group_burst, self._clock)
        self._chats[chat_id] = bucket
        return bucket

    def acquire(self, chat_id: int, *, is_private: bool) -> int:
        """Take a token for a message to ``chat_id``; return 0 or the retry_after seconds."""
        chat_bucket = self._chat_bucket(chat_id, is_private)
        wait = max(
            self._global.check() if self._global is not None else 0,
            chat_bucket.check() if chat_bucket is not None else 0,
        )
        if wait:
            return wait
        if self._global is not None:
            self._global.take()
        if chat_bucket is not None:
            chat_bucket.take()
        return 0
