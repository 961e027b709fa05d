from __future__ import annotations

from typing import Any

from sqlalchemy import select
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
