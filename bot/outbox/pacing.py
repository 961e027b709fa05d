"""Pacing: when the outbox may start its next request, and how many may be in flight.

* ``Pacer``: this process's evenly spaced send slots (one process sends alone).
* ``SharedPacing``: the same slots shared by every process of the bot through Redis, so
  1–4 sender processes together keep ONE global rate; a 429 seen by one pauses all, and
  the per-chat spacing holds across processes. One Lua script per send takes the chat's
  turn and the next global slot atomically, on Redis's clock (so the processes' clocks
  need not agree); a second one, after the answer, spaces the chat from the answer too.
* ``Window``: the requests allowed in flight. Fixed when the outbox is given a
  ``concurrency``; else it follows the measured round trip (rate × RTT, plus headroom),
  so the rate holds from 0 to 300 ms of latency without a hand-tuned setting.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from typing import Any

# The Lua scripts' keys outlive their last use by 60 s (an idle bot leaves nothing).

# KEYS: global next-slot, pause-until, chat next. ARGV: interval, catch-up seconds,
# chat interval. Returns {"wait", seconds} (a slot taken: sleep that long, maybe <= 0)
# or {"chat", seconds} (the chat's turn is later: nothing taken). Numbers go back as
# strings: Redis turns Lua numbers into integers.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local chat_next = tonumber(redis.call('GET', KEYS[3]) or '0')
if chat_next > now then
  return {'chat', tostring(chat_next - now)}
end
local interval = tonumber(ARGV[1])
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now - tonumber(ARGV[2]))
slot = math.max(slot, tonumber(redis.call('GET', KEYS[2]) or '0'))
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', 60000)
redis.call('SET', KEYS[3], tostring(slot + tonumber(ARGV[3])), 'PX', 60000)
return {'wait', tostring(slot - now)}
"""

# KEYS: one key; ARGV: seconds from now. Moves the key to now + seconds unless later.
_PUSH_BACK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local until_ = now + tonumber(ARGV[1])
if until_ > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], tostring(until_), 'PX', 60000 + math.ceil(ARGV[1] * 1000))
end
return 1
"""


class Pacer:
    """Send slots evenly spaced at ``rate`` per second. A slot missed by a late wake-up
    may be used up to ``burst`` slots late, so the long-run rate holds exactly."""

    def __init__(self, rate: float, burst: int = 2) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self.burst = max(1, burst)
        self._next = 0.0

    async def wait(self) -> None:
        now = asyncio.get_running_loop().time()
        slot = max(self._next, now - (self.burst - 1) * self.interval)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class SharedPacing:
    """Global send slots, 429 pauses and per-chat spacing shared through Redis by every
    process sending as one bot (``prefix`` names the bot: its id)."""

    def __init__(
        self,
        redis: Any,
        prefix: str,
        rate: float,
        *,
        per_chat_interval: float = 1.0,
        catch_up: float = 0.1,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.redis = redis
        self.prefix = prefix
        self.interval = 1.0 / rate
        self.catch_up = max(self.interval, catch_up)
        self.per_chat_interval = per_chat_interval
        self._reserve = redis.register_script(_RESERVE)
        self._push_back = redis.register_script(_PUSH_BACK)

    def _chat_key(self, chat_id: int) -> str:
        return f"{self.prefix}:chat:{chat_id}"

    async def reserve(self, chat_id: int) -> tuple[str, float]:
        """("wait", s): a global slot is this process's in ``s`` seconds (sleep, then
        send); ("chat", s): the chat's next message may go in ``s`` seconds, no slot
        taken."""
        kind, seconds = await self._reserve(
            keys=[f"{self.prefix}:next", f"{self.prefix}:pause", self._chat_key(chat_id)],
            args=[self.interval, self.catch_up, self.per_chat_interval],
        )
        return (kind.decode() if isinstance(kind, bytes) else str(kind)), float(seconds)

    async def answered(self, chat_id: int) -> None:
        """The chat's request was answered: its next one no sooner than the interval."""
        await self._push_back(keys=[self._chat_key(chat_id)], args=[self.per_chat_interval])

    async def pause(self, seconds: float) -> None:
        """A 429: every process's next slot is after ``seconds``."""
        await self._push_back(keys=[f"{self.prefix}:pause"], args=[seconds])


class Window:
    """Requests in flight: ``acquire`` waits while ``limit`` are out. ``adaptive``: the
    limit follows ``rate × round trip × HEADROOM + SPARE`` (``observe`` each answer)."""

    HEADROOM = 1.5
    SPARE = 2
    SMOOTHING = 0.2  # weight of the newest round trip in the moving average

    def __init__(
        self, limit: int, *, rate: float, adaptive: bool, ceiling: int = 256, floor: int = 2
    ) -> None:
        self.limit = max(1, limit)
        self.rate = rate
        self.adaptive = adaptive
        self.ceiling = max(ceiling, self.limit)
        self.floor = min(floor, self.limit)
        self.rtt: float | None = None  # seconds, moving average
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        while self.in_flight >= self.limit:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def observe(self, rtt: float) -> None:
        """A request took ``rtt`` seconds from send to answer."""
        if not self.adaptive:
            return
        self.rtt = rtt if self.rtt is None else self.rtt + self.SMOOTHING * (rtt - self.rtt)
        wanted = math.ceil(self.rate * self.rtt * self.HEADROOM) + self.SPARE
        wanted = max(self.floor, min(self.ceiling, wanted))
        if wanted != self.limit:
            self.limit = wanted
            self._wake()

    def _wake(self) -> None:
        free = self.limit - self.in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1
