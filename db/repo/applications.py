"""Applications and seats.

Seats are a counter on each group (`groups.seats_taken`) changed only together with an
application's status, in the same transaction, by a conditional UPDATE:

    UPDATE groups SET seats_taken = seats_taken + 1
     WHERE id = :group AND seats_taken < capacity

The row lock taken by that UPDATE (PostgreSQL) or the database write lock (SQLite, BEGIN
IMMEDIATE) serialises concurrent accepts, so a group is never overbooked. Status changes
are guarded the same way (`WHERE status = :expected`), so two staff acting on one
application apply the change once and the second is told what happened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.database import Database
from db.dto import ApplicationDTO
from db.models import LIVE_STATUSES, Application, Course, FunnelEvent, Group, User, utcnow
from db.repo.audit import add_audit
from db.repo.outcomes import answered, save_answers
from db.repo.users import APPLICATION_TABLES, UserCache

_APPLICATIONS: Table = Application.__table__  # type: ignore[assignment]
# A person's applications, newest first (on the catalogue and sign-up paths: built once).
_FOR_USER = (
    select(_APPLICATIONS)
    .where(_APPLICATIONS.c.user_id == bindparam("user_id"))
    .order_by(_APPLICATIONS.c.created_at.desc(), _APPLICATIONS.c.id.desc())
)


def application_dto(a: Application | Row[Any]) -> ApplicationDTO:
    return ApplicationDTO(
        id=a.id,
        user_id=a.user_id,
        course_id=a.course_id,
        group_id=a.group_id,
        full_name=a.full_name,
        phone=a.phone,
        district_id=a.district_id,
        status=a.status,
        reason=a.reason,
        decided_by=a.decided_by,
        decided_at=a.decided_at,
        consent_at=a.consent_at,
        source=a.source,
        created_at=a.created_at,
        updated_at=a.updated_at,
    )


class EnrolmentError(Exception):
    """A refused enrolment step; ``code`` selects the message shown to the user."""

    def __init__(self, code: str, application: ApplicationDTO | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.application = application


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of a status change: the application now, and who was promoted."""

    application: ApplicationDTO
    previous_status: str
    promoted: list[ApplicationDTO] = field(default_factory=list)
    waitlist_position: int | None = None


@dataclass(frozen=True, slots=True)
class ApplicationFilter:
    course_id: int | None = None
    group_id: int | None = None
    status: str | None = None
    district_id: int | None = None
    centre_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    # The staff member's centres (None: every centre, a programme admin).
    centre_ids: frozenset[int] | None = None
    # (question id, option code): the answer to a choice question includes the option.
    answer: tuple[int, str] | None = None


