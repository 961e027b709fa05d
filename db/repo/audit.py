from __future__ import annotations

from typing import Any

from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.database import Database
from db.dto import AuditDTO
from db.models import AuditLog


def add_audit(
    session: AsyncSession,
    actor_id: int,
    action: str,
    target_type: str,
    target_id: object | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record a staff action inside the caller's transaction."""
    session.add(
        AuditLog(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            before=before,
            after=after,
        )
    )


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
    ) -> None:
        async with self.db.transaction() as s:
            add_audit(s, actor_id, action, target_type, target_id, before, after)

    async def latest(self, limit: int = 20, offset: int = 0) -> list[AuditDTO]:
        async with self.db.transaction() as s:
            rows = await s.scalars(
                select(AuditLog).order_by(AuditLog.id.desc()).limit(limit).offset(offset)
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
