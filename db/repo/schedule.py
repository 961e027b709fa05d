"""Staff changes to class sessions: add, move, cancel; each audited in its transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.database import Database
from db.dto import SessionDTO
from db.models import ClassSession, Group
from db.repo.audit import add_audit
from db.repo.catalogue import session_dto

ROOM_MAX = 64
MAX_LENGTH = timedelta(hours=12)


class ScheduleError(Exception):
    """A refused schedule change; ``code`` selects the message shown to staff."""

    def __init__(self, code: str, session: SessionDTO | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.session = session


def _snapshot(row: ClassSession) -> dict[str, object]:
    return {
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
        "room": row.room,
        "cancelled": row.cancelled,
    }


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("naive datetime given; use aware UTC datetimes")
    if not starts_at < ends_at <= starts_at + MAX_LENGTH:
        raise ScheduleError("bad_times")


async def _overlapping(
    s: AsyncSession,
    group_id: int,
    starts_at: datetime,
    ends_at: datetime,
    exclude_id: int | None = None,
) -> ClassSession | None:
    query = select(ClassSession).where(
        ClassSession.group_id == group_id,
        ClassSession.cancelled.is_(False),
        ClassSession.starts_at < ends_at,
        ClassSession.ends_at > starts_at,
    )
    if exclude_id is not None:
        query = query.where(ClassSession.id != exclude_id)
    return await s.scalar(query.limit(1))


class ScheduleRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        group_id: int,
        starts_at: datetime,
        ends_at: datetime,
        room: str | None,
        *,
        actor_id: int,
    ) -> SessionDTO:
        _check_times(starts_at, ends_at)
        async with self.db.transaction() as s:
            if await s.get(Group, group_id) is None:
                raise ScheduleError("not_found")
            clash = await _overlapping(s, group_id, starts_at, ends_at)
            if clash is not None:
                raise ScheduleError("overlap", session_dto(clash))
            row = ClassSession(
                group_id=group_id,
                starts_at=starts_at,
                ends_at=ends_at,
                room=room[:ROOM_MAX] if room else None,
                cancelled=False,
            )
            s.add(row)
            await s.flush()
            add_audit(s, actor_id, "session.add", "session", row.id, None, _snapshot(row))
            return session_dto(row)

    async def move(
        self,
        session_id: int,
        starts_at: datetime,
        ends_at: datetime,
        room: str | None,
        *,
        actor_id: int,
        not_before: datetime | None = None,
    ) -> tuple[SessionDTO, SessionDTO]:
        """Move a class (and change its room when given); returns (before, after).

        With ``not_before`` (now), a class that has started by then is refused."""
        _check_times(starts_at, ends_at)
        async with self.db.transaction() as s:
            row = await s.scalar(
                select(ClassSession).where(ClassSession.id == session_id).with_for_update()
            )
            if row is None:
                raise ScheduleError("not_found")
            if row.cancelled:
                raise ScheduleError("cancelled", session_dto(row))
            if not_before is not None and row.starts_at <= not_before:
                raise ScheduleError("started", session_dto(row))
            new_room = room[:ROOM_MAX] if room else row.room
            if (row.starts_at, row.ends_at, row.room) == (starts_at, ends_at, new_room):
                raise ScheduleError("unchanged", session_dto(row))
            clash = await _overlapping(s, row.group_id, starts_at, ends_at, exclude_id=row.id)
            if clash is not None:
                raise ScheduleError("overlap", session_dto(clash))
            before = session_dto(row)
            audit_before = _snapshot(row)
            row.starts_at = starts_at
            row.ends_at = ends_at
            row.room = new_room
            await s.flush()
            add_audit(s, actor_id, "session.move", "session", row.id, audit_before, _snapshot(row))
            return before, session_dto(row)

    async def cancel(
        self, session_id: int, *, actor_id: int, not_before: datetime | None = None
    ) -> tuple[SessionDTO, SessionDTO]:
        """Cancel a class; with ``not_before`` (now), a class that has started is refused."""
        async with self.db.transaction() as s:
            row = await s.scalar(
                select(ClassSession).where(ClassSession.id == session_id).with_for_update()
            )
            if row is None:
                raise ScheduleError("not_found")
            if row.cancelled:
                raise ScheduleError("cancelled", session_dto(row))
            if not_before is not None and row.starts_at <= not_before:
                raise ScheduleError("started", session_dto(row))
            before = session_dto(row)
            audit_before = _snapshot(row)
            row.cancelled = True
            await s.flush()
            add_audit(
                s, actor_id, "session.cancel", "session", row.id, audit_before, _snapshot(row)
            )
            return before, session_dto(row)

    async def clash(
        self, group_id: int, starts_at: datetime, ends_at: datetime, exclude_id: int | None
    ) -> SessionDTO | None:
        """A class of the group (not cancelled, not ``exclude_id``) overlapping the times."""
        async with self.db.read() as s:
            row = await _overlapping(s, group_id, starts_at, ends_at, exclude_id)
            return session_dto(row) if row is not None else None

    async def usual_length(self, group_id: int) -> timedelta | None:
        """How long the group's classes usually last: the most common length of its
        classes (cancelled ones aside), the latest class's on a tie; None without any."""
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(ClassSession.starts_at, ClassSession.ends_at)
                    .where(ClassSession.group_id == group_id, ClassSession.cancelled.is_(False))
                    .order_by(ClassSession.starts_at, ClassSession.id)
                )
            ).all()
        lengths = [end - start for start, end in rows if timedelta(0) < end - start <= MAX_LENGTH]
        if not lengths:
            return None
        counts = Counter(lengths)
        best = max(counts.values())
        return next(x for x in reversed(lengths) if counts[x] == best)

    async def snapshot(self, group_ids: Sequence[int]) -> dict[int, SessionDTO]:
        """Every class of these groups, cancelled ones included, by id."""
        if not group_ids:
            return {}
        async with self.db.transaction() as s:
            rows = await s.scalars(
                select(ClassSession).where(ClassSession.group_id.in_(list(group_ids)))
            )
            return {row.id: session_dto(row) for row in rows}

    async def group_ids_by_code(self, codes: Sequence[str]) -> dict[str, int]:
        if not codes:
            return {}
        async with self.db.transaction() as s:
            rows = await s.execute(select(Group.code, Group.id).where(Group.code.in_(list(codes))))
            return {str(code): int(gid) for code, gid in rows.all()}
