"""The staff repositories on SQLite and PostgreSQL: every change audited in its
transaction, seats given to the waitlist, schedule rules, statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from db.database import Database
from db.models import AuditLog, FunnelEvent
from db.repo import Repos
from db.repo.applications import EnrolmentError
from db.repo.schedule import ScheduleError
from tests.factories import make_catalogue, make_users, submit_application


async def _submit(repo: Repos, user_id: int, course_id: int, **extra: object) -> int:
    outcome = await submit_application(
        repo,
        user_id,
        course_id,
        district_id=extra.get("district_id"),  # type: ignore[arg-type]
        source=extra.get("source"),  # type: ignore[arg-type]
    )
    return outcome.application.id


async def _actions(db: Database) -> list[str]:
    async with db.transaction() as s:
        return list(await s.scalars(select(AuditLog.action).order_by(AuditLog.id)))


async def test_courses_repo(any_db: Database) -> None:
    repo = Repos.create(any_db)
    cat = await make_catalogue(any_db, capacities=(1,))
    await make_users(any_db, [1, 2, 3])
    first = await _submit(repo, 1, cat.course_id)
    await repo.applications.decide(first, actor_id=9, action="accept")
    second = await _submit(repo, 2, cat.course_id)
    third = await _submit(repo, 3, cat.course_id)

    [overview] = await repo.courses.overview()
    assert (overview.pending, overview.waitlisted, overview.course.seats_taken) == (0, 2, 1)
    assert overview.centre_name["en"] == "Centre"
    assert await repo.courses.queue(cat.course_id) == (0, 2)

    # A new group's seats go to the waitlist, first come first served.
    group, promoted = await repo.courses.add_group(cat.course_id, " Evening  ", 1, actor_id=9)
    assert group.name == {"kk": "Evening", "ky": "Evening", "ru": "Evening", "en": "Evening"}
    assert group.code == "t-python-g2" and group.capacity == 1
    assert [a.id for a in promoted] == [second]
    assert (await repo.catalogue.group(group.id)).seats_taken == 1  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="invalid group"):
        await repo.courses.add_group(cat.course_id, "", 5, actor_id=9)

    # Nothing free: filling seats promotes nobody; a raised capacity then does.
    assert await repo.courses.fill_free_seats([group.id], actor_id=9) == []
    await repo.applications.set_group_capacity(group.id, 2, actor_id=9)
    assert (await repo.applications.get(third)).status == "accepted"  # type: ignore[union-attr]

    assert await repo.courses.set_enrolment(cat.course_id, False, actor_id=9) is True
    assert await repo.courses.set_enrolment(cat.course_id, False, actor_id=9) is False  # no-op
    with pytest.raises(EnrolmentError):
        await repo.courses.set_enrolment(99999, True, actor_id=9)

    context = await repo.courses.group_context(group.id)
    assert context is not None
    assert (context.course.id, context.centre.timezone) == (cat.course_id, "Asia/Almaty")
    assert await _actions(any_db) == [
        "application.accept",
        "group.add",
        "application.promote",
        "group.capacity",
        "application.promote",
        "course.enrolment",
    ]


async def test_districts_in_applications(any_db: Database) -> None:
    repo = Repos.create(any_db)
    cat = await make_catalogue(any_db, capacities=(5,))
    await make_users(any_db, [1, 2, 3, 4])
    for uid, district in ((1, 0), (2, 1), (3, 1), (4, None)):
        await _submit(
            repo,
            uid,
            cat.course_id,
            district_id=cat.district_ids[district] if district is not None else None,
        )
    counts = await repo.courses.districts_in_applications(course_id=cat.course_id)
    assert [(c.key, c.count) for c in counts] == [
        (cat.district_ids[1], 2),
        (cat.district_ids[0], 1),
    ]


async def test_schedule_repo(any_db: Database) -> None:
    repo = Repos.create(any_db)
    cat = await make_catalogue(any_db, capacities=(5,), sessions_per_group=2)
    group = cat.group_ids[0]
    existing = await repo.catalogue.sessions([group])
    start = datetime(2026, 12, 20, 4, 0, tzinfo=UTC)

    added = await repo.schedule.add(group, start, start + timedelta(hours=2), "305", actor_id=9)
    assert (added.room, added.cancelled) == ("305", False)
    with pytest.raises(ScheduleError) as info:
        await repo.schedule.add(
            group, start + timedelta(hours=1), start + timedelta(hours=3), None, actor_id=9
        )
    assert info.value.code == "overlap"
    with pytest.raises(ScheduleError) as info:
        await repo.schedule.add(group, start, start - timedelta(hours=1), None, actor_id=9)
    assert info.value.code == "bad_times"

    later = start + timedelta(days=1)
    before, after = await repo.schedule.move(
        added.id, later, later + timedelta(hours=2), None, actor_id=9
    )
    assert (before.starts_at, after.starts_at, after.room) == (start, later, "305")
    with pytest.raises(ScheduleError) as info:
        await repo.schedule.move(added.id, later, later + timedelta(hours=2), None, actor_id=9)
    assert info.value.code == "unchanged"
    # Moving onto another class of the group is refused.
    clash = existing[0]
    with pytest.raises(ScheduleError) as info:
        await repo.schedule.move(added.id, clash.starts_at, clash.ends_at, None, actor_id=9)
    assert info.value.code == "overlap"

    _, cancelled = await repo.schedule.cancel(added.id, actor_id=9)
    assert cancelled.cancelled
    with pytest.raises(ScheduleError) as info:
        await repo.schedule.cancel(added.id, actor_id=9)
    assert info.value.code == "cancelled"
    # A cancelled class no longer blocks its slot.
    await repo.schedule.add(group, later, later + timedelta(hours=2), None, actor_id=9)

    snapshot = await repo.schedule.snapshot([group])
    assert len(snapshot) == len(existing) + 2 and snapshot[added.id].cancelled
    codes = await repo.schedule.group_ids_by_code(["t-g0", "nope"])
    assert codes == {"t-g0": group}
    async with any_db.transaction() as s:
        rows = (await s.scalars(select(AuditLog).where(AuditLog.target_id == str(added.id)))).all()
    assert [r.action for r in rows] == ["session.add", "session.move", "session.cancel"]
    assert rows[1].before is not None and rows[1].after is not None
    assert rows[1].before["starts_at"] != rows[1].after["starts_at"]


async def test_stats_repo(any_db: Database) -> None:
    repo = Repos.create(any_db)
    cat = await make_catalogue(any_db, capacities=(2, 3))
    await make_users(any_db, range(1, 7))
    ids = [
        await _submit(
            repo,
            uid,
            cat.course_id,
            district_id=cat.district_ids[uid % 2] if uid < 6 else None,
            source="poster" if uid % 3 == 0 else None,
        )
        for uid in range(1, 7)
    ]
    await repo.applications.decide(ids[0], actor_id=9, action="accept")
    await repo.applications.decide(ids[1], actor_id=9, action="reject", reason="x")
    now = datetime.now(UTC)
    async with any_db.transaction() as s:
        for uid in range(1, 9):
            s.add(FunnelEvent(user_id=uid, kind="started", at=now))
        s.add(FunnelEvent(user_id=1, kind="started", at=now))  # a second start: one person
        s.add(FunnelEvent(user_id=50, kind="started", at=now - timedelta(days=40)))

    stats = await repo.stats.collect(now - timedelta(days=30), now + timedelta(minutes=1))
    assert stats.total == 6
    assert stats.by_status == {"accepted": 1, "rejected": 1, "pending": 4}
    assert stats.by_course == {cat.course_id: {"accepted": 1, "rejected": 1, "pending": 4}}
    assert {c.key: c.count for c in stats.by_district} == {
        cat.district_ids[1]: 3,
        cat.district_ids[0]: 2,
        None: 1,
    }
    assert {c.key: c.count for c in stats.by_source} == {"poster": 2, None: 4}
    assert [(s.capacity, s.seats_taken) for s in stats.seats] == [(2, 0), (3, 1)]
    assert (stats.started, stats.submitted, stats.accepted) == (8, 6, 1)

    everything = await repo.stats.collect(None, now + timedelta(minutes=1))
    assert everything.started == 9
    nothing = await repo.stats.collect(now + timedelta(days=1), now + timedelta(days=2))
    assert (nothing.total, nothing.started, nothing.by_status) == (0, 0, {})
