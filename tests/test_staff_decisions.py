"""Decisions end to end: the staff chat's Accept / Waitlist / Reject buttons, the reason,
two staff at once, the card under /admin, moving a trainee, capacity and promotions."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.contacts import contacts_block
from bot.i18n import pick_text
from bot.notify import group_schedule
from db.dto import CentreDTO
from db.models import AuditLog, Group
from sandbox.harness import ADMIN_ID, STAFF_CHAT_ID, BotHarness
from tests.e2e import Chat, plain
from tests.test_staff_support import (
    applicant,
    first_course,
    h,
    open_menu,
    press_in_group,
    refused_requests,
    staff_member,
    staff_message,
    title,
)

__all__ = ["h"]


def notice(
    h: BotHarness, locale: str, key: str, centre: CentreDTO | None = None, **params: object
) -> str:
    """A notice as the applicant reads it; a seat's notice ends with the centre's phone and
    hours (``centre``)."""
    text = h.app.translator.get(locale, key, **params)
    if centre is not None:
        text += "\n\n" + contacts_block(h.app.translator.bind(locale), centre, full=False)
    return plain(text)


async def audit_actions(h: BotHarness) -> list[str]:
    async with h.app.db.transaction() as s:
        return list(await s.scalars(select(AuditLog.action).order_by(AuditLog.id)))


async def test_staff_chat_accept_waitlist_reject(h: BotHarness) -> None:
    admin = h.admin("ru")
    course, _groups = await first_course(h)
    kk_user, kk_app = await applicant(h, 3001, "kk", course.id)
    ky_user, ky_app = await applicant(h, 3002, "ky", course.id)
    ru_user, ru_app = await applicant(h, 3003, "ru", course.id)
    ru = Chat(h, admin, "ru")

    post = staff_message(h, kk_app.id)
    assert post.buttons() == [
        ru.label("staff-btn-accept"),
        ru.label("staff-btn-waitlist"),
        ru.label("staff-btn-reject"),
    ]

    # Accept: the applicant is told in Kazakh; the post shows who decided.
    answer = await press_in_group(h, admin, post.message_id, ru.label("staff-btn-accept"))
    assert answer.text.startswith(ru.label("staff-done-accepted", id=kk_app.id))
    assert ru.label("staff-applicant-told") in answer.text
    accepted = await h.repo.applications.get(kk_app.id)
    assert accepted.status == "accepted" and accepted.group_id is not None
    group = await h.repo.catalogue.group(accepted.group_id)
    told = await kk_user.wait_reply()
    assert told.content == notice(
        h,
        "kk",
        "notice-accepted",
        await h.repo.catalogue.centre(course.centre_id),
        id=kk_app.id,
        course=title(course, "kk"),
        group=pick_text(group.name, "kk"),
        schedule=await group_schedule(h.app.translator.bind("kk"), h.repo, group.id),
    )
    post = staff_message(h, kk_app.id)
    assert "Admin @coordinator" in post.content
    assert ru.label("status-accepted") in post.content
    assert post.buttons() == [ru.label("staff-btn-reject")]

    # Waitlist: told in Kyrgyz with the place in line.
    post = staff_message(h, ky_app.id)
    await press_in_group(h, admin, post.message_id, ru.label("staff-btn-waitlist"))
    told = await ky_user.wait_reply()
    assert told.content == notice(
        h, "ky", "notice-waitlisted", id=ky_app.id, course=title(course, "ky"), position=1
    )

    # Reject: the reason is asked in the staff member's private chat.
    post = staff_message(h, ru_app.id)
    answer = await press_in_group(h, admin, post.message_id, ru.label("staff-btn-reject"))
    # Not a three-second toast: a message in the group says who is asked and where.
    assert not answer.text
    where = h.staff_group.last_bot_message()
    assert where.content.startswith(plain(ru.text("staff-reject-where", who="x", id=ru_app.id))[:3])
    assert f"№ {ru_app.id}" in where.content and "Admin" in where.content
    asked = await ru.expect(ru.text("staff-reject-ask", id=ru_app.id, name="x", course="y")[:20])
    assert ru.label("reject-btn-unreachable") in asked.buttons()
    assert (await h.repo.applications.get(ru_app.id)).status == "pending"
    ru.say("Курс только для жителей Тараза <и> области")
    await ru.expect(ru.text("staff-done-rejected", id=ru_app.id))
    told = await ru_user.wait_reply()
    assert told.content == notice(
        h,
        "ru",
        "notice-rejected",
        id=ru_app.id,
        course=title(course, "ru"),
        reason="Курс только для жителей Тараза <и> области",
    )
    post = staff_message(h, ru_app.id)
    assert "Курс только для жителей Тараза <и> области" in post.content
    assert post.buttons() == []

    # A preset reason: one tap, and the citizen reads it in their own language.
    ky2_user, ky2_app = await applicant(h, 3004, "ky", course.id)
    post = staff_message(h, ky2_app.id)
    await press_in_group(h, admin, post.message_id, ru.label("staff-btn-reject"))
    await ru.expect(ru.text("staff-reject-ask", id=ky2_app.id, name="x", course="y")[:20])
    await ru.press_key("reject-btn-unreachable")
    await ru.expect(ru.text("staff-done-rejected", id=ky2_app.id))
    told = await ky2_user.wait_reply()
    assert told.content == notice(
        h,
        "ky",
        "notice-rejected",
        id=ky2_app.id,
        course=title(course, "ky"),
        reason=h.app.translator.plain("ky", "reject-reason-unreachable"),
    )
    rejected = await h.repo.applications.get(ky2_app.id)
    assert (rejected.status, rejected.reason) == ("rejected", "preset:unreachable")
    # Staff read it in theirs.
    assert ru.label("reject-reason-unreachable") in staff_message(h, ky2_app.id).content

    assert await audit_actions(h) == [
        "application.accept",
        "application.waitlist",
        "application.reject",
        "application.reject",
    ]
    assert refused_requests(h) == []


async def test_two_staff_accept_one_application_at_once(h: BotHarness) -> None:
    admin = h.admin("ru")
    other = await staff_member(h, 3101, "en")
    course, _groups = await first_course(h)
    user, app = await applicant(h, 3102, "en", course.id)
    post = staff_message(h, app.id)
    data = post.callback_data(h.app.translator.plain("ru", "staff-btn-accept"))
    assert data is not None

    # Both press before the bot has handled either.
    first = admin.press(data, post.message_id, chat_id=STAFF_CHAT_ID)
    second = other.press(data, post.message_id, chat_id=STAFF_CHAT_ID)
    answers = [
        await admin.wait_callback_answer(first["id"]),
        await other.wait_callback_answer(second["id"]),
    ]
    alerts = [a for a in answers if a.show_alert]
    done = [a for a in answers if not a.show_alert]
    assert len(alerts) == 1 and len(done) == 1
    # The second is told what the first did, in their own language.
    winner = "Admin @coordinator" if done[0] is answers[0] else "Staff3101"
    assert winner in (alerts[0].text or "")

    async with h.app.db.transaction() as s:
        taken = sum(await s.scalars(select(Group.seats_taken).where(Group.course_id == course.id)))
        audits = await s.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "application.accept")
        )
    assert (taken, audits) == (1, 1)
    await user.wait_reply()
    assert len(user.bot_messages()) == 1  # told once

    # The old button pressed again later: told, nothing applied.
    again = other.press(data, post.message_id, chat_id=STAFF_CHAT_ID)
    answer = await other.wait_callback_answer(again["id"])
    assert answer.show_alert and f"{app.id}" in (answer.text or "")
    assert (await audit_actions(h)).count("application.accept") == 1
    assert refused_requests(h) == []


async def test_card_under_admin_accept_and_move(h: BotHarness) -> None:
    admin = h.admin("en")
    chat = Chat(h, admin, "en")
    course, groups = await first_course(h)
    user, app = await applicant(h, 3201, "en", course.id, group_id=groups[0].id)

    await open_menu(chat)
    await chat.press_key("staff-section-applications")
    await chat.press_key("staff-btn-show", count=1)
    await chat.expect(f"No. {app.id}")
    await chat.press_key("staff-btn-open", id=app.id)
    card = await chat.expect(chat.text("staff-btn-accept"), button=True)
    assert "+7701" in card.content and app.full_name in card.content
    await chat.press_key("staff-btn-accept")
    card = await chat.expect(chat.label("staff-btn-move"), button=True)
    assert chat.label("status-accepted") in card.content
    first_notice = await user.wait_reply()  # notice-accepted
    # The staff-chat post (in the default language) follows a decision made elsewhere.
    assert h.app.translator.plain("ru", "status-accepted") in staff_message(h, app.id).content

    await chat.press_key("staff-btn-move")
    target = groups[1]
    label = chat.label(
        "staff-group-seats",
        group=pick_text(target.name, "en"),
        taken=target.seats_taken,
        capacity=target.capacity,
    )
    await chat.expect(label, button=True)
    await chat.press(label)
    moved = await h.repo.applications.get(app.id)
    assert moved.group_id == target.id
    told = await user.wait_reply(after_message_id=first_notice.message_id)
    assert told.content == notice(
        h,
        "en",
        "notice-moved",
        await h.repo.catalogue.centre(course.centre_id),
        course=title(course, "en"),
        group=pick_text(target.name, "en"),
        id=app.id,
        schedule=await group_schedule(h.app.translator.bind("en"), h.repo, target.id),
    )
    assert "application.move" in await audit_actions(h)
    assert refused_requests(h) == []


async def test_capacity_raise_promotes_the_first_waitlisted(h: BotHarness) -> None:
    admin = h.admin("kk")
    chat = Chat(h, admin, "kk")
    course, groups = await first_course(h)
    for g in groups:
        await h.repo.applications.set_group_capacity(g.id, 1, actor_id=ADMIN_ID)
    for uid in (3301, 3302):
        _, app = await applicant(h, uid, "ru", course.id, post=False)
        await h.repo.applications.decide(app.id, actor_id=ADMIN_ID, action="accept")
    waiting_user, waiting = await applicant(h, 3303, "ky", course.id)
    assert waiting.status == "waitlisted"
    _, second_waiting = await applicant(h, 3304, "ru", course.id, post=False)

    await open_menu(chat)
    await chat.press_key("staff-section-courses")
    await chat.press(f"🟢 {title(course, 'kk')}")
    await chat.expect(chat.label("staff-btn-add-group"), button=True)
    group = groups[0]
    await chat.press(
        chat.label("staff-group-seats", group=pick_text(group.name, "kk"), taken=1, capacity=1)
    )
    await chat.expect(chat.label("staff-btn-capacity"), button=True)
    query = admin.press_button("+1")
    answer = await admin.wait_callback_answer(query["id"])
    assert chat.label("staff-capacity-done", before=1, capacity=2) in (answer.text or "")

    promoted = await h.repo.applications.get(waiting.id)
    assert (promoted.status, promoted.group_id) == ("accepted", group.id)
    told = await waiting_user.wait_reply()
    assert told.content == notice(
        h,
        "ky",
        "notice-promoted",
        await h.repo.catalogue.centre(course.centre_id),
        id=waiting.id,
        course=title(course, "ky"),
        group=pick_text(group.name, "ky"),
        schedule=await group_schedule(h.app.translator.bind("ky"), h.repo, group.id),
    )
    # The next in line moved up; the staff-chat post of the promoted one was redrawn.
    assert await h.repo.applications.waitlist_position(second_waiting.id) == 1
    assert h.app.translator.plain("ru", "status-accepted") in staff_message(h, waiting.id).content

    # Closing enrolment from the course card.
    await chat.press(chat.label("btn-back"))
    await chat.press_key("staff-btn-close-enrolment")
    assert not (await h.repo.catalogue.course(course.id)).enrolment_open
    actions = await audit_actions(h)
    assert actions.count("group.capacity") == 3 and "application.promote" in actions
    assert actions[-1] == "course.enrolment"
    assert refused_requests(h) == []


async def test_typed_capacity_and_new_group(h: BotHarness) -> None:
    admin = h.admin("en")
    chat = Chat(h, admin, "en")
    course, _groups = await first_course(h)
    await open_menu(chat)
    await chat.press_key("staff-section-courses")
    await chat.press(f"🟢 {title(course, 'en')}")
    await chat.press_key("staff-btn-add-group")
    await chat.expect(chat.text("staff-group-ask-name", course=title(course, "en"))[:10])
    chat.say("Weekend group")
    await chat.expect(chat.text("staff-group-ask-capacity", group="Weekend group", max=1000))
    for bad in ("many", "²", "0"):  # "²" passes str.isdigit() but is no number
        chat.say(bad)
        await chat.expect_key("staff-capacity-invalid", max=1000)
    chat.say("12")
    await chat.expect(chat.text("staff-group-added", group="Weekend group", capacity=12))
    added = [g for g in await h.repo.catalogue.groups(course.id) if g.name["ru"] == "Weekend group"]
    assert len(added) == 1 and added[0].capacity == 12

    await chat.press_key("staff-btn-capacity")
    await chat.expect(chat.text("staff-capacity-ask", group="Weekend group", taken=0, max=1000))
    # Bad numbers are refused with the rule and change nothing; the form stays open.
    for bad in ("²", "0", "1001", "-3"):
        chat.say(bad)
        await chat.expect_key("staff-capacity-invalid", max=1000)
        assert (await h.repo.catalogue.group(added[0].id)).capacity == 12
    assert await h.app.storage.get_state(_key(h, admin.id)) == "StaffForm:capacity"
    chat.say("20")
    await chat.expect(chat.text("staff-capacity-done", before=12, capacity=20))
    assert (await h.repo.catalogue.group(added[0].id)).capacity == 20
    assert await h.app.storage.get_state(_key(h, admin.id)) is None
    assert refused_requests(h) == []


def _key(h: BotHarness, user_id: int):  # type: ignore[no-untyped-def]
    from aiogram.fsm.storage.base import StorageKey

    return StorageKey(bot_id=h.server.sim.bot_id, chat_id=user_id, user_id=user_id)


async def test_concurrent_decisions_from_many_staff(h: BotHarness) -> None:
    """Ten staff press Accept on twelve applications for ten seats at once: nobody is
    overbooked, every application is decided once."""
    course, _groups = await first_course(h)
    staff = [await staff_member(h, 3400 + i) for i in range(10)]
    apps = [(await applicant(h, 3500 + i, "en", course.id))[1] for i in range(12)]
    label = h.app.translator.plain("ru", "staff-btn-accept")
    queries = []
    for i, app in enumerate(apps):
        post = staff_message(h, app.id)
        data = post.callback_data(label)
        assert data is not None
        for member in (staff[i % 10], staff[(i + 1) % 10]):
            queries.append((member, member.press(data, post.message_id, chat_id=STAFF_CHAT_ID)))
    await asyncio.gather(*(m.wait_callback_answer(q["id"]) for m, q in queries))
    statuses = [(await h.repo.applications.get(a.id)).status for a in apps]
    assert statuses.count("accepted") == 10 and statuses.count("pending") == 2
    async with h.app.db.transaction() as s:
        taken = list(await s.scalars(select(Group.seats_taken).where(Group.course_id == course.id)))
    assert taken == [5, 5]
    assert (await audit_actions(h)).count("application.accept") == 10
    assert refused_requests(h) == []
