from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
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


# Writes to these tables (from any repository of this process) invalidate the snapshot.
CATALOGUE_TABLES = ("regions", "districts", "centres", "courses", "groups")


@dataclass(frozen=True, slots=True)
class _Snapshot:
    generation: int
    loaded_at: float
    regions: list[RegionDTO]
    districts: list[DistrictDTO]
    centres: list[CentreDTO]
    courses: list[CourseDTO]
    groups: list[GroupDTO]


class CatalogueRepo:
    """Read access to regions, districts, centres, courses, groups and sessions.

    With ``snapshot_ttl`` (long polling: one process serves the updates) regions,
    districts, centres, courses (with their seats) and groups are read from an in-memory
    snapshot, five queries for the whole catalogue, instead of several queries per step.
    Any write to those tables in this process (an import, a staff edit, a seat taken)
    rebuilds it on the next read (``Database.changes``); ``snapshot_ttl`` seconds bound
    what a change from another process can leave stale. What is shown is only shown:
    seats and open enrolment are checked again in the transaction that takes them.
    """

    def __init__(self, db: Database, *, snapshot_ttl: float | None = None) -> None:
        self.db = db
        self.snapshot_ttl = snapshot_ttl
        self._snapshot: _Snapshot | None = None
        self._loading = asyncio.Lock()
        self._sessions_cache: dict[Hashable, tuple[float, list[SessionDTO]]] = {}
        self._sessions_generation = -1

    async def _snap(self) -> _Snapshot | None:
        if self.snapshot_ttl is None:
            return None
        generation = self.db.changes.generation(CATALOGUE_TABLES)
        snap = self._snapshot
        if (
            snap is not None
            and snap.generation == generation
            and time.monotonic() - snap.loaded_at < self.snapshot_ttl
        ):
            return snap
        async with self._loading:
            snap = self._snapshot
            generation = self.db.changes.generation(CATALOGUE_TABLES)
            if (
                snap is not None
                and snap.generation == generation
                and time.monotonic() - snap.loaded_at < self.snapshot_ttl
            ):
                return snap
            loaded_at = time.monotonic()
            async with self.db.read_core() as conn:
                regions = [
                    region_dto(r)
                    for r in await conn.execute(
                        select(_REGIONS).order_by(_REGIONS.c.sort, _REGIONS.c.id)
                    )
                ]
                districts = [
                    district_dto(d)
                    for d in await conn.execute(
                        select(_DISTRICTS).order_by(_DISTRICTS.c.sort, _DISTRICTS.c.id)
                    )
                ]
                centres = [
                    centre_dto(c)
                    for c in await conn.execute(
                        select(_CENTRES).order_by(_CENTRES.c.sort, _CENTRES.c.id)
                    )
                ]
                courses = [
                    course_dto(r, int(r.capacity or 0), int(r.taken or 0))
                    for r in await conn.execute(
                        _COURSE_WITH_SEATS.order_by(
                            _COURSES.c.centre_id, _COURSES.c.sort, _COURSES.c.id
                        )
                    )
                ]
                groups = [
                    group_dto(g) for g in await conn.execute(select(_GROUPS).order_by(_GROUPS.c.id))
                ]
            snap = _Snapshot(generation, loaded_at, regions, districts, centres, courses, groups)
            self._snapshot = snap
            return snap

    async def regions(self) -> list[RegionDTO]:
        if (snap := await self._snap()) is not None:
            return list(snap.regions)
        async with self.db.read_core() as conn:
            rows = await conn.execute(select(_REGIONS).order_by(_REGIONS.c.sort, _REGIONS.c.id))
            return [region_dto(r) for r in rows]

    async def region(self, region_id: int) -> RegionDTO | None:
        if (snap := await self._snap()) is not None:
            return next((r for r in snap.regions if r.id == region_id), None)
        async with self.db.read_core() as conn:
            row = (await conn.execute(select(_REGIONS).where(_REGIONS.c.id == region_id))).first()
            return region_dto(row) if row else None

    async def districts(self, region_id: int) -> list[DistrictDTO]:
        if (snap := await self._snap()) is not None:
            return [d for d in snap.districts if d.region_id == region_id]
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
        if (snap := await self._snap()) is not None:
            return next((d for d in snap.districts if d.id == district_id), None)
        async with self.db.read_core() as conn:
            row = (
                await conn.execute(select(_DISTRICTS).where(_DISTRICTS.c.id == district_id))
            ).first()
            return district_dto(row) if row else None

    async def centres(self) -> list[CentreDTO]:
        if (snap := await self._snap()) is not None:
            return list(snap.centres)
        async with self.db.read_core() as conn:
            rows = await conn.execute(select(_CENTRES).order_by(_CENTRES.c.sort, _CENTRES.c.id))
            return [centre_dto(c) for c in rows]

    async def centre_by_code(self, code: str) -> CentreDTO | None:
        async with self.db.read_core() as conn:
            row = (await conn.execute(select(_CENTRES).where(_CENTRES.c.code == code))).first()
            return centre_dto(row) if row else None

    async def centre(self, centre_id: int) -> CentreDTO | None:
        if (snap := await self._snap()) is not None:
            return next((c for c in snap.centres if c.id == centre_id), None)
        async with self.db.read_core() as conn:
            row = (await conn.execute(select(_CENTRES).where(_CENTRES.c.id == centre_id))).first()
            return centre_dto(row) if row else None

    async def courses(self, centre_id: int | None = None) -> list[CourseDTO]:
        if (snap := await self._snap()) is not None:
            return [c for c in snap.courses if centre_id is None or c.centre_id == centre_id]
        query = _COURSE_WITH_SEATS.order_by(_COURSES.c.centre_id, _COURSES.c.sort, _COURSES.c.id)
        if centre_id is not None:
            query = query.where(_COURSES.c.centre_id == centre_id)
        async with self.db.read_core() as conn:
            rows = await conn.execute(query)
            return [course_dto(r, int(r.capacity or 0), int(r.taken or 0)) for r in rows]

    async def course(self, course_id: int) -> CourseDTO | None:
        if (snap := await self._snap()) is not None:
            return next((c for c in snap.courses if c.id == course_id), None)
        async with self.db.read_core() as conn:
            row = (await conn.execute(_COURSE_WITH_SEATS.where(_COURSES.c.id == course_id))).first()
            if row is None:
                return None
            return course_dto(row, int(row.capacity or 0), int(row.taken or 0))

    async def course_by_code(self, code: str) -> CourseDTO | None:
        if (snap := await self._snap()) is not None:
            return next((c for c in snap.courses if c.code == code), None)
        async with self.db.read() as s:
            course_id = await s.scalar(select(Course.id).where(Course.code == code))
        return await self.course(course_id) if course_id is not None else None

    async def groups(self, course_id: int) -> list[GroupDTO]:
        if (snap := await self._snap()) is not None:
            return [g for g in snap.groups if g.course_id == course_id]
        async with self.db.read_core() as conn:
            rows = await conn.execute(
                select(_GROUPS).where(_GROUPS.c.course_id == course_id).order_by(_GROUPS.c.id)
            )
            return [group_dto(g) for g in rows]

    async def group(self, group_id: int) -> GroupDTO | None:
        if (snap := await self._snap()) is not None:
            return next((g for g in snap.groups if g.id == group_id), None)
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
        # The course card's timetable (no time bounds) is kept with the snapshot until a
        # class session is written; bounded lookups (reminders, lists) always query.
        cache_key = None
        if self.snapshot_ttl is not None and since is None and until is None:
            cache_key = (tuple(group_ids), include_cancelled, limit)
            generation = self.db.changes.generation(("class_sessions",))
            if generation != self._sessions_generation:
                self._sessions_cache.clear()
                self._sessions_generation = generation
            found = self._sessions_cache.get(cache_key)
            if found is not None and time.monotonic() - found[0] < self.snapshot_ttl:
                return list(found[1])
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
        loaded_at = time.monotonic()
        async with self.db.read_core() as conn:
            found_now = [session_dto(x) for x in await conn.execute(query)]
        if cache_key is not None and generation == self.db.changes.generation(("class_sessions",)):
            if len(self._sessions_cache) > 1000:
                self._sessions_cache.clear()
            self._sessions_cache[cache_key] = (loaded_at, found_now)
        return list(found_now)

    async def session(self, session_id: int) -> SessionDTO | None:
        async with self.db.read() as s:
            row = await s.get(ClassSession, session_id)
            return session_dto(row) if row else None
