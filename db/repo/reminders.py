"""What class reminders and the staff digest read: upcoming classes, their trainees and
which reminders already have a delivery row.

A trainee of a class is a user with an ``accepted`` application in the class's group;
reminders go only to active users who have not turned them off.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, or_, select, update

from db.database import Database
from db.dto import GroupContextDTO, ReminderSessionDTO
from db.models import (
    Application,
    Centre,
    ClassSession,
    Course,
    Delivery,
    Group,
    KeyValue,
    User,
)
from db.repo.catalogue import centre_dto, course_dto, group_dto, session_dto

KEYS_CHUNK = 500  # dedupe keys per IN (...) lookup
KV = cast(Table, KeyValue.__table__)


def reminder_key(session_id: int, offset_minutes: int, user_id: int) -> str:
    """The dedupe key of one reminder: one per class, offset and trainee, whatever the
    class's time (a moved class never gets a reminder of an offset again)."""
    return f"reminder:{session_id}:{offset_minutes}:{user_id}"


class ReminderRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- classes ----------------------------------------------------------------------

    async def sessions_starting(
        self, after: datetime, until: datetime
    ) -> list[tuple[int, datetime]]:
        """(id, start) of the classes not cancelled that start in (after, until]."""
        async with self.db.read() as s:
            rows = await s.execute(
                select(ClassSession.id, ClassSession.starts_at)
                .where(
                    ClassSession.cancelled.is_(False),
                    ClassSession.starts_at > after,
                    ClassSession.starts_at <= until,
                )
                .order_by(ClassSession.starts_at, ClassSession.id)
            )
            return [(int(sid), starts_at) for sid, starts_at in rows.all()]

    async def session_info(self, session_id: int) -> ReminderSessionDTO | None:
        """A class with its group, course and centre (cancelled ones too)."""
        found = await self.sessions_info([session_id])
        return found.get(session_id)

    async def sessions_info(self, session_ids: Iterable[int]) -> dict[int, ReminderSessionDTO]:
        ids = sorted(set(session_ids))
        if not ids:
            return {}
        async with self.db.read() as s:
            rows = await s.execute(
                select(ClassSession, Group, Course, Centre)
                .join(Group, Group.id == ClassSession.group_id)
                .join(Course, Course.id == Group.course_id)
                .join(Centre, Centre.id == Course.centre_id)
                .where(ClassSession.id.in_(ids))
            )
            found: dict[int, ReminderSessionDTO] = {}
            for session, group, course, centre in rows.all():
                # Seats are not shown in a reminder: the course's totals are left at 0.
                context = GroupContextDTO(
                    group_dto(group), course_dto(course, 0, 0), centre_dto(centre)
                )
                found[session.id] = ReminderSessionDTO(session_dto(session), context)
            return found

    async def centre_sessions(
        self, centre_id: int, since: datetime, until: datetime
    ) -> list[ReminderSessionDTO]:
        """Classes not cancelled of one centre starting in [since, until), by start."""
        async with self.db.read() as s:
            ids = list(
                await s.scalars(
                    select(ClassSession.id)
                    .join(Group, Group.id == ClassSession.group_id)
                    .join(Course, Course.id == Group.course_id)
                    .where(
                        Course.centre_id == centre_id,
                        ClassSession.cancelled.is_(False),
                        ClassSession.starts_at >= since,
                        ClassSession.starts_at < until,
                    )
                )
            )
        info = await self.sessions_info(ids)
        return sorted(info.values(), key=lambda x: (x.session.starts_at, x.session.id))

    async def centres(self) -> list[tuple[int, str]]:
        """(id, time zone) of every centre."""
        async with self.db.read() as s:
            rows = await s.execute(select(Centre.id, Centre.timezone).order_by(Centre.id))
            return [(int(cid), str(tz)) for cid, tz in rows.all()]

    # ---- trainees ---------------------------------------------------------------------

    async def trainee_ids(self, group_id: int) -> set[int]:
        """Users with an accepted application in the group (active or not)."""
        async with self.db.read() as s:
            rows = await s.scalars(
                select(Application.user_id).where(
                    Application.group_id == group_id, Application.status == "accepted"
                )
            )
            return {int(x) for x in rows}

    async def is_trainee(self, user_id: int, group_id: int) -> bool:
        async with self.db.read() as s:
            found = await s.scalar(
                select(Application.id)
                .where(
                    Application.user_id == user_id,
                    Application.group_id == group_id,
                    Application.status == "accepted",
                )
                .limit(1)
            )
            return found is not None

    async def missing_recipients(
        self, waves: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], list[int]]:
        """For each (session id, offset in minutes): the trainees who should get that
        reminder (active, reminders on) and have no delivery row for it yet."""
        if not waves:
            return {}
        session_ids = sorted({sid for sid, _ in waves})
        async with self.db.read() as s:
            rows = await s.execute(
                select(ClassSession.id, Application.user_id)
                .join(Application, Application.group_id == ClassSession.group_id)
                .join(User, User.id == Application.user_id)
                .where(
                    ClassSession.id.in_(session_ids),
                    Application.status == "accepted",
                    # A trainee who dropped out gets no more class reminders.
                    or_(Application.progress.is_(None), Application.progress != "dropped"),
                    User.is_active.is_(True),
                    User.reminders_enabled.is_(True),
                )
                .order_by(ClassSession.id, Application.user_id)
            )
            trainees: dict[int, list[int]] = {}
            for sid, uid in rows.all():
                trainees.setdefault(int(sid), []).append(int(uid))
            wanted = {
                reminder_key(sid, offset, uid): (sid, offset, uid)
                for sid, offset in waves
                for uid in trainees.get(sid, ())
            }
            keys = list(wanted)
            existing: set[str] = set()
            for start in range(0, len(keys), KEYS_CHUNK):
                chunk = keys[start : start + KEYS_CHUNK]
                existing.update(
                    await s.scalars(
                        select(Delivery.dedupe_key).where(Delivery.dedupe_key.in_(chunk))
                    )
                )
        result: dict[tuple[int, int], list[int]] = {wave: [] for wave in waves}
        for key, (sid, offset, uid) in wanted.items():
            if key not in existing:
                result[(sid, offset)].append(uid)
        return result

    # ---- pending reminders when a class changes ---------------------------------------

    async def retime_pending(self, session_id: int, starts_at: datetime) -> int:
        """A moved class: its reminders not sent yet expire at its new start."""
        d = Delivery.__table__.c
        async with self.db.transaction() as s:
            result = await s.execute(
                update(Delivery)
                .where(d.session_id == session_id, d.kind == "reminder", d.status == "pending")
                .values(expires_at=starts_at)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    async def skip_pending(self, session_id: int, reason: str) -> int:
        """A cancelled class: its reminders not sent yet are skipped."""
        d = Delivery.__table__.c
        async with self.db.transaction() as s:
            result = await s.execute(
                update(Delivery)
                .where(d.session_id == session_id, d.kind == "reminder", d.status == "pending")
                .values(status="skipped", last_error=reason)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    # ---- once-only markers (the daily digest) -----------------------------------------

    async def claim_marker(self, key: str, value: str) -> bool:
        """Write a marker unless it exists; True for the one caller that wrote it (safe
        across processes: INSERT … ON CONFLICT DO NOTHING)."""
        stmt = (
            self.db.insert(KV)
            .values(key=key, value=value)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(KV.c.key)
        )
        async with self.db.transaction() as s:
            return (await s.execute(stmt)).first() is not None

    async def release_marker(self, key: str) -> None:
        async with self.db.transaction() as s:
            await s.execute(delete(KeyValue).where(KeyValue.key == key))
