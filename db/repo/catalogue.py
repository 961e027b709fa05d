from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Subquery, Table, func, select

from db.database import Database
from db.dto import (
    CentreContacts,
    CentreDTO,
    CourseDTO,
    DistrictDTO,
    GroupDTO,
    RegionDTO,
    SessionDTO,
)
from db.models import Centre, ClassSession, Course, District, Group, Region

# The reads below run on every step of the catalogue and the sign-up form, so they are
# Core queries on table columns (no ORM session, identity map or instance loading); the
# DTO builders take an ORM instance or a Core row alike (same attribute names).
_REGIONS: Table = Region.__table__  # type: ignore[assignment]
_DISTRICTS: Table = District.__table__  # type: ignore[assignment]
_CENTRES: Table = Centre.__table__  # type: ignore[assignment]
_COURSES: Table = Course.__table__  # type: ignore[assignment]
_GROUPS: Table = Group.__table__  # type: ignore[assignment]
_SESSIONS: Table = ClassSession.__table__  # type: ignore[assignment]


def region_dto(r: Region | Row[Any]) -> RegionDTO:
    return RegionDTO(r.id, r.code, r.country, r.kind, dict(r.name))


def district_dto(d: District | Row[Any]) -> DistrictDTO:
    return DistrictDTO(d.id, d.code, d.region_id, dict(d.name))


def centre_dto(c: Centre | Row[Any]) -> CentreDTO:
    return CentreDTO(
        c.id,
        c.code,
        c.region_id,
        dict(c.name),
        dict(c.city),
        dict(c.address),
        c.latitude,
        c.longitude,
        c.timezone,
        CentreContacts.from_json(c.contacts),
    )


def group_dto(g: Group | Row[Any]) -> GroupDTO:
    return GroupDTO(g.id, g.code, g.course_id, dict(g.name), g.capacity, g.seats_taken)


def session_dto(s: ClassSession | Row[Any]) -> SessionDTO:
    return SessionDTO(s.id, s.code, s.group_id, s.starts_at, s.ends_at, s.room, s.cancelled)


def course_dto(c: Course | Row[Any], capacity: int, taken: int) -> CourseDTO:
    return CourseDTO(
        id=c.id,
        code=c.code,
        centre_id=c.centre_id,
        title=dict(c.title),
        description=dict(c.description),
        languages=tuple(x for x in c.languages.split(",") if x),
        duration_weeks=c.duration_weeks,
        modules=c.modules,
        certificate=dict(c.certificate),
        start_date=c.start_date,
        enrolment_open=c.enrolment_open,
        free_of_charge=c.free_of_charge,
        capacity=capacity,
        seats_taken=taken,
    )


def _seats_subquery() -> Subquery:
    return (
        select(
            Group.course_id.label("course_id"),
            func.coalesce(func.sum(Group.capacity), 0).label("capacity"),
            func.coalesce(func.sum(Group.seats_taken), 0).label("taken"),
        )
        .group_by(Group.course_id)
        .subquery()
    )


def _core_seats_subquery() -> Subquery:
    return (
        select(
            _GROUPS.c.course_id.label("course_id"),
            func.coalesce(func.sum(_GROUPS.c.capacity), 0).label("capacity"),
            func.coalesce(func.sum(_GROUPS.c.seats_taken), 0).label("taken"),
        )
        .group_by(_GROUPS.c.course_id)
        .subquery()
    )


_SEATS = _core_seats_subquery()  # built once: statements are immutable
_COURSE_WITH_SEATS = select(_COURSES, _SEATS.c.capacity, _SEATS.c.taken).outerjoin(
    _SEATS, _SEATS.c.course_id == _COURSES.c.id
)


