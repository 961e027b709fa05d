"""Seats are never overbooked and decisions are applied once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from sqlalchemy import func, select

from db.database import Database
from db.models import Application, AuditLog, FunnelEvent, Group
from db.repo import Repos
from db.repo.applications import EnrolmentError, Outcome
from tests.factories import make_catalogue, make_users, submit_application

NOW = datetime(2026, 11, 22, tzinfo=UTC)


async def _submit(repo: Repos, user_id: int, course_id: int) -> Outcome:
    return await submit_application(repo, user_id, course_id)


async def test_concurrent_accepts_never_overbook(any_db: Database) -> None:
    repo = Repos.create(any_db)
    cat = await make_catalogue(any_db, capacities=(25, 25))
    await make_users(any_db, range(1, 201))
    apps = [await _submit(repo, uid, cat.course_id) for uid in range(1, 201)]
    assert all(o.application.status == "pending" for o in apps)

    async def accept(app_id: int) -> str:
        try:
            await repo.applications.decide(app_id, actor_id=999, action="accept")
        except EnrolmentError as exc:
            return exc.code
        return "ok"

    results = await asyncio.gather(*(accept(o.application.id) for o in apps))
    assert results.count("ok") == 50
    assert results.count("full") == 150
    async with any_db.transaction() as s:
        taken = dict((await s.execute(select(Group.id, Group.seats_taken))).all())
        accepted = await s.scalar(
            select(func.count()).select_from(Application).where(Application.status == "accepted")
        )
    assert taken == {cat.group_ids[0]: 25, cat.group_ids[1]: 25}
    assert accepted == 50


async def test_two_staff_accepting_one_application(any_db: Database) -> None:
    repo = Repos.create(any_db)
    cat = await make_catalogue(any_db, capacities=(5,))
    await make_users(any_db, [1])
    app = (await _submit(repo, 1, cat.course_id)).application

    async def accept(actor: int) -> str:
        try:
            await repo.applications.decide(
                app.id, actor_id=actor, action="accept", expected_status="pending"
            )
        except EnrolmentError as exc:
            return exc.code
        return "ok"

    results = sorted(await asyncio.gather(accept(10), accept(11)))
    assert results == ["changed", "ok"]
    async with any_db.transaction() as s:
        assert await s.scalar(select(Group.seats_taken)) == 1
        audits = await s.scalar(select(func.count()).select_from(AuditLog))
    assert audits == 1


async def test_full_course_waitlists_and_freed_seat_promotes(any_db: Database) -> None:
    repo = Repos.create(any_db)
    cat = await make_catalogue(any_db, capacities=(1,))
    await make_users(any_db, [1, 2, 3])
    first = (await _submit(repo, 1, cat.course_id)).application
    await repo.applications.decide(first.id, actor_id=9, action="accept")
    second = await _submit(repo, 2, cat.course_id)
    third = await _submit(repo, 3, cat.course_id)
    assert (second.application.status, second.waitlist_position) == ("waitlisted", 1)
    assert (third.application.status, third.waitlist_position) == ("waitlisted", 2)

    outcome = await repo.applications.cancel_by_user(1, first.id)
    assert outcome.previous_status == "accepted"
    assert [a.id for a in outcome.promoted] == [second.application.id]
    assert outcome.promoted[0].status == "accepted"
    assert await repo.applications.waitlist_position(third.application.id) == 1

    # Raising the capacity promotes the next one.
    _, promoted = await repo.applications.set_group_capacity(cat.group_ids[0], 2, actor_id=9)
    assert [a.id for a in promoted] == [third.application.id]


async def test_one_live_application_per_course(any_db: Database) -> None:
    repo = Repos.create(any_db)
    cat = await make_catalogue(any_db)
    await make_users(any_db, [1])
    await _submit(repo, 1, cat.course_id)
    with pytest.raises(EnrolmentError) as info:
        await _submit(repo, 1, cat.course_id)
    assert info.value.code == "duplicate"


async def test_concurrent_duplicate_submits(any_db: Database) -> None:
    repo = Repos.create(any_db)
    cat = await make_catalogue(any_db)
    await make_users(any_db, [1])

    async def submit() -> str:
        try:
            await _submit(repo, 1, cat.course_id)
        except EnrolmentError as exc:
            return exc.code
        return "ok"

    results = sorted(await asyncio.gather(*(submit() for _ in range(5))))
    assert results == ["duplicate"] * 4 + ["ok"]


async def test_reject_accepted_frees_seat_and_move(any_db: Database) -> None:
    repo = Repos.create(any_db)
    cat = await make_catalogue(any_db, capacities=(1, 1))
    await make_users(any_db, [1, 2])
    a = (await _submit(repo, 1, cat.course_id)).application
    await repo.applications.decide(a.id, actor_id=9, action="accept", group_id=cat.group_ids[0])
    moved = await repo.applications.move(a.id, actor_id=9, group_id=cat.group_ids[1])
    assert moved.application.group_id == cat.group_ids[1]
    with pytest.raises(EnrolmentError) as info:
        await repo.applications.move(a.id, actor_id=9, group_id=cat.group_ids[1])
    assert info.value.code == "already"
    rejected = await repo.applications.decide(a.id, actor_id=9, action="reject", reason="x")
    assert rejected.application.status == "rejected"
    async with any_db.transaction() as s:
        assert sorted((await s.scalars(select(Group.seats_taken))).all()) == [0, 0]


async def test_application_times_follow_the_bots_clock(sqlite_db: Database) -> None:
    """Submitted, decided, waitlisted, promoted and withdrawn times, and funnel events,
    are the bot's clock (the sandbox's moved clock), not the machine's."""
    moment = datetime(2031, 3, 4, 5, 6, tzinfo=UTC)  # far from the machine's time
    repo = Repos.create(sqlite_db, now=lambda: moment)
    cat = await make_catalogue(sqlite_db, capacities=(1,))
    await make_users(sqlite_db, [1, 2])
    first = (await _submit(repo, 1, cat.course_id)).application
    second = (await _submit(repo, 2, cat.course_id)).application
    await repo.applications.decide(first.id, actor_id=9, action="accept")
    await repo.applications.decide(second.id, actor_id=9, action="waitlist")
    withdrawn = await repo.applications.cancel_by_user(1, first.id)
    assert [a.status for a in withdrawn.promoted] == ["accepted"]  # the waitlist moved up
    await repo.applications.record_funnel(2, "started", cat.course_id)
    async with sqlite_db.read() as s:
        rows = (
            await s.execute(
                select(
                    Application.created_at,
                    Application.updated_at,
                    Application.decided_at,
                    Application.waitlisted_at,
                )
            )
        ).all()
        funnel = list(await s.scalars(select(FunnelEvent.at)))
    assert {t for row in rows for t in row} - {None} == {moment}
    assert funnel and set(funnel) == {moment}


