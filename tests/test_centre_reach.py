"""A centre's announcement reach ("plus whatever the admin allows"): centre staff reach
their centres' applicants, a programme admin widens that per centre (its region, or
everyone who uses the bot) from buttons; the setting of the moment applies when the
audience is counted and again when the announcement fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.clock import ManualClock
from db.database import Database
from db.dto import Audience
from db.models import Application, AuditLog, Centre, CentreReach, Course, User
from db.repo import Repos
from sandbox.harness import ADMIN_ID, BotHarness
from tests.e2e import Chat
from tests.factories import loc, make_catalogue, make_users
from tests.test_broadcast_wizard import citizens, clock, compose, head, received, timed

__all__ = ["clock", "timed"]

NOW = datetime(2026, 11, 22, tzinfo=UTC)


async def _apply(db: Database, user_id: int, course_id: int, district_id: int | None) -> None:
    async with db.transaction() as s:
        s.add(
            Application(
                user_id=user_id,
                course_id=course_id,
                full_name="Test User",
                phone="+77011234567",
                district_id=district_id,
                status="pending",
                consent_at=NOW,
            )
        )


async def test_reach_widens_and_narrows_the_audience(any_db: Database) -> None:
    db, repo = any_db, Repos.create(any_db)
    a = await make_catalogue(db, code="a")  # centre A in region Ra
    c = await make_catalogue(db, code="c")  # centre C in another region
    async with db.transaction() as s:  # centre B: A's region, a course of its own
        centre_b = Centre(
            code="b-centre",
            region_id=a.region_id,
            name=loc("B"),
            city=loc("B city"),
            address=loc("B street"),
            latitude=43.0,
            longitude=76.0,
            timezone="Asia/Almaty",
        )
        s.add(centre_b)
        await s.flush()
        course_b = Course(
            code="b-course",
            centre_id=centre_b.id,
            title=loc("B course"),
            description=loc("B"),
            languages="ru",
            duration_weeks=8,
            certificate=loc("B"),
        )
        s.add(course_b)
        await s.flush()
        b_course = course_b.id
    await make_users(db, [1, 2, 3, 4, 5, 6, 9])
    async with db.transaction() as s:  # 6 blocked the bot
        (await s.get_one(User, 6)).is_active = False
    await _apply(db, 1, a.course_id, None)  # applied to A
    await _apply(db, 2, b_course, None)  # applied to B, in A's region
    await _apply(db, 3, c.course_id, a.district_ids[1])  # applied to C, lives in A's region
    await _apply(db, 4, c.course_id, c.district_ids[0])  # applied to C, lives elsewhere
    await _apply(db, 6, b_course, None)  # A's region, but blocked the bot
    await _apply(db, 9, a.course_id, None)  # the author: gets the preview, not the message

    async def reached(audience: Audience) -> list[int]:
        ids = await repo.broadcasts.audience_ids(audience, "en", author_id=9)
        assert await repo.broadcasts.audience_count(audience, "en", author_id=9) == len(ids)
        return ids

    mine = Audience(centres=(a.centre_id,))
    assert await reached(mine) == [1]  # the default: A's applicants
    assert await repo.broadcasts.set_reach(ADMIN_ID, a.centre_id, "region") == "applicants"
    assert await reached(mine) == [1, 2, 3]
    assert await reached(Audience(centres=(c.centre_id,))) == [3, 4]  # C is not widened
    # A district filter stays inside the reach; course, group and status filters are about
    # the centre's own applications, whatever the reach.
    assert await reached(Audience(centres=(a.centre_id,), district_id=a.district_ids[1])) == [3]
    assert await reached(Audience(centres=(a.centre_id,), status="pending")) == [1]
    assert await reached(Audience(centres=(a.centre_id,), locale="en")) == [1, 2, 3]
    # The wizard's district picker offers the districts the widened reach adds.
    from handlers.broadcast.views import wider_districts

    assert [d.key for d in await wider_districts(repo, mine, set())] == [a.district_ids[1]]

    assert await repo.broadcasts.set_reach(ADMIN_ID, a.centre_id, "everyone") == "region"
    assert await reached(mine) == [1, 2, 3, 4, 5]
    assert {d.key for d in await wider_districts(repo, mine, set())} == {
        a.district_ids[1],
        c.district_ids[0],
    }
    assert await reached(Audience(centres=(a.centre_id,), course_id=a.course_id)) == [1]
    # An author of several centres reaches the union of what each centre allows.
    assert await repo.broadcasts.set_reach(ADMIN_ID, a.centre_id, "region") == "everyone"
    assert await reached(Audience(centres=(a.centre_id, c.centre_id))) == [1, 2, 3, 4]
    assert await repo.broadcasts.reaches() == {a.centre_id: "region"}

    # Narrowed back: the row goes, and the same stored audience reaches A's applicants.
    assert await repo.broadcasts.set_reach(ADMIN_ID, a.centre_id, "applicants") == "region"
    assert await reached(mine) == [1]
    assert await repo.broadcasts.set_reach(ADMIN_ID, a.centre_id, "applicants") == "applicants"
    assert await repo.broadcasts.set_reach(ADMIN_ID, 999_999, "region") is None
    async with db.transaction() as s:
        assert list(await s.scalars(select(CentreReach.centre_id))) == []
        audit = (
            await s.execute(
                select(AuditLog.before, AuditLog.after, AuditLog.centre_id)
                .where(AuditLog.action == "centre.reach")
                .order_by(AuditLog.id)
            )
        ).all()
    assert [(b["reach"], x["reach"], cid) for b, x, cid in audit] == [
        ("applicants", "region", a.centre_id),
        ("region", "everyone", a.centre_id),
        ("everyone", "region", a.centre_id),
        ("region", "applicants", a.centre_id),
    ]
    # A programme admin's audience (no centres limit) is not touched by any reach.
    assert await reached(Audience()) == [1, 2, 3, 4, 5]


async def test_admin_widens_from_buttons_and_the_fire_applies_it_again(
    timed: BotHarness, clock: ManualClock
) -> None:
    """End to end: the admin widens centre A from Team → 📣; A's manager sees the wider
    count in the wizard and schedules an announcement; the admin narrows the reach again
    before it is due; when it fires, only A's applicant gets it. The manager cannot change
    the reach, even by a forged button."""
    h = timed
    centres = await h.repo.catalogue.centres()
    a = centres[0]
    other = next(c for c in centres if c.region_id != a.region_id)
    course_a = (await h.repo.catalogue.courses(a.id))[0]
    course_o = (await h.repo.catalogue.courses(other.id))[0]
    district_a = (await h.repo.catalogue.districts(a.region_id))[0]
    people = await citizens(h, [7301, 7302, 7303], "ru")
    await _apply(h.app.db, 7301, course_a.id, None)
    await _apply(h.app.db, 7302, course_o.id, district_a.id)  # lives in A's region
    manager = h.user(7300, first_name="Alma", language_code="en")
    manager.send_command("start")
    await manager.wait_reply()
    await h.repo.users.set_locale(manager.id, "en")
    await h.repo.staff.grant(ADMIN_ID, manager.id, a.id, "manager")

    admin = Chat(h, h.admin("en"), "en")
    admin.user.send_command("admin")
    await admin.expect(admin.label("staff-section-team"), button=True)
    await admin.press_key("staff-section-team")
    await admin.expect(admin.label("centres-btn-reach"), button=True)
    await admin.press_key("centres-btn-reach")
    from handlers.staff.scope import centre_label

    en = h.app.translator.bind("en")
    await admin.expect(centre_label(en, a), button=True)
    await admin.press(centre_label(en, a))
    await admin.expect("✅ " + admin.label("centres-reach-btn-applicants"), button=True)
    await admin.press_key("centres-reach-btn-region")
    await admin.expect("✅ " + admin.label("centres-reach-btn-region"), button=True)
    assert await h.repo.broadcasts.reaches() == {a.id: "region"}

    alma = Chat(h, manager, "en")
    await compose(alma, "Open day at the lyceum on Saturday")
    screen = manager.bot_messages()[-1]
    assert alma.label("broadcast-btn-continue", count=2) in screen.buttons()
    region = await h.repo.catalogue.region(a.region_id)
    assert en.pick(region.name) in screen.content  # the reach is said in the wizard
    await alma.press_key("broadcast-audience-all")
    confirm = await alma.expect(alma.label("broadcast-send-now"), button=True)
    assert "Recipients: 2 (" in confirm.content
    await alma.press_key("broadcast-btn-schedule")
    await alma.press(alma.label("broadcast-pick-tomorrow", time="18:00"))
    await alma.expect(alma.label("broadcast-btn-confirm-schedule"), button=True)
    await alma.press_key("broadcast-btn-confirm-schedule")
    await alma.expect(head(alma, "broadcast-scheduled-done", id=1))

    # The manager cannot change it: the team screen shows it, a forged button is refused.
    from handlers.staff.team_reach import ReachAction, ReachCB

    query = manager.press(
        ReachCB(action=ReachAction.set, centre=a.id, value="e").pack(), screen.message_id
    )
    answer = await manager.wait_callback_answer(query["id"])
    assert answer.text == alma.label("centres-reach-admin-only") and answer.show_alert
    assert await h.repo.broadcasts.reaches() == {a.id: "region"}

    # Narrowed before it is due: the fire counts again, with the setting of the moment.
    await admin.press_key("centres-reach-btn-applicants")
    await admin.expect("✅ " + admin.label("centres-reach-btn-applicants"), button=True)
    assert h.process is not None
    clock.advance(timedelta(days=2))
    await h.process.time_moved()
    assert (await people[0].wait_reply(timeout=5)).content == "Open day at the lyceum on Saturday"
    await alma.expect(head(alma, "broadcast-report", id=1), timeout=10)
    assert [received(p, "Open day at the lyceum on Saturday") for p in people] == [1, 0, 0]
    counts = await h.repo.deliveries.counts(1)
    assert (counts.sent, counts.total) == (1, 1)
    audit = [a.action for a in await h.repo.audit.latest()]
    assert audit.count("centre.reach") == 2


async def test_a_centre_taken_away_drops_out_when_it_fires(harness: BotHarness) -> None:
    """A scheduled announcement of a centre's staff reaches, when it fires, only the
    centres its author still holds; none left, it is cancelled."""
    h = harness
    a, b = (await h.repo.catalogue.centres())[:2]
    people = await citizens(h, [7401, 7402], "ru")
    for person, centre in zip(people, (a, b), strict=True):
        course = (await h.repo.catalogue.courses(centre.id))[0]
        await _apply(h.app.db, person.id, course.id, None)
    author = 7400
    await make_users(h.app.db, [author])
    for centre in (a, b):
        await h.repo.staff.grant(ADMIN_ID, author, centre.id, "staff")
    assert h.process is not None and h.process.broadcasts is not None
    service = h.process.broadcasts
    content = {"kind": "text", "text": "Exams on Monday", "entities": []}

    async def scheduled() -> int:
        broadcast = await h.repo.broadcasts.create(
            author_id=author,
            source_chat_id=author,
            source_message_id=1,
            audience=Audience(centres=(a.id, b.id)),
            scheduled_at=datetime(2026, 12, 1, tzinfo=UTC),
            now=datetime(2026, 11, 30, tzinfo=UTC),
            content=content,
        )
        return int(broadcast.id)

    first = await scheduled()
    await h.repo.staff.revoke(ADMIN_ID, author, a.id)
    await service.fire(first)
    assert (await h.repo.deliveries.counts(first)).total == 1
    assert (await people[1].wait_reply(timeout=5)).content == "Exams on Monday"
    assert received(people[0], "Exams on Monday") == 0

    second = await scheduled()
    await h.repo.staff.revoke(ADMIN_ID, author, b.id)  # their last centre
    await h.repo.staff.grant(ADMIN_ID, author, (await h.repo.catalogue.centres())[2].id, "staff")
    await service.fire(second)
    assert (await h.repo.broadcasts.get(second)).status == "cancelled"
    assert (await h.repo.deliveries.counts(second)).total == 0
