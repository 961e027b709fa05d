"""Pure logic: reminder offsets, the instants they fall on, the job plan, the digest time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    pass

DIGEST_AT = time(18, 0)  # local time of each centre
SWEEP_KIND = "reminder_sweep"  # job "reminder_sweep:0"
RENDER_CACHE_SECONDS = 5.0
WAVES_PER_BATCH = 32  # classes looked up and enqueued together (after a first one alone)
MAX_OFFSET_MINUTES = 60 * 24 * 30

# ---- pure logic: offsets, instants, the job plan -------------------------------------------


def offsets_in_minutes(offsets: Iterable[timedelta]) -> tuple[int, ...]:
    """Whole minutes, largest first, without duplicates."""
    minutes = {int(o.total_seconds() // 60) for o in offsets}
    if any(m <= 0 or m > MAX_OFFSET_MINUTES for m in minutes):
        raise ValueError("reminder offsets must be between one minute and 30 days")
    return tuple(sorted(minutes, reverse=True))


def reminder_instant(starts_at: datetime, offset_minutes: int) -> datetime:
    return starts_at - timedelta(minutes=offset_minutes)


def due_offset(starts_at: datetime, offsets: Sequence[int], now: datetime) -> int | None:
    """The reminder due at ``now``: the smallest offset whose instant has passed, while
    the class has not started (None: nothing due, or too late)."""
    if now >= starts_at:
        return None
    passed = [m for m in offsets if reminder_instant(starts_at, m) <= now]
    return min(passed) if passed else None


def reminder_job_id(session_id: int, offset_minutes: int) -> str:
    return f"reminder:{session_id}:{offset_minutes}"


def digest_job_id(centre_id: int) -> str:
    return f"digest:{centre_id}"


@dataclass(frozen=True, slots=True)
class PlannedJob:
    id: str
    session_id: int
    offset_minutes: int
    run_at: datetime


def plan_reminder_jobs(
    sessions: Iterable[tuple[int, datetime]],
    offsets: Sequence[int],
    now: datetime,
    horizon: timedelta | None = None,
) -> list[PlannedJob]:
    """Jobs for the reminders still ahead: instant after ``now`` (a reminder due now or
    missed is the catch-up's) and, with a horizon, no later than ``now + horizon``."""
    plan = []
    for session_id, starts_at in sessions:
        for offset in offsets:
            at = reminder_instant(starts_at, offset)
            if at <= now or (horizon is not None and at > now + horizon):
                continue
            plan.append(PlannedJob(reminder_job_id(session_id, offset), session_id, offset, at))
    plan.sort(key=lambda p: (p.run_at, p.id))
    return plan


def next_digest_at(now: datetime, tz: str) -> datetime:
    """The next 18:00 in the centre's time zone (today's if still ahead), in UTC."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    at = datetime.combine(local.date(), DIGEST_AT, tzinfo=zone)
    if at <= local:
        at = datetime.combine(local.date() + timedelta(days=1), DIGEST_AT, tzinfo=zone)
    return at.astimezone(UTC)
