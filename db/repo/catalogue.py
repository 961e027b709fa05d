from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Subquery, func, select

from db.database import Database
from db.dto import CentreDTO, CourseDTO, DistrictDTO, GroupDTO, RegionDTO, SessionDTO
from db.models import Centre, ClassSession, Course, District, Group, Region


def region_dto(r: Region) -> RegionDTO:
    return RegionDTO(r.id, r.code, r.country, r.kind, dict(r.name))


def district_dto(d: District) -> DistrictDTO:
    return DistrictDTO(d.id, d.code, d.region_id, dict(d.name))


def centre_dto(c: Centre) -> CentreDTO:
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
    )


def group_dto(g: Group) -> GroupDTO:
    return GroupDTO(g.id, g.code, g.course_id, dict(g.name), g.capacity, g.seats_taken)


def session_dto(s: ClassSession) -> SessionDTO:
    return SessionDTO(s.id, s.code, s.group_id, s.starts_at, s.ends_at, s.room, s.cancelled)


def course_dto(c: Course, capacity: int, taken: int) -> CourseDTO:
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


class CatalogueRepo:
    """Read access to regions, districts, centres, courses, groups and sessions."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def regions(self) -> list[RegionDTO]:
        async with self.db.read() as s:
            rows = await s.scalars(select(Region).order_by(Region.sort, Region.id))
            return [region_dto(r) for r in rows]

    async def region(self, region_id: int) -> RegionDTO | None:
        async with self.db.read() as s:
            row = await s.get(Region, region_id)
            return region_dto(row) if row else None

    async def districts(self, region_id: int) -> list[DistrictDTO]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(District)
                .where(District.region_id == region_id)
                .order_by(District.sort, District.id)
            )
            return [district_dto(d) for d in rows]

    async def all_districts(self) -> list[DistrictDTO]:
        async with self.db.read() as s:
            rows = await s.scalars(select(District).order_by(District.region_id, District.sort))
            return [district_dto(d) for d in rows]

    async def district(self, district_id: int) -> DistrictDTO | None:
        async with self.db.read() as s:
            row = await s.get(District, district_id)
            return district_dto(row) if row else None

    async def centres(self) -> list[CentreDTO]:
        async with self.db.read() as s:
            rows = await s.scalars(select(Centre).order_by(Centre.sort, Centre.id))
            return [centre_dto(c) for c in rows]

    async def centre(self, centre_id: int) -> CentreDTO | None:
        async with self.db.read() as s:
            row = await s.get(Centre, centre_id)
            return centre_dto(row) if row else None

    async def courses(self, centre_id: int | None = None) -> list[CourseDTO]:
        seats = _seats_subquery()
        query = (
            select(Course, seats.c.capacity, seats.c.taken)
            .outerjoin(seats, seats.c.course_id == Course.id)
            .order_by(Course.centre_id, Course.sort, Course.id)
        )
        if centre_id is not None:
            query = query.where(Course.centre_id == centre_id)
        async with self.db.read() as s:
            rows = await s.execute(query)
            return [course_dto(c, int(cap or 0), int(taken or 0)) for c, cap, taken in rows]

    async def course(self, course_id: int) -> CourseDTO | None:
        seats = _seats_subquery()
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(Course, seats.c.capacity, seats.c.taken)
                    .outerjoin(seats, seats.c.course_id == Course.id)
                    .where(Course.id == course_id)
                )
            ).first()
            if row is None:
                return None
            c, cap, taken = row
            return course_dto(c, int(cap or 0), int(taken or 0))

    async def course_by_code(self, code: str) -> CourseDTO | None:
        async with self.db.read() as s:
            course_id = await s.scalar(select(Course.id).where(Course.code == code))
        return await self.course(course_id) if course_id is not None else None

    async def groups(self, course_id: int) -> list[GroupDTO]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(Group).where(Group.course_id == course_id).order_by(Group.id)
            )
            return [group_dto(g) for g in rows]

    async def group(self, group_id: int) -> GroupDTO | None:
        async with self.db.read() as s:
            row = await s.get(Group, group_id)
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
        query = select(ClassSession).where(ClassSession.group_id.in_(group_ids))
        if since is not None:
            query = query.where(ClassSession.starts_at >= since)
        if until is not None:
            query = query.where(ClassSession.starts_at < until)
        if not include_cancelled:
            query = query.where(ClassSession.cancelled.is_(False))
        query = query.order_by(ClassSession.starts_at, ClassSession.id)
        if limit is not None:
            query = query.limit(limit)
        async with self.db.read() as s:
            return [session_dto(x) for x in await s.scalars(query)]

    async def session(self, session_id: int) -> SessionDTO | None:
        async with self.db.read() as s:
            row = await s.get(ClassSession, session_id)
            return session_dto(row) if row else None
