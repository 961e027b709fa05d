"""Broadcasts: an announcement's audience, its life (scheduled, sending, stopped,
finished) and its progress message. Its messages are ``deliveries`` rows
(``db.repo.deliveries``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)

from db.database import Database
from db.dto import Audience, BroadcastDTO
from db.models import (
    REACHES,
    Application,
    Broadcast,
    Centre,
    CentreReach,
    Course,
    District,
    User,
    utcnow,
)
from db.repo.audit import add_audit
from db.repo.deliveries import DELIVERIES, LOCALES, _skip_pending


def broadcast_dto(b: Broadcast) -> BroadcastDTO:
    return BroadcastDTO(
        id=b.id,
        author_id=b.author_id,
        source_chat_id=b.source_chat_id,
        source_message_id=b.source_message_id,
        audience=Audience.from_json(b.audience),
        scheduled_at=b.scheduled_at,
        status=b.status,
        progress_chat_id=b.progress_chat_id,
        progress_message_id=b.progress_message_id,
        created_at=b.created_at,
        started_at=b.started_at,
        finished_at=b.finished_at,
        content=b.content,
    )


def _resolved_locale(default_locale: str) -> ColumnElement[Any]:
    """The user's locale as ``Translator.resolve_locale`` picks it, in SQL."""
    code = func.lower(User.language_code)
    short = func.substr(code, 1, 2)
    plain_code = or_(func.length(code) == 2, func.substr(code, 3, 1) == "-")
    return case(
        (User.locale.in_(LOCALES), User.locale),
        (and_(short.in_(LOCALES), plain_code), short),
        else_=literal(default_locale),
    )


