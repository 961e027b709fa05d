from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Table, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.database import Database
from db.dto import AuditDTO
from db.models import Application, AuditLog, ClassSession, Course, Group


def _centre_of(target_type: str, target_id: object | None) -> ScalarSelect[int] | None:
    """The centre of an action's target, as a subquery the INSERT evaluates."""
    if not isinstance(target_id, int):
        return None
    if target_type == "application":
        query = select(Course.centre_id).join(Application, Application.course_id == Course.id)
        return query.where(Application.id == target_id).scalar_subquery()
    if target_type == "group":
        query = select(Course.centre_id).join(Group, Group.course_id == Course.id)
        return query.where(Group.id == target_id).scalar_subquery()
    if target_type == "course":
        return select(Course.centre_id).where(Course.id == target_id).scalar_subquery()
    if target_type == "session":
        query = (
            select(Course.centre_id)
            .join(Group, Group.course_id == Course.id)
            .join(ClassSession, ClassSession.group_id == Group.id)
        )
        return query.where(ClassSession.id == target_id).scalar_subquery()
    return None


def add_audit(
    session: AsyncSession,
    actor_id: int,
    action: str,
    target_type: str,
    target_id: object | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    *,
    centre_id: int | None = None,
) -> None:
    """Record a staff action inside the caller's transaction. The centre it concerns is
    ``centre_id``, else found from the target (application, group, course, class)."""
    row = AuditLog(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=before,
        after=after,
    )
    centre = centre_id if centre_id is not None else _centre_of(target_type, target_id)
    if centre is not None:
        row.centre_id = centre  # a subquery (ScalarSelect) is run by the INSERT
    session.add(row)


def visible_to(centre_ids: Collection[int] | None, viewer_id: int) -> list[ColumnElement[bool]]:
    """Rows a staff member may read: everything (None), else their centres' and their own."""
    if centre_ids is None:
        return []
    return [or_(AuditLog.centre_id.in_(list(centre_ids)), AuditLog.actor_id == viewer_id)]


class AuditRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        actor_id: int,
        action: str,
        target_type: str,
        target_id: object | None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        *,
        centre_id: int | None = None,
    ) -> None:
        async with self.db.transaction() as s:
            add_audit(
                s, actor_id, action, target_type, target_id, before, after, centre_id=centre_id
            )

    async def latest(
        self,
        limit: int = 20,
        offset: int = 0,
        *,
        centre_ids: Collection[int] | None = None,
        viewer_id: int = 0,
    ) -> list[AuditDTO]:
        """Newest first; with ``centre_ids``, only those centres' rows and the viewer's."""
        async with self.db.transaction() as s:
            rows = await s.scalars(
                select(AuditLog)
                .where(*visible_to(centre_ids, viewer_id))
                .order_by(AuditLog.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [
                AuditDTO(
                    r.id, r.actor_id, r.action, r.target_type, r.target_id, r.before, r.after, r.at
                )
                for r in rows
            ]


# Values kept when a person's audit entries are scrubbed: states and ids, never free text.
_KEPT_TEXT = frozenset({"status", "role"})


def _scrubbed(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {
        key: value
        for key, value in values.items()
        if key in _KEPT_TEXT or not isinstance(value, str | list | dict)
    }


async def scrub_person(session: AsyncSession, user_id: int, application_ids: list[int]) -> None:
    """Erasure: the audit entries about a person and their applications keep who did what
    and when, but lose every free text (a rejection reason typed by staff, a name)."""
    table: Table = AuditLog.__table__  # type: ignore[assignment]
    about = or_(
        and_(table.c.target_type == "user", table.c.target_id == str(user_id)),
        and_(
            table.c.target_type == "application",
            table.c.target_id.in_([str(i) for i in application_ids]),
        ),
    )
    rows = (
        await session.execute(select(table.c.id, table.c.before, table.c.after).where(about))
    ).all()
    for row in rows:
        await session.execute(
            update(table)
            .where(table.c.id == row.id)
            .values(before=_scrubbed(row.before), after=_scrubbed(row.after))
        )