class CatalogueRepo:
    """Read access to regions, districts, centres, courses, groups and sessions."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def regions(self) -> list[RegionDTO]:
        async with self.db.read_core() as conn:
            rows = await conn.execute(select(_REGIONS).order_by(_REGIONS.c.sort, _REGIONS.c.id))
            return [region_dto(r) for r in rows]

    async def region(self, region_id: int) -> RegionDTO | None:
        async with self.db.read_core() as conn:
            row = (await conn.execute(select(_REGIONS).where(_REGIONS.c.id == region_id))).first()
            return region_dto(row) if row else None

    async def districts(self, region_id: int) -> list[DistrictDTO]:
        async with self.db.read_core() as conn:
            rows = await conn.execute(
                select(_DISTRICTS)
                .where(_DISTRICTS.c.region_id == region_id)
                .order_by(_DISTRICTS.c.sort, _DISTRICTS.c.id)
            )
            return [district_dto(d) for d in rows]

    async def all_districts(self) -> list[DistrictDTO]:
        async with self.db.read() as s:
            rows = await s.scalars(select(District).order_by(District.region_id, District.sort))
            return [district_dto(d) for d in rows]

    async def district(self, district_id: int) -> DistrictDTO | None:
        async with self.db.read_core() as conn:
            row = (
                await conn.execute(select(_DISTRICTS).where(_DISTRICTS.c.id == district_id))
            ).first()
            return district_dto(row) if row else None

    async def centres(self) -> list[CentreDTO]:
        async with self.db.read_core() as conn:
            rows = await conn.execute(select(_CENTRES).order_by(_CENTRES.c.sort, _CENTRES.c.id))
            return [centre_dto(c) for c in rows]

    async def centre_by_code(self, code: str) -> CentreDTO | None:
        async with self.db.read_core() as conn:
            row = (await conn.execute(select(_CENTRES).where(_CENTRES.c.code == code))).first()
            return centre_dto(row) if row else None

    async def centre(self, centre_id: int) -> CentreDTO | None:
        async with self.db.read_core() as conn:
            row = (await conn.execute(select(_CENTRES).where(_CENTRES.c.id == centre_id))).first()
            return centre_dto(row) if row else None

    async def courses(self, centre_id: int | None = None) -> list[CourseDTO]:
        query = _COURSE_WITH_SEATS.order_by(_COURSES.c.centre_id, _COURSES.c.sort, _COURSES.c.id)
        if centre_id is not None:
            query = query.where(_COURSES.c.centre_id == centre_id)
        async with self.db.read_core() as conn:
            rows = await conn.execute(query)
            return [course_dto(r, int(r.capacity or 0), int(r.taken or 0)) for r in rows]

    async def course(self, course_id: int) -> CourseDTO | None:
        async with self.db.read_core() as conn:
            row = (await conn.execute(_COURSE_WITH_SEATS.where(_COURSES.c.id == course_id))).first()
            if row is None:
                return None
            return course_dto(row, int(row.capacity or 0), int(row.taken or 0))

    async def course_by_code(self, code: str) -> CourseDTO | None:
        async with self.db.read() as s:
            course_id = await s.scalar(select(Course.id).where(Course.code == code))
        return await self.course(course_id) if course_id is not None else None

    async def groups(self, course_id: int) -> list[GroupDTO]:
        async with self.db.read_core() as conn:
            rows = await conn.execute(
                select(_GROUPS).where(_GROUPS.c.course_id == course_id).order_by(_GROUPS.c.id)
            )
            return [group_dto(g) for g in rows]

    async def group(self, group_id: int) -> GroupDTO | None:
        async with self.db.read_core() as conn:
            row = (await conn.execute(select(_GROUPS).where(_GROUPS.c.id == group_id))).first()
            return group_dto(row) if row else None

    async def sessions(
        self,
        group_ids: Sequence[int],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        include_cancelled: bool = False,
        limit: int | None = None,
    ) -> list[SessionDTO]:
        t = _SESSIONS.c
        query = select(_SESSIONS).where(t.group_id.in_(group_ids))
        if since is not None:
            query = query.where(t.starts_at >= since)
        if until is not None:
            query = query.where(t.starts_at < until)
        if not include_cancelled:
            query = query.where(t.cancelled.is_(False))
        query = query.order_by(t.starts_at, t.id)
        if limit is not None:
            query = query.limit(limit)
        async with self.db.read_core() as conn:
            return [session_dto(x) for x in await conn.execute(query)]

    async def session(self, session_id: int) -> SessionDTO | None:
        async with self.db.read() as s:
            row = await s.get(ClassSession, session_id)
            return session_dto(row) if row else None