def audience_conditions(
    audience: Audience, default_locale: str, author_id: int | None = None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [User.is_active.is_(True)]
    if author_id is not None:
        conditions.append(User.id != author_id)
    if audience.locale is not None:
        conditions.append(_resolved_locale(default_locale) == audience.locale)
    # What the person's applications must show: the filters about applications to the
    # author's own courses (course, group, status) and the district filter.
    own: list[ColumnElement[bool]] = []
    if audience.course_id is not None:
        own.append(Application.course_id == audience.course_id)
    if audience.group_id is not None:
        own.append(Application.group_id == audience.group_id)
    if audience.status is not None:
        own.append(Application.status == audience.status)
    district = (
        [Application.district_id == audience.district_id]
        if audience.district_id is not None
        else []
    )
    if audience.centres is None:
        if own or district:
            conditions.append(applied(*own, *district))
        return conditions
    centres = list(audience.centres)
    applicants = applied(
        Application.course_id.in_(select(Course.id).where(Course.centre_id.in_(centres))),
        *own,
        *district,
    )
    if own:
        # Course, group and status are about the centres' own applications: the reach
        # a programme admin allows does not widen them.
        conditions.append(applicants)
        return conditions
    wider = reach_condition(centres)
    if district:
        wider = and_(wider, applied(*district))
    conditions.append(or_(applicants, wider))
    return conditions


def applied(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """The person has an application with all of these. An uncorrelated ``IN``: the
    applications are read once, not once per person (a correlated EXISTS has no index on
    ``applications.user_id`` to use and took seconds at 10,000 applications)."""
    return User.id.in_(select(Application.user_id).where(*conditions))


def _reaching(centres: list[int], reach: str) -> ColumnElement[bool]:
    return and_(CentreReach.centre_id.in_(centres), CentreReach.reach == reach)


def reach_condition(centres: list[int]) -> ColumnElement[bool]:
    """Who the centres' announcements reach beyond their applicants, as a programme admin
    set it (``centre_reach``, read by the query itself, so the setting of the moment
    applies: when the audience is counted and again when the announcement fires).

    ``everyone``: every person who uses the bot. ``region``: people whose application
    names a district of a centre's region, or who applied to a course of a centre in it
    (what the database knows of where a person is; an opened centre link is not kept)."""
    regions = (
        select(Centre.region_id)
        .join(CentreReach, CentreReach.centre_id == Centre.id)
        .where(_reaching(centres, "region"))
    )
    in_region = applied(
        or_(
            Application.district_id.in_(select(District.id).where(District.region_id.in_(regions))),
            Application.course_id.in_(
                select(Course.id)
                .join(Centre, Centre.id == Course.centre_id)
                .where(Centre.region_id.in_(regions))
            ),
        ),
    )
    everyone = exists().where(_reaching(centres, "everyone"))
    return or_(everyone, and_(exists().where(_reaching(centres, "region")), in_region))


class BroadcastRepo:
    """Broadcast rows: create, schedule, start, stop, finish; the audience behind them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def audience_count(
        self, audience: Audience, default_locale: str, *, author_id: int | None = None
    ) -> int:
        """How many people the audience reaches; the author (who gets the preview, not
        the announcement) is not one of them."""
        conditions = audience_conditions(audience, default_locale, author_id)
        async with self.db.read() as s:
            query = select(func.count()).select_from(User)
            return int(await s.scalar(query.where(*conditions)) or 0)

    async def audience_ids(
        self, audience: Audience, default_locale: str, *, author_id: int | None = None
    ) -> list[int]:
        """The recipients' ids, the author's left out."""
        conditions = audience_conditions(audience, default_locale, author_id)
        async with self.db.read() as s:
            rows = await s.scalars(select(User.id).where(*conditions).order_by(User.id))
            return [int(x) for x in rows]

    async def reaches(self, centre_ids: Iterable[int] | None = None) -> dict[int, str]:
        """Centres whose reach a programme admin widened: {centre id: region | everyone}
        (a centre not named: its applicants only)."""
        query = select(CentreReach.centre_id, CentreReach.reach)
        if centre_ids is not None:
            query = query.where(CentreReach.centre_id.in_(list(centre_ids)))
        async with self.db.read() as s:
            return {int(c): str(r) for c, r in (await s.execute(query)).all()}

    async def set_reach(self, actor_id: int, centre_id: int, reach: str) -> str | None:
        """Set a centre's announcement reach (audited); returns the one before, or None
        if there is no such centre. ``applicants`` removes the widening."""
        if reach not in REACHES:
            raise ValueError(reach)
        async with self.db.transaction() as s:
            if await s.get(Centre, centre_id) is None:
                return None
            row = await s.get(CentreReach, centre_id, with_for_update=True)
            before = row.reach if row is not None else "applicants"
            if before == reach:
                return before
            if reach == "applicants":
                await s.execute(delete(CentreReach).where(CentreReach.centre_id == centre_id))
            elif row is None:
                s.add(CentreReach(centre_id=centre_id, reach=reach, set_by=actor_id))
            else:
                row.reach, row.set_by, row.set_at = reach, actor_id, utcnow()
            add_audit(
                s,
                actor_id,
                "centre.reach",
                "centre",
                centre_id,
                {"reach": before},
                {"reach": reach},
                centre_id=centre_id,
            )
            return before

    async def create(
        self,
        *,
        author_id: int,
        source_chat_id: int,
        source_message_id: int,
        audience: Audience,
        scheduled_at: datetime,
        progress_chat_id: int | None = None,
        progress_message_id: int | None = None,
        now: datetime,
        content: dict[str, Any] | None = None,
    ) -> BroadcastDTO:
        """A broadcast due at ``scheduled_at`` (now, for "send now"); audited."""
        async with self.db.transaction() as s:
            row = Broadcast(
                author_id=author_id,
                source_chat_id=source_chat_id,
                source_message_id=source_message_id,
                content=content,
                audience=audience.to_json(),
                scheduled_at=scheduled_at,
                status="scheduled",
                progress_chat_id=progress_chat_id,
                progress_message_id=progress_message_id,
                created_at=now,
            )
            s.add(row)
            await s.flush()
            add_audit(
                s,
                author_id,
                "broadcast.create",
                "broadcast",
                row.id,
                None,
                {"audience": audience.to_json(), "scheduled_at": scheduled_at.isoformat()},
            )
            return broadcast_dto(row)

    async def get(self, broadcast_id: int) -> BroadcastDTO | None:
        async with self.db.read() as s:
            row = await s.get(Broadcast, broadcast_id)
            return broadcast_dto(row) if row else None

    async def scheduled(self) -> list[BroadcastDTO]:
        """Broadcasts waiting for their time, soonest first."""
        async with self.db.read() as s:
            rows = await s.scalars(
                select(Broadcast)
                .where(Broadcast.status == "scheduled")
                .order_by(Broadcast.scheduled_at, Broadcast.id)
            )
            return [broadcast_dto(b) for b in rows]

    async def active(self) -> list[BroadcastDTO]:
        """Broadcasts being sent or stopped whose final report is not written yet."""
        async with self.db.read() as s:
            rows = await s.scalars(
                select(Broadcast)
                .where(
                    Broadcast.status.in_(("sending", "stopped")), Broadcast.finished_at.is_(None)
                )
                .order_by(Broadcast.id)
            )
            return [broadcast_dto(b) for b in rows]

    async def start(self, broadcast_id: int, now: datetime) -> bool:
        """scheduled → sending; False if it is no longer scheduled (cancelled, started)."""
        async with self.db.transaction() as s:
            result = await s.execute(
                update(Broadcast)
                .where(Broadcast.id == broadcast_id, Broadcast.status == "scheduled")
                .values(status="sending", started_at=now)
            )
            return bool(getattr(result, "rowcount", 0))

    async def cancel(self, broadcast_id: int, *, actor_id: int) -> bool:
        """scheduled → cancelled (audited); False if it was not scheduled any more."""
        async with self.db.transaction() as s:
            result = await s.execute(
                update(Broadcast)
                .where(Broadcast.id == broadcast_id, Broadcast.status == "scheduled")
                .values(status="cancelled")
            )
            if not getattr(result, "rowcount", 0):
                return False
            await _skip_pending(s, broadcast_id, "cancelled")
            add_audit(
                s,
                actor_id,
                "broadcast.cancel",
                "broadcast",
                broadcast_id,
                {"status": "scheduled"},
                {"status": "cancelled"},
            )
            return True

    async def stop(self, broadcast_id: int, *, actor_id: int, now: datetime) -> int | None:
        """sending → stopped: the rows not yet sent are skipped (audited). A broadcast
        that is due but still ``scheduled`` is being fired (its audience written, while
        the first rows already go out): it stops too, and its firing writes no more.
        Returns how many rows were skipped, or None if the broadcast was not being sent
        (a broadcast scheduled for later is cancelled, not stopped)."""
        being_sent = or_(
            Broadcast.status == "sending",
            and_(Broadcast.status == "scheduled", Broadcast.scheduled_at <= now),
        )
        async with self.db.transaction() as s:
            before = await s.scalar(
                select(Broadcast.status)
                .where(Broadcast.id == broadcast_id, being_sent)
                .with_for_update()
            )
            if before is None:
                return None
            await s.execute(
                update(Broadcast)
                .where(Broadcast.id == broadcast_id, Broadcast.status == before)
                .values(status="stopped", started_at=func.coalesce(Broadcast.started_at, now))
            )
            skipped = await _skip_pending(s, broadcast_id, "stopped")
            add_audit(
                s,
                actor_id,
                "broadcast.stop",
                "broadcast",
                broadcast_id,
                {"status": before},
                {"status": "stopped", "skipped": skipped},
            )
            return skipped

    async def set_progress_message(self, broadcast_id: int, chat_id: int, message_id: int) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                update(Broadcast)
                .where(Broadcast.id == broadcast_id)
                .values(progress_chat_id=chat_id, progress_message_id=message_id)
            )

    async def finish(self, broadcast_id: int, now: datetime) -> BroadcastDTO | None:
        """Write ``finished_at`` (sending → done) once no row is pending or claimed; the
        caller that gets the broadcast back is the one that sends the final report."""
        d = DELIVERIES.c
        open_rows = exists().where(
            d.broadcast_id == broadcast_id, d.status.in_(("pending", "claimed"))
        )
        async with self.db.transaction() as s:
            result = await s.execute(
                update(Broadcast)
                .where(
                    Broadcast.id == broadcast_id,
                    Broadcast.status.in_(("sending", "stopped")),
                    Broadcast.finished_at.is_(None),
                    ~open_rows,
                )
                .values(
                    status=case((Broadcast.status == "sending", "done"), else_=Broadcast.status),
                    finished_at=now,
                )
            )
            if not getattr(result, "rowcount", 0):
                return None
            row = await s.get(Broadcast, broadcast_id, populate_existing=True)
            return broadcast_dto(row) if row else None
