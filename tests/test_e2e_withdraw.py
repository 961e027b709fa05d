"""A citizen withdraws or erases their data: the confirmation fits the status, and the
staff-chat post follows (new status, no decision buttons; no personal data after erasure)."""

from __future__ import annotations

import logging

import pytest

from bot.i18n import pick_text
from bot.staff_callbacks import staff_message_key
from sandbox.harness import ADMIN_ID, STAFF_CHAT_ID, BotHarness
from sandbox.telegram import EventKind
from sandbox.telegram.models import Event
from tests.e2e import Chat, plain
from tests.test_staff_support import NOW, applicant, first_course, h, staff_message

__all__ = ["h"]


async def staff_edit(h: BotHarness, message_id: int, contains: str) -> str:
    sim = h.server.sim

    def matches(event: Event) -> bool:
        return (
            event.chat_id == STAFF_CHAT_ID
            and event.kind == EventKind.MESSAGE_EDITED
            and event.message is not None
            and event.message.message_id == message_id
            and contains in event.message.content
        )

    event = await sim.wait_event(matches, 5.0, past=sim.chat(STAFF_CHAT_ID).bot_events)
    assert event.message is not None
    return event.message.content


async def test_withdraw_confirmation_fits_the_status_and_staff_post_follows(
    h: BotHarness,
) -> None:
    courses = (await h.repo.catalogue.courses())[:3]
    user, pending = await applicant(h, 6401, "en", courses[0].id)
    apps = {"pending": pending}
    for course, action in ((courses[1], "waitlist"), (courses[2], "accept")):
        outcome = await h.repo.applications.submit(
            user_id=user.id,
            course_id=course.id,
            group_id=None,
            full_name="Aida 6401",
            phone="+77010006401",
            district_id=None,
            consent_at=NOW,
            source=None,
        )
        decided = await h.repo.applications.decide(
            outcome.application.id, actor_id=ADMIN_ID, action=action
        )
        apps[decided.application.status] = decided.application
    await h.repo.kv.set(staff_message_key(apps["waitlisted"].id), f"{STAFF_CHAT_ID}:999999")
    chat = Chat(h, user, "en")
    keys = {
        "pending": "my-withdraw-confirm",
        "waitlisted": "my-withdraw-confirm-waitlisted",
        "accepted": "my-withdraw-confirm-accepted",
    }
    for course, status in zip(courses, ("pending", "waitlisted", "accepted"), strict=True):
        title = pick_text(course.title, "en")
        user.send_command("my")
        await chat.expect(chat.label("my-withdraw-button", course=title), button=True)
        await chat.press_key("my-withdraw-button", course=title)
        question = await chat.expect(chat.text(keys[status], course=title))
        seat = "seat will go to the next person"
        assert (seat in question.content) == (status == "accepted")
        await chat.press_key("btn-no")

    # Withdrawing the pending one: its staff-chat post shows the status, no buttons.
    post = staff_message(h, pending.id)
    assert post.buttons()
    ru = h.app.translator.bind("ru")
    title = pick_text(courses[0].title, "en")
    user.send_command("my")
    await chat.expect(chat.label("my-withdraw-button", course=title), button=True)
    await chat.press_key("my-withdraw-button", course=title)
    await chat.expect(chat.label("my-withdraw-yes"), button=True)
    await chat.press_key("my-withdraw-yes")
    await chat.expect(chat.text("my-withdrawn", id=pending.id))
    content = await staff_edit(h, post.message_id, plain(ru("staff-app-withdrawn")))
    assert ru.plain("status-cancelled") in content
    assert staff_message(h, pending.id).buttons() == []

    # The waitlisted one's post is gone from the chat: the citizen is not disturbed, and
    # the log names no person.
    title = pick_text(courses[1].title, "en")
    user.send_command("my")
    await chat.expect(chat.label("my-withdraw-button", course=title), button=True)
    await chat.press_key("my-withdraw-button", course=title)
    await chat.expect(chat.label("my-withdraw-yes"), button=True)
    await chat.press_key("my-withdraw-yes")
    await chat.expect(chat.text("my-withdrawn", id=apps["waitlisted"].id))

    # An accepted trainee withdraws: the staff chat is told a seat was freed.
    accepted = apps["accepted"]
    group = await h.repo.catalogue.group(accepted.group_id)
    title = pick_text(courses[2].title, "en")
    user.send_command("my")
    await chat.expect(chat.label("my-withdraw-button", course=title), button=True)
    await chat.press_key("my-withdraw-button", course=title)
    await chat.expect(chat.label("my-withdraw-yes"), button=True)
    await chat.press_key("my-withdraw-yes")
    await chat.expect(chat.text("my-withdrawn", id=accepted.id))
    freed = plain(
        ru(
            "staff-seat-freed",
            id=accepted.id,
            course=pick_text(courses[2].title, "ru"),
            group=pick_text(group.name, "ru"),
        )
    )
    sim = h.server.sim
    await sim.wait_event(
        lambda e: (
            e.chat_id == STAFF_CHAT_ID
            and e.kind == EventKind.MESSAGE_SENT
            and e.message is not None
            and e.message.content == freed
        ),
        5.0,
        past=sim.chat(STAFF_CHAT_ID).bot_events,
    )
    assert all(a.status == "cancelled" for a in await h.repo.applications.for_user(user.id))


async def test_erasure_clears_the_staff_chat_post(
    h: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    course, _groups = await first_course(h)
    user, app = await applicant(h, 6501, "ru", course.id, name="Ерасова Дана")
    post = staff_message(h, app.id)
    assert "Ерасова Дана" in post.content and post.buttons()
    chat = Chat(h, user, "ru")
    chat.say(chat.label("menu-my-data"))
    await chat.expect(chat.label("my-erase-button"), button=True)
    await chat.press_key("my-erase-button")
    await chat.expect(chat.label("my-erase-yes"), button=True)
    await chat.press_key("my-erase-yes")
    await chat.expect(chat.text("my-erased-restart"))
    ru = h.app.translator.bind("ru")
    content = await staff_edit(h, post.message_id, plain(ru("staff-app-erased", id=app.id)))
    assert "Ерасова Дана" not in content and app.phone not in content
    assert staff_message(h, app.id).buttons() == []
    assert "Ерасова" not in caplog.text and app.phone not in caplog.text
