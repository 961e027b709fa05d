from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import bindparam, delete, select

from db.database import Database
from db.dto import GrantDTO, StaffDTO
from db.models import CENTRE_ROLES, Staff, StaffCentre, User
from db.repo.audit import add_audit
from db.repo.users import STAFF_TABLES, UserCache

ROLES = ("admin", "staff")


_STAFF_TABLE = Staff.__table__
_ROLE_OF = select(_STAFF_TABLE.c.role).where(_STAFF_TABLE.c.user_id == bindparam("user_id"))


class StaffRepo:
    def __init__(self, db: Database, cache: UserCache | None = None) -> None:
        self.db = db
        # Roles kept with the user records (long polling only): any write to the staff
        # tables, from any repository, empties it.
        self.cache = cache

    async def role_of(self, user_id: int) -> str | None:
        if self.cache is not None:
            known, role = self.cache.role(user_id)
            if known:
                return role
        generation = self.db.changes.generation(STAFF_TABLES)
        async with self.db.read_core() as conn:
            role = await conn.scalar(_ROLE_OF, {"user_id": user_id})
        if self.cache is not None:
            self.cache.put_role(user_id, role, generation)
        return role

    async def list(self, centre_ids: Collection[int] | None = None) -> list[StaffDTO]:
        """The team with each member's centres; with ``centre_ids``, only the staff granted
        one of those centres (and only those grants are listed)."""
        async with self.db.read() as s:
            query = (
                select(Staff, User.first_name, User.username)
                .join(User, User.id == Staff.user_id)
                .order_by(Staff.role, Staff.added_at, Staff.user_id)
            )
            grant_query = select(StaffCentre).order_by(StaffCentre.centre_id)
            if centre_ids is not None:
                wanted = list(centre_ids)
                query = query.where(
                    Staff.role == "staff",
                    Staff.user_id.in_(
                        select(StaffCentre.user_id).where(StaffCentre.centre_id.in_(wanted))
                    ),
                )
                grant_query = grant_query.where(StaffCentre.centre_id.in_(wanted))
            grants: dict[int, tuple[GrantDTO, ...]] = {}
            for g in await s.scalars(grant_query):
                grants[g.user_id] = (
                    *grants.get(g.user_id, ()),
                    GrantDTO(g.user_id, g.centre_id, g.role),
                )
            rows = await s.execute(query)
            return [
                StaffDTO(
                    st.user_id,
                    st.role,
                    st.added_by,
                    st.added_at,
                    first,
                    uname,
                    grants.get(st.user_id, ()),
                )
                for st, first, uname in rows
            ]

    async def grants_of(self, user_id: int) -> tuple[GrantDTO, ...]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(StaffCentre)
                .where(StaffCentre.user_id == user_id)
                .order_by(StaffCentre.centre_id)
            )
            return tuple(GrantDTO(g.user_id, g.centre_id, g.role) for g in rows)

    async def grant(self, actor_id: int, user_id: int, centre_id: int, role: str) -> str | None:
        """Grant a centre (as ``manager`` or ``staff``), making the person staff if they were
        not; returns the centre role they had there before (None: none)."""
        if role not in CENTRE_ROLES:
            raise ValueError(role)
        async with self.db.transaction() as s:
            member = await s.get(Staff, user_id)
            if member is None:
                s.add(Staff(user_id=user_id, role="staff", added_by=actor_id))
                await s.flush()
            row = await s.get(StaffCentre, (user_id, centre_id))
            before = row.role if row else None
            if row is None:
                s.add(
                    StaffCentre(user_id=user_id, centre_id=centre_id, role=role, added_by=actor_id)
                )
            else:
                row.role = role
            if before != role:
                add_audit(
                    s,
                    actor_id,
                    "staff.grant",
                    "user",
                    user_id,
                    {"centre_id": centre_id, "role": before} if before else None,
                    {"centre_id": centre_id, "role": role},
                    centre_id=centre_id,
                )
            return before

    async def revoke(self, actor_id: int, user_id: int, centre_id: int) -> tuple[str | None, bool]:
        """Take a centre away. Returns (the centre role they had, whether they left the
        team): centre staff with no centre left are no longer staff at all."""
        async with self.db.transaction() as s:
            row = await s.get(StaffCentre, (user_id, centre_id))
            if row is None:
                return None, False
            before = row.role
            await s.delete(row)
            await s.flush()
            add_audit(
                s,
                actor_id,
                "staff.revoke",
                "user",
                user_id,
                {"centre_id": centre_id, "role": before},
                None,
                centre_id=centre_id,
            )
            member = await s.get(Staff, user_id)
            left = False
            if member is not None and member.role == "staff":
                rest = await s.scalar(
                    select(StaffCentre.centre_id).where(StaffCentre.user_id == user_id).limit(1)
                )
                if rest is None:
                    await s.delete(member)
                    left = True
                    add_audit(s, actor_id, "staff.remove", "user", user_id, {"role": "staff"})
            return before, left

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
                await s.execute(delete(StaffCentre).where(StaffCentre.user_id == user_id))
                await s.execute(delete(Staff).where(Staff.user_id == user_id))
                add_audit(s, actor_id, "staff.remove", "user", user_id, {"role": before}, None)
            return before
