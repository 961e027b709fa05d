"""Counts for the staff statistics; no personal data leaves this module."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, distinct, func, select

from db.database import Database
from db.dto import CountDTO, GroupSeatsDTO, StatsDTO
from db.models import Application, Course, FunnelEvent, Group, utcnow


class StatsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def collect(
        self,
        since: datetime | None,
        until: datetime | None = None,
        *,
        centre_ids: Collection[int] | None = None,
    ) -> StatsDTO:
        """Applications created in [since, until) and the funnel of that period; with
        ``centre_ids``, only those centres' courses (None: every centre)."""
        until = until or utcnow()
        period: list[ColumnElement[bool]] = [Application.created_at < until]
        funnel_period: list[ColumnElement[bool]] = [FunnelEvent.at < until]
        groups: list[ColumnElement[bool]] = []
        if since is not None:
            period.append(Application.created_at >= since)
            funnel_period.append(FunnelEvent.at >= since)
        if centre_ids is not None:
            courses = select(Course.id).where(Course.centre_id.in_(sorted(centre_ids)))
            period.append(Application.course_id.in_(courses))
            funnel_period.append(FunnelEvent.course_id.in_(courses))
            groups.append(Group.course_id.in_(courses))
        async with self.db.transaction() as s:
            rows = await s.execute(
                select(Application.course_id, Application.status, func.count())
                .where(*period)
                .group_by(Application.course_id, Application.status)
            )
            by_course: dict[int, dict[str, int]] = {}
            by_status: dict[str, int] = {}
            for course_id, status, n in rows:
                by_course.setdefault(int(course_id), {})[status] = int(n)
                by_status[status] = by_status.get(status, 0) + int(n)
            districts = await s.execute(
                select(Application.district_id, func.count())
                .where(*period)
                .group_by(Application.district_id)
                .order_by(func.count().desc(), Application.district_id)
            )
            sources = await s.execute(
                select(Application.source, func.count())
                .where(*period)
                .group_by(Application.source)
                .order_by(func.count().desc(), Application.source)
            )
            seats = await s.execute(
                select(Group.course_id, Group.id, Group.name, Group.capacity, Group.seats_taken)
                .where(*groups)
                .order_by(Group.course_id, Group.id)
            )
            funnel = dict(
                (
                    await s.execute(
                        select(FunnelEvent.kind, func.count(distinct(FunnelEvent.user_id)))
                        .where(*funnel_period, FunnelEvent.kind.in_(("started", "submitted")))
                        .group_by(FunnelEvent.kind)
                    )
                ).all()
            )
            accepted = await s.scalar(
                select(func.count(distinct(Application.user_id))).where(
                    *period, Application.status == "accepted"
                )
            )
            return StatsDTO(
                since=since,
                until=until,
                total=sum(by_status.values()),
                by_status=by_status,
                by_course=by_course,
                by_district=[
                    CountDTO(int(d) if d is not None else None, int(n)) for d, n in districts
                ],
                by_source=[CountDTO(src, int(n)) for src, n in sources],
                seats=[
                    GroupSeatsDTO(int(c), int(g), dict(name), int(cap), int(taken))
                    for c, g, name, cap, taken in seats
                ],
                started=int(funnel.get("started", 0)),
                submitted=int(funnel.get("submitted", 0)),
                accepted=int(accepted or 0),
            )
