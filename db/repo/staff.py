from __future__ import annotations

from sqlalchemy import delete, select

from db.database import Database
from db.dto import StaffDTO
from db.models import Staff, User
from db.repo.audit import add_audit

ROLES = ("admin", "staff")


class StaffRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def role_of(self, user_id: int) -> str | None:
        table = Staff.__table__
        async with self.db.read_core() as conn:
            return await conn.scalar(select(table.c.role).where(table.c.user_id == user_id))

    async def list(self) -> list[StaffDTO]:
        async with self.db.read() as s:
            rows = await s.execute(
                select(Staff, User.first_name, User.username)
                .join(User, User.id == Staff.user_id)
                .order_by(Staff.role, Staff.added_at)
            )
            return [
                StaffDTO(st.user_id, st.role, st.added_by, st.added_at, first, uname)
                for st, first, uname in rows
            ]

    async def ensure_admins(self, user_ids: frozenset[int]) -> None:
        """Bootstrap admins from ADMIN_IDS (only those who exist as users get a row)."""
        if not user_ids:
            return
        async with self.db.transaction() as s:
            existing = set(await s.scalars(select(User.id).where(User.id.in_(user_ids))))
            for uid in existing:
                row = await s.get(Staff, uid)
                if row is None:
                    s.add(Staff(user_id=uid, role="admin", added_by=None, bootstrap=True))
                elif row.role != "admin":
                    row.role = "admin"
                    row.bootstrap = True

    async def demote_unlisted_admins(self, user_ids: frozenset[int]) -> tuple[int, ...]:
        """ADMIN_IDS is the bootstrap list: an admin row that came from it and whose id is
        no longer listed loses the role (the row is removed). Admins granted by another
        admin are kept. Returns the demoted ids."""
        query = select(Staff.user_id).where(Staff.bootstrap.is_(True))
        if user_ids:
            query = query.where(Staff.user_id.not_in(user_ids))
        # Read first: a start-up with nothing to demote writes nothing (on SQLite another
        # process may hold the write lock for a while).
        async with self.db.read() as s:
            if not list(await s.scalars(query)):
                return ()
        async with self.db.transaction() as s:
            demoted = tuple(sorted(await s.scalars(query)))
            if demoted:
                await s.execute(delete(Staff).where(Staff.user_id.in_(demoted)))
                for uid in demoted:
                    add_audit(s, 0, "staff.admin_ids_removed", "user", uid, {"role": "admin"}, None)
            return demoted

    async def set_role(self, actor_id: int, user_id: int, role: str) -> str | None:
        """Give a user a staff role; returns their previous role."""
        if role not in ROLES:
            raise ValueError(role)
        async with self.db.transaction() as s:
            row = await s.get(Staff, user_id)
            before = row.role if row else None
            if row is None:
                s.add(Staff(user_id=user_id, role=role, added_by=actor_id))
            else:
                row.role = role
                # A grant by an admin outlives the bootstrap list.
                row.bootstrap = False
                row.added_by = actor_id
            add_audit(
                s, actor_id, "staff.set_role", "user", user_id, {"role": before}, {"role": role}
            )
            return before

    async def remove(self, actor_id: int, user_id: int) -> str | None:
        async with self.db.transaction() as s:
            before = await s.scalar(select(Staff.role).where(Staff.user_id == user_id))
            if before is not None:
                await s.execute(delete(Staff).where(Staff.user_id == user_id))
                add_audit(s, actor_id, "staff.remove", "user", user_id, {"role": before}, None)
            return before