def _conditions(flt: ApplicationFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if flt.course_id is not None:
        conditions.append(Application.course_id == flt.course_id)
    if flt.group_id is not None:
        conditions.append(Application.group_id == flt.group_id)
    if flt.status is not None:
        conditions.append(Application.status == flt.status)
    if flt.district_id is not None:
        conditions.append(Application.district_id == flt.district_id)
    if flt.centre_id is not None:
        conditions.append(
            Application.course_id.in_(select(Course.id).where(Course.centre_id == flt.centre_id))
        )
    if flt.centre_ids is not None:
        conditions.append(in_centres(flt.centre_ids))
    if flt.since is not None:
        conditions.append(Application.created_at >= flt.since)
    if flt.until is not None:
        conditions.append(Application.created_at < flt.until)
    if flt.answer is not None:
        conditions.append(Application.id.in_(answered(*flt.answer)))
    return conditions


def in_centres(centre_ids: Collection[int]) -> ColumnElement[bool]:
    """Applications to the courses of these centres (ix_courses_centre, then
    ix_applications_course_status for the rows)."""
    return Application.course_id.in_(
        select(Course.id).where(Course.centre_id.in_(sorted(centre_ids)))
    )


def _snapshot(a: Application) -> dict[str, Any]:
    return {"status": a.status, "group_id": a.group_id}


async def _take_seat(s: AsyncSession, group_id: int) -> bool:
    result = await s.execute(
        update(Group)
        .where(Group.id == group_id, Group.seats_taken < Group.capacity)
        .values(seats_taken=Group.seats_taken + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _free_seat(s: AsyncSession, group_id: int) -> None:
    await s.execute(
        update(Group)
        .where(Group.id == group_id, Group.seats_taken > 0)
        .values(seats_taken=Group.seats_taken - 1)
    )


async def _lock_application(s: AsyncSession, application_id: int) -> Application | None:
    return await s.scalar(
        select(Application).where(Application.id == application_id).with_for_update()
    )


async def _waitlist_position(s: AsyncSession, app: Application) -> int:
    ahead = await s.scalar(
        select(func.count())
        .select_from(Application)
        .where(
            Application.course_id == app.course_id,
            Application.status == "waitlisted",
            or_(
                Application.waitlisted_at < app.waitlisted_at,
                and_(Application.waitlisted_at == app.waitlisted_at, Application.id < app.id),
            ),
        )
    )
    return int(ahead or 0) + 1


async def _course_has_free_seat(s: AsyncSession, course_id: int) -> bool:
    free = await s.scalar(
        select(func.count())
        .select_from(Group)
        .where(Group.course_id == course_id, Group.seats_taken < Group.capacity)
    )
    return bool(free)


async def _promote_into(
    s: AsyncSession, course_id: int, group_id: int, actor_id: int | None, now: datetime
) -> list[ApplicationDTO]:
    """Give free seats of a group to the first waitlisted applicants of its course."""
    promoted: list[ApplicationDTO] = []
    while True:
        candidate = await s.scalar(
            select(Application)
            .where(Application.course_id == course_id, Application.status == "waitlisted")
            .order_by(Application.waitlisted_at, Application.id)
            .limit(1)
            .with_for_update()
        )
        if candidate is None or not await _take_seat(s, group_id):
            return promoted
        before = _snapshot(candidate)
        candidate.status = "accepted"
        candidate.group_id = group_id
        candidate.decided_at = now
        candidate.updated_at = now
        candidate.decided_by = actor_id
        candidate.reason = None
        await s.flush()
        add_audit(
            s,
            actor_id or 0,
            "application.promote",
            "application",
            candidate.id,
            before,
            _snapshot(candidate),
        )
        promoted.append(application_dto(candidate))


class ApplicationRepo:
    """``now`` is the bot's clock (the sandbox's and the tests' clock move it): every
    application time (submitted, decided, waitlisted, updated) and funnel event is
    stamped with it, so "today" and report periods agree with the clock staff see."""

    def __init__(
        self,
        db: Database,
        now: Callable[[], datetime] = utcnow,
        cache: UserCache | None = None,
    ) -> None:
        self.db = db
        self.now = now
        # Under long polling: who is known to have no application (``UserCache``).
        self.cache = cache

    # ---- citizen side -------------------------------------------------------------

    async def submit(
        self,
        *,
        user_id: int,
        course_id: int,
        group_id: int | None,
        full_name: str,
        phone: str,
        district_id: int | None,
        consent_at: datetime,
        source: str | None,
        answers: Mapping[int, str] | None = None,
        record_consent: bool = False,
        also: Callable[[AsyncSession, ApplicationDTO], Awaitable[object]] | None = None,
    ) -> Outcome:
        """Create a live application: pending, or waitlisted when the course is full;
        ``answers`` to the course's extra questions are stored with it.

        In the same transaction: with ``record_consent``, the user's consent (given when
        they began the form) if none is recorded yet; ``also`` writes what belongs with
        the new application (its staff-chat card in the outbox), so a crash never keeps
        one without the other, and a confirmation is one write."""
        if self.cache is not None:
            # Before and after: a read of the user's applications meanwhile must not
            # leave them marked as having none.
            self.cache.drop_no_applications(user_id)
        try:
            async with self.db.transaction() as s:
                course = await s.get(Course, course_id)
                if course is None:
                    raise EnrolmentError("course_not_found")
                if not course.enrolment_open:
                    raise EnrolmentError("enrolment_closed")
                existing = await s.scalar(
                    select(Application).where(
                        Application.user_id == user_id,
                        Application.course_id == course_id,
                        Application.status.in_(LIVE_STATUSES),
                    )
                )
                if existing is not None:
                    raise EnrolmentError("duplicate", application_dto(existing))
                if group_id is not None:
                    group = await s.get(Group, group_id)
                    if group is None or group.course_id != course_id:
                        group_id = None
                full = not await _course_has_free_seat(s, course_id)
                now = self.now()
                app = Application(
                    user_id=user_id,
                    course_id=course_id,
                    group_id=group_id,
                    full_name=full_name,
                    phone=phone,
                    district_id=district_id,
                    status="waitlisted" if full else "pending",
                    waitlisted_at=now if full else None,
                    consent_at=consent_at,
                    source=source,
                    created_at=now,
                    updated_at=now,
                )
                s.add(app)
                await s.flush()
                if answers:
                    await save_answers(s, app.id, answers)
                s.add(FunnelEvent(user_id=user_id, kind="submitted", course_id=course_id, at=now))
                if record_consent:
                    await s.execute(
                        update(User)
                        .where(User.id == user_id, User.consent_at.is_(None))
                        .values(consent_at=consent_at)
                    )
                position = await _waitlist_position(s, app) if full else None
                dto = application_dto(app)
                if also is not None:
                    await also(s, dto)
        except IntegrityError:
            # A concurrent submit for the same course won the unique live index.
            raise EnrolmentError("duplicate") from None
        finally:
            if self.cache is not None:
                self.cache.drop_no_applications(user_id)
        if record_consent and self.cache is not None:
            self.cache.refresh(user_id, consent_at=consent_at)
        return Outcome(dto, "new", [], position)

    async def record_funnel(self, user_id: int, kind: str, course_id: int | None) -> None:
        """Written with the update's other writes (``Database.write``): nothing reads a
        funnel event back in the update that records it."""
        table = cast(Table, FunnelEvent.__table__)
        await self.db.write(
            table.insert().values(user_id=user_id, kind=kind, course_id=course_id, at=self.now())
        )

    async def get(self, application_id: int) -> ApplicationDTO | None:
        async with self.db.read() as s:
            row = await s.get(Application, application_id)
            return application_dto(row) if row else None

    async def for_user(self, user_id: int) -> list[ApplicationDTO]:
        """The user's applications, newest first.

        On the catalogue and sign-up paths: a Core query, no ORM session; and none at all
        for a user the cache knows has none (a new citizen, on every step)."""
        cache = self.cache
        if cache is not None and cache.has_no_applications(user_id):
            return []
        generation = self.db.changes.generation(APPLICATION_TABLES)
        async with self.db.read_core() as conn:
            apps = [application_dto(a) for a in await conn.execute(_FOR_USER, {"user_id": user_id})]
        if not apps and cache is not None:
            cache.put_no_applications(user_id, generation)
        return apps

    async def live_for_user(self, user_id: int) -> list[ApplicationDTO]:
        return [a for a in await self.for_user(user_id) if a.is_live]

    async def waitlist_position(self, application_id: int) -> int | None:
        async with self.db.read() as s:
            app = await s.get(Application, application_id)
            if app is None or app.status != "waitlisted":
                return None
            return await _waitlist_position(s, app)

    async def cancel_by_user(self, user_id: int, application_id: int) -> Outcome:
        """The applicant withdraws; a freed seat goes to the first on the waitlist."""
        async with self.db.transaction() as s:
            app = await _lock_application(s, application_id)
            if app is None or app.user_id != user_id:
                raise EnrolmentError("not_found")
            if app.status not in LIVE_STATUSES:
                raise EnrolmentError("not_live", application_dto(app))
            previous = app.status
            now = self.now()
            app.status = "cancelled"
            app.updated_at = now
            promoted: list[ApplicationDTO] = []
            if previous == "accepted" and app.group_id is not None:
                await _free_seat(s, app.group_id)
                await s.flush()
                promoted = await _promote_into(s, app.course_id, app.group_id, None, now)
            await s.flush()
            return Outcome(application_dto(app), previous, promoted)

    # ---- staff side ---------------------------------------------------------------

    async def decide(
        self,
        application_id: int,
        *,
        actor_id: int,
        action: str,
        expected_status: str | None = None,
        group_id: int | None = None,
        reason: str | None = None,
    ) -> Outcome:
        """Accept, waitlist or reject one application, at most once.

        ``expected_status`` (the status the staff member saw) makes a second click on a
        stale button fail with ``EnrolmentError('changed')`` instead of acting twice.
        """
        if action not in ("accept", "waitlist", "reject"):
            raise ValueError(action)
        async with self.db.transaction() as s:
            app = await _lock_application(s, application_id)
            if app is None:
                raise EnrolmentError("not_found")
            if expected_status is not None and app.status != expected_status:
                raise EnrolmentError("changed", application_dto(app))
            previous = app.status
            before = _snapshot(app)
            promoted: list[ApplicationDTO] = []
            position: int | None = None
            now = self.now()
            if action == "accept":
                if previous == "accepted":
                    raise EnrolmentError("already", application_dto(app))
                if previous not in ("pending", "waitlisted"):
                    raise EnrolmentError("not_live", application_dto(app))
                chosen = await self._pick_group(s, app, group_id)
                if chosen is None:
                    raise EnrolmentError("full", application_dto(app))
                app.status = "accepted"
                app.group_id = chosen
                app.reason = None
            elif action == "waitlist":
                if previous == "waitlisted":
                    raise EnrolmentError("already", application_dto(app))
                if previous not in ("pending", "accepted"):
                    raise EnrolmentError("not_live", application_dto(app))
                if previous == "accepted" and app.group_id is not None:
                    await _free_seat(s, app.group_id)
                app.status = "waitlisted"
                app.waitlisted_at = now
            else:
                if previous == "rejected":
                    raise EnrolmentError("already", application_dto(app))
                if previous not in LIVE_STATUSES:
                    raise EnrolmentError("not_live", application_dto(app))
                app.status = "rejected"
                app.reason = reason
                if previous == "accepted" and app.group_id is not None:
                    await _free_seat(s, app.group_id)
            app.decided_by = actor_id
            app.decided_at = now
            app.updated_at = now
            await s.flush()
            if previous == "accepted" and app.status != "accepted" and app.group_id is not None:
                promoted = await _promote_into(s, app.course_id, app.group_id, actor_id, now)
            if app.status == "waitlisted":
                position = await _waitlist_position(s, app)
            add_audit(
                s,
                actor_id,
                f"application.{action}",
                "application",
                app.id,
                before,
                {**_snapshot(app), **({"reason": reason} if reason else {})},
            )
            return Outcome(application_dto(app), previous, promoted, position)

    async def _pick_group(
        self, s: AsyncSession, app: Application, requested: int | None
    ) -> int | None:
        """Take a seat: in the requested group, else the preferred one, else any free."""
        candidates: list[int] = []
        if requested is not None:
            candidates = [requested]
        else:
            if app.group_id is not None:
                candidates.append(app.group_id)
            rows = await s.execute(
                select(Group.id)
                .where(Group.course_id == app.course_id)
                .order_by((Group.capacity - Group.seats_taken).desc(), Group.id)
            )
            candidates += [gid for (gid,) in rows if gid not in candidates]
        for gid in candidates:
            group = await s.get(Group, gid)
            if group is None or group.course_id != app.course_id:
                continue
            if await _take_seat(s, gid):
                return gid
        return None

    async def move(self, application_id: int, *, actor_id: int, group_id: int) -> Outcome:
        """Move an accepted trainee to another group of the same course."""
        async with self.db.transaction() as s:
            app = await _lock_application(s, application_id)
            if app is None:
                raise EnrolmentError("not_found")
            if app.status != "accepted":
                raise EnrolmentError("not_accepted", application_dto(app))
            if app.group_id == group_id:
                raise EnrolmentError("already", application_dto(app))
            target = await s.get(Group, group_id)
            if target is None or target.course_id != app.course_id:
                raise EnrolmentError("not_found")
            if not await _take_seat(s, group_id):
                raise EnrolmentError("full", application_dto(app))
            before = _snapshot(app)
            old_group = app.group_id
            now = self.now()
            app.group_id = group_id
            app.updated_at = now
            await s.flush()
            promoted: list[ApplicationDTO] = []
            if old_group is not None:
                await _free_seat(s, old_group)
                await s.flush()
                promoted = await _promote_into(s, app.course_id, old_group, actor_id, now)
            add_audit(
                s, actor_id, "application.move", "application", app.id, before, _snapshot(app)
            )
            return Outcome(application_dto(app), "accepted", promoted)

    async def set_group_capacity(
        self, group_id: int, capacity: int, *, actor_id: int
    ) -> tuple[int, list[ApplicationDTO]]:
        """Change a group's capacity (never below seats taken); promote if raised."""
        async with self.db.transaction() as s:
            group = await s.scalar(select(Group).where(Group.id == group_id).with_for_update())
            if group is None:
                raise EnrolmentError("not_found")
            if capacity < group.seats_taken:
                raise EnrolmentError("below_taken")
            before = group.capacity
            group.capacity = capacity
            await s.flush()
            add_audit(
                s,
                actor_id,
                "group.capacity",
                "group",
                group_id,
                {"capacity": before},
                {"capacity": capacity},
            )
            promoted = await _promote_into(s, group.course_id, group_id, actor_id, self.now())
            return before, promoted

    async def search(
        self, flt: ApplicationFilter, *, limit: int | None = 20, offset: int = 0
    ) -> tuple[list[ApplicationDTO], int]:
        """A page of applications and the total count, newest first."""
        conditions = _conditions(flt)
        async with self.db.read() as s:
            total = await s.scalar(select(func.count()).select_from(Application).where(*conditions))
            query = (
                select(Application)
                .where(*conditions)
                .order_by(Application.created_at.desc(), Application.id.desc())
                .offset(offset)
            )
            if limit is not None:
                query = query.limit(limit)
            rows = await s.scalars(query)
            return [application_dto(a) for a in rows], int(total or 0)

    async def count(self, flt: ApplicationFilter) -> int:
        """How many applications the filter finds."""
        async with self.db.read() as s:
            total = await s.scalar(
                select(func.count()).select_from(Application).where(*_conditions(flt))
            )
            return int(total or 0)

    async def accepted_user_ids(self, group_ids: Sequence[int]) -> list[int]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(Application.user_id).where(
                    Application.group_id.in_(group_ids), Application.status == "accepted"
                )
            )
            return list(rows)
