"""People as staff look them up: search candidates and everything on a person card."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from db.database import Database
from db.models import (
    Application,
    Attendance,
    AuditLog,
    Broadcast,
    ClassSession,
    Conversation,
    Course,
    Delivery,
    User,
)


@dataclass(frozen=True, slots=True)
class PersonRow:
    """One person as search sees them: Telegram names and what their applications say."""

    user_id: int
    first_name: str | None
    username: str | None
    full_names: tuple[str, ...]
    phones: tuple[str, ...]
    application_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """One step of an application's history (from the audit log)."""

    application_id: int
    action: str  # application.accept | .waitlist | .reject | .promote | .move
    actor_id: int
    at: datetime
    status: str | None


@dataclass(frozen=True, slots=True)
class AttendanceEntry:
    session_id: int
    group_id: int
    starts_at: datetime
    cancelled: bool
    answer: str | None
    present: bool | None


@dataclass(frozen=True, slots=True)
class AnnouncementEntry:
    broadcast_id: int | None
    kind: str
    status: str
    sent_at: datetime | None


class PeopleRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def candidates(self, centre_ids: Collection[int] | None) -> list[PersonRow]:
        """Everyone with an application or a conversation (of these centres; None: all)."""
        apps = (
            select(
                Application.user_id,
                Application.id,
                Application.full_name,
                Application.phone,
                User.first_name,
                User.username,
            )
            .join(Course, Course.id == Application.course_id)
            .join(User, User.id == Application.user_id)
        )
        talks = select(Conversation.user_id, User.first_name, User.username).join(
            User, User.id == Conversation.user_id
        )
        if centre_ids is not None:
            wanted = list(centre_ids)
            apps = apps.where(Course.centre_id.in_(wanted))
            talks = talks.where(Conversation.centre_id.in_(wanted))
        found: dict[int, tuple[str | None, str | None, list[str], list[str], list[int]]] = {}
        # Core, not ORM, and one pass: every applicant of the centres is read per search.
        async with self.db.read_core() as conn:
            for user_id, app_id, full_name, phone, first, username in await conn.execute(apps):
                entry = found.get(user_id)
                if entry is None:
                    entry = found[user_id] = (first, username, [], [], [])
                if full_name not in entry[2]:
                    entry[2].append(full_name)
                if phone not in entry[3]:
                    entry[3].append(phone)
                entry[4].append(app_id)
            for user_id, first, username in await conn.execute(talks):
                found.setdefault(user_id, (first, username, [], [], []))
        return [
            PersonRow(uid, first, username, tuple(names), tuple(phones), tuple(ids))
            for uid, (first, username, names, phones, ids) in found.items()
        ]

    async def user_of_application(self, application_id: int) -> int | None:
        async with self.db.read() as s:
            value = await s.scalar(
                select(Application.user_id).where(Application.id == application_id)
            )
            return int(value) if value is not None else None

    async def centres_of(self, user_id: int) -> set[int]:
        """The centres a person has dealt with: their applications' and conversations'."""
        async with self.db.read() as s:
            apps = await s.scalars(
                select(Course.centre_id)
                .join(Application, Application.course_id == Course.id)
                .where(Application.user_id == user_id)
            )
            talks = await s.scalars(
                select(Conversation.centre_id).where(Conversation.user_id == user_id)
            )
            return {int(c) for c in [*apps, *talks] if c is not None}

    async def status_history(self, application_ids: Collection[int]) -> list[StatusEvent]:
        if not application_ids:
            return []
        async with self.db.read() as s:
            rows = await s.scalars(
                select(AuditLog)
                .where(
                    AuditLog.target_type == "application",
                    AuditLog.target_id.in_([str(i) for i in application_ids]),
                )
                .order_by(AuditLog.at, AuditLog.id)
            )
            return [
                StatusEvent(
                    int(r.target_id or 0),
                    r.action,
                    r.actor_id,
                    r.at,
                    (r.after or {}).get("status") if isinstance(r.after, dict) else None,
                )
                for r in rows
            ]

    async def attendance(self, user_id: int, *, limit: int = 20) -> list[AttendanceEntry]:
        """The person's answers to class reminders and staff's marks, latest first."""
        async with self.db.read() as s:
            rows = await s.execute(
                select(
                    ClassSession.id,
                    ClassSession.group_id,
                    ClassSession.starts_at,
                    ClassSession.cancelled,
                    Attendance.answer,
                    Attendance.present,
                )
                .join(Attendance, Attendance.session_id == ClassSession.id)
                .where(Attendance.user_id == user_id)
                .order_by(ClassSession.starts_at.desc())
                .limit(limit)
            )
            return [AttendanceEntry(*row) for row in rows.all()]

    async def attendance_counts(self, user_id: int) -> tuple[int, int, int, int]:
        """(answered yes, answered no, marked present, marked absent)."""
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(
                        func.count().filter(Attendance.answer == "yes"),
                        func.count().filter(Attendance.answer == "no"),
                        func.count().filter(Attendance.present.is_(True)),
                        func.count().filter(Attendance.present.is_(False)),
                    ).where(Attendance.user_id == user_id)
                )
            ).one()
            return int(row[0]), int(row[1]), int(row[2]), int(row[3])

    async def announcements(self, user_id: int, *, limit: int = 10) -> list[AnnouncementEntry]:
        """Announcements and notices sent (or attempted) to the person, latest first."""
        async with self.db.read() as s:
            rows = await s.execute(
                select(Delivery.broadcast_id, Delivery.kind, Delivery.status, Delivery.sent_at)
                .outerjoin(Broadcast, Broadcast.id == Delivery.broadcast_id)
                .where(
                    Delivery.user_id == user_id,
                    or_(Delivery.kind == "broadcast", Delivery.kind == "notice"),
                    and_(Delivery.status != "claimed"),
                )
                .order_by(Delivery.id.desc())
                .limit(limit)
            )
            return [AnnouncementEntry(*row) for row in rows.all()]

    async def announcement_count(self, user_id: int) -> int:
        async with self.db.read() as s:
            value = await s.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(
                    Delivery.user_id == user_id,
                    Delivery.kind.in_(("broadcast", "notice")),
                    Delivery.status == "sent",
                )
            )
            return int(value or 0)

    async def group_members(self, group_id: int) -> list[tuple[int, str]]:
        """A group's trainees (accepted applications): user id and the name they gave."""
        async with self.db.read() as s:
            rows = await s.execute(
                select(Application.user_id, Application.full_name)
                .where(Application.group_id == group_id, Application.status == "accepted")
                .order_by(Application.full_name)
            )
            return [(int(u), str(n)) for u, n in rows.all()]


__all__ = ["AnnouncementEntry", "AttendanceEntry", "PeopleRepo", "PersonRow", "StatusEvent"]
