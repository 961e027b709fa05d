"""Attendance: a trainee's answer to a class reminder (yes | no) and the staff's mark of
who actually came. The roster of a class is its group's trainees (accepted applications).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, func, select

from db.database import Database
from db.dto import AttendanceCounts, AttendanceRowDTO
from db.models import Application, Attendance, ClassSession, User
from db.repo.audit import add_audit

ANSWERS = ("yes", "no")
ATTENDANCE = cast(Table, Attendance.__table__)


class AttendanceRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def answer(self, session_id: int, user_id: int, answer: str, at: datetime) -> None:
        """Store (or change) a trainee's answer; one atomic upsert."""
        if answer not in ANSWERS:
            raise ValueError(f"unknown answer {answer!r}")
        stmt = self.db.insert(ATTENDANCE).values(
            session_id=session_id, user_id=user_id, answer=answer, answered_at=at
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["session_id", "user_id"],
            set_={"answer": stmt.excluded.answer, "answered_at": stmt.excluded.answered_at},
        )
        async with self.db.transaction() as s:
            await s.execute(stmt)

    async def get(self, session_id: int, user_id: int) -> tuple[str | None, bool | None] | None:
        """(answer, present) of one trainee, None if nothing is stored."""
        async with self.db.read() as s:
            row = await s.get(Attendance, (session_id, user_id))
            return (row.answer, row.present) if row is not None else None

    async def answers(self, session_id: int) -> dict[int, str]:
        """Every stored answer of a class: user id → yes | no."""
        async with self.db.read() as s:
            rows = await s.execute(
                select(Attendance.user_id, Attendance.answer).where(
                    Attendance.session_id == session_id, Attendance.answer.is_not(None)
                )
            )
            return {int(uid): str(answer) for uid, answer in rows.all()}

    async def mark(
        self, session_id: int, user_id: int, present: bool | None, *, actor_id: int
    ) -> bool:
        """Staff mark a trainee present (True), absent (False) or clear the mark (None);
        audited. False if it was already so (nothing written)."""
        async with self.db.transaction() as s:
            row = await s.get(Attendance, (session_id, user_id), with_for_update=True)
            before = row.present if row is not None else None
            if row is not None and before is present:
                return False
            if row is None:
                if present is None:
                    return False
                stmt = (
                    self.db.insert(ATTENDANCE)
                    .values(
                        session_id=session_id, user_id=user_id, present=present, marked_by=actor_id
                    )
                    .on_conflict_do_update(
                        index_elements=["session_id", "user_id"],
                        set_={"present": present, "marked_by": actor_id},
                    )
                )
                await s.execute(stmt)
            else:
                row.present = present
                row.marked_by = actor_id
            add_audit(
                s,
                actor_id,
                "attendance.mark",
                "session",
                session_id,
                {"user_id": user_id, "present": before},
                {"user_id": user_id, "present": present},
            )
            return True

    async def roster(self, session_id: int) -> list[AttendanceRowDTO]:
        """The class's trainees by name, with their answers and marks."""
        att = Attendance
        query = (
            select(
                Application.user_id,
                Application.full_name,
                User.username,
                att.answer,
                att.answered_at,
                att.present,
                att.marked_by,
            )
            .select_from(ClassSession)
            .join(
                Application,
                and_(
                    Application.group_id == ClassSession.group_id,
                    Application.status == "accepted",
                ),
            )
            .outerjoin(User, User.id == Application.user_id)
            .outerjoin(
                att, and_(att.session_id == ClassSession.id, att.user_id == Application.user_id)
            )
            .where(ClassSession.id == session_id)
            .order_by(Application.full_name, Application.user_id)
        )
        async with self.db.read() as s:
            rows = (await s.execute(query)).all()
        return [
            AttendanceRowDTO(
                user_id=int(r[0]),
                full_name=str(r[1]),
                username=r[2],
                answer=r[3],
                answered_at=r[4],
                present=r[5],
                marked_by=r[6],
            )
            for r in rows
        ]

    async def counts(self, session_ids: Iterable[int]) -> dict[int, AttendanceCounts]:
        """Per class: its trainees' answers (yes, no, none yet) and marks."""
        ids = sorted(set(session_ids))
        if not ids:
            return {}
        att = Attendance
        query = (
            select(ClassSession.id, att.answer, att.present, func.count())
            .select_from(ClassSession)
            .join(
                Application,
                and_(
                    Application.group_id == ClassSession.group_id,
                    Application.status == "accepted",
                ),
            )
            .outerjoin(
                att, and_(att.session_id == ClassSession.id, att.user_id == Application.user_id)
            )
            .where(ClassSession.id.in_(ids))
            .group_by(ClassSession.id, att.answer, att.present)
        )
        async with self.db.read() as s:
            rows = (await s.execute(query)).all()
        tally: dict[int, dict[str, int]] = {sid: {} for sid in ids}
        for sid, answer, present, n in rows:
            t = tally[int(sid)]
            key = answer if answer in ANSWERS else "unknown"
            t[key] = t.get(key, 0) + int(n)
            if present is not None:
                mark = "present" if present else "absent"
                t[mark] = t.get(mark, 0) + int(n)
        return {sid: AttendanceCounts(**t) for sid, t in tally.items()}