async def test_an_application_is_saved_with_its_consent_and_staff_card_or_not_at_all(
    any_db: Database,
) -> None:
    """The confirmation is one transaction: the application, the consent recorded with
    it and the outbox row of its staff-chat card. If the card cannot be written, neither
    is the application (nor the consent): the person may press Confirm again."""
    from db.dto import NewDelivery
    from db.models import Delivery, User

    repo = Repos.create(any_db, cache=True)
    cat = await make_catalogue(any_db, capacities=(25,))
    await make_users(any_db, [7])

    submit = partial(
        repo.applications.submit,
        user_id=7,
        course_id=cat.course_id,
        group_id=None,
        full_name="Aida S",
        phone="+77011234567",
        district_id=None,
        consent_at=NOW,
        source=None,
        record_consent=True,
    )

    async def broken_card(s: object, app: object) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        await submit(also=broken_card)
    async with any_db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Application)) == 0
        assert await s.scalar(select(User.consent_at).where(User.id == 7)) is None
    assert await repo.applications.for_user(7) == []

    async def card(s: Any, app: Any) -> None:
        await repo.deliveries.enqueue_in(
            s, [NewDelivery("notice", f"staff-card:{app.id}", -100, {"type": "staff_card"})]
        )

    outcome = await submit(also=card)
    async with any_db.read() as s:
        assert await s.scalar(select(User.consent_at).where(User.id == 7)) == NOW
        keys = list(await s.scalars(select(Delivery.dedupe_key)))
    assert keys == [f"staff-card:{outcome.application.id}"]
    assert [a.id for a in await repo.applications.for_user(7)] == [outcome.application.id]
