"""Staff changes to courses and groups: enrolment, new groups, free seats to the waitlist.

Every change writes its ``audit_log`` row in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select

from db.database import Database
from db.dto import (
    ApplicationDTO,
    CountDTO,
    CourseOverviewDTO,
    GroupContextDTO,
    GroupDTO,
)
from db.models import Application, Centre, Course, Group, utcnow
from db.repo.applications import EnrolmentError, _promote_into, in_centres
from db.repo.audit import add_audit
from db.repo.catalogue import _seats_subquery, centre_dto, course_dto, group_dto

MAX_CAPACITY = 1000
GROUP_NAME_MAX = 64


class CourseAdminRepo:
    def __init__(self, db: Database, now: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.now = now  # the bot's clock: applications promoted here are stamped with it

    async def overview(self, centre_ids: Collection[int] | None = None) -> list[CourseOverviewDTO]:
        """Every course (of these centres; None: all) with its centre's name and its
        pending and waitlisted counts."""
        seats = _seats_subquery()
        courses = (
            select(Course, Centre.name, seats.c.capacity, seats.c.taken)
            .join(Centre, Centre.id == Course.centre_id)
            .outerjoin(seats, seats.c.course_id == Course.id)
            .order_by(Centre.sort, Centre.id, Course.sort, Course.id)
        )
        queue_query = (
            select(Application.course_id, Application.status, func.count())
            .where(Application.status.in_(("pending", "waitlisted")))
            .group_by(Application.course_id, Application.status)
        )
        if centre_ids is not None:
            courses = courses.where(Course.centre_id.in_(sorted(centre_ids)))
            queue_query = queue_query.where(in_centres(centre_ids))
        async with self.db.transaction() as s:
            rows = (await s.execute(courses)).all()
            queue = await s.execute(queue_query)
            counts: dict[tuple[int, str], int] = {
                (course_id, status): int(n) for course_id, status, n in queue
            }
        return [
            CourseOverviewDTO(
                course=course_dto(c, int(cap or 0), int(taken or 0)),
                centre_name=dict(centre_name),
                pending=counts.get((c.id, "pending"), 0),
                waitlisted=counts.get((c.id, "waitlisted"), 0),
            )
            for c, centre_name, cap, taken in rows
        ]

    async def queue(self, course_id: int) -> tuple[int, int]:
        """(pending, waitlisted) applications of a course."""
        async with self.db.transaction() as s:
            rows = await s.execute(
                select(Application.status, func.count())
                .where(
                    Application.course_id == course_id,
                    Application.status.in_(("pending", "waitlisted")),
                )
                .group_by(Application.status)
            )
            counts = {status: int(n) for status, n in rows}
        return counts.get("pending", 0), counts.get("waitlisted", 0)

    async def group_context(self, group_id: int) -> GroupContextDTO | None:
        seats = _seats_subquery()
        async with self.db.transaction() as s:
            row = (
                await s.execute(
                    select(Group, Course, Centre, seats.c.capacity, seats.c.taken)
                    .join(Course, Course.id == Group.course_id)
                    .join(Centre, Centre.id == Course.centre_id)
                    .outerjoin(seats, seats.c.course_id == Course.id)
                    .where(Group.id == group_id)
                )
            ).first()
            if row is None:
                return None
            group, course, centre, cap, taken = row
            return GroupContextDTO(
                group=group_dto(group),
                course=course_dto(course, int(cap or 0), int(taken or 0)),
                centre=centre_dto(centre),
            )

    async def set_enrolment(self, course_id: int, is_open: bool, *, actor_id: int) -> bool:
        """Open or close enrolment; returns the previous value (no change, no audit)."""
        async with self.db.transaction() as s:
            course = await s.scalar(select(Course).where(Course.id == course_id).with_for_update())
            if course is None:
                raise EnrolmentError("not_found")
            before = course.enrolment_open
            if before != is_open:
                course.enrolment_open = is_open
                add_audit(
                    s,
                    actor_id,
                    "course.enrolment",
                    "course",
                    course_id,
                    {"enrolment_open": before},
                    {"enrolment_open": is_open},
                )
            return before

    async def add_group(
        self, course_id: int, name: str, capacity: int, *, actor_id: int
    ) -> tuple[GroupDTO, list[ApplicationDTO]]:
        """A new group of a course (one name for every language); its seats go to the
        course's waitlist first."""
        name = name.strip()[:GROUP_NAME_MAX]
        if not name or not 1 <= capacity <= MAX_CAPACITY:
            raise ValueError("invalid group")
        async with self.db.transaction() as s:
            course = await s.get(Course, course_id)
            if course is None:
                raise EnrolmentError("not_found")
            taken = set(
                await s.scalars(select(Group.code).where(Group.code.like(f"{course.code[:52]}-%")))
            )
            number = await s.scalar(
                select(func.count()).select_from(Group).where(Group.course_id == course_id)
            )
            n = int(number or 0) + 1
            while f"{course.code[:52]}-g{n}" in taken:
                n += 1
            group = Group(
                code=f"{course.code[:52]}-g{n}",
                course_id=course_id,
                name={"kk": name, "ky": name, "ru": name, "en": name},
                capacity=capacity,
                seats_taken=0,
            )
            s.add(group)
            await s.flush()
            add_audit(
                s,
                actor_id,
                "group.add",
                "group",
                group.id,
                None,
                {"course_id": course_id, "capacity": capacity},
            )
            promoted = await _promote_into(s, course_id, group.id, actor_id, self.now())
            return group_dto(group), promoted

    async def fill_free_seats(
        self, group_ids: Sequence[int], *, actor_id: int
    ) -> list[ApplicationDTO]:
        """Give free seats of these groups to the first waitlisted applicants (after a
        timetable import changed capacities, say)."""
        promoted: list[ApplicationDTO] = []
        for group_id in group_ids:
            async with self.db.transaction() as s:
                group = await s.get(Group, group_id)
                if group is None:
                    continue
                promoted += await _promote_into(s, group.course_id, group_id, actor_id, self.now())
        return promoted

    async def districts_in_applications(
        self,
        *,
        course_id: int | None = None,
        group_id: int | None = None,
        centre_ids: Collection[int] | None = None,
    ) -> list[CountDTO]:
        """Districts that applications name, most applications first (for filters)."""
        query = (
            select(Application.district_id, func.count())
            .where(Application.district_id.is_not(None))
            .group_by(Application.district_id)
            .order_by(func.count().desc(), Application.district_id)
        )
        if course_id is not None:
            query = query.where(Application.course_id == course_id)
        if group_id is not None:
            query = query.where(Application.group_id == group_id)
        if centre_ids is not None:
            query = query.where(in_centres(centre_ids))
        async with self.db.transaction() as s:
            return [CountDTO(d, int(n)) for d, n in await s.execute(query) if d is not None]
