"""Shared pieces of the staff workspace tests (no tests in here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.i18n import pick_text
from bot.notify import notify_staff_new_application
from db.dto import ApplicationDTO, CourseDTO, GroupDTO
from sandbox.harness import ADMIN_ID, STAFF_CHAT_ID, BotHarness
from sandbox.telegram import ChatMessage, FakeUser
from tests.e2e import Chat, plain

# The demo catalogue's classes start on 2026-12-07; the tests live just before that.
NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


@pytest.fixture
async def h(tmp_path: Path, template_db: Path) -> AsyncIterator[BotHarness]:
    async with BotHarness(tmp_path, template=template_db, clock=ManualClock(NOW)) as harness:
        yield harness


async def first_course(h: BotHarness) -> tuple[CourseDTO, list[GroupDTO]]:
    """The demo catalogue's first course (Taraz, two groups of five seats)."""
    centre = (await h.repo.catalogue.centres())[0]
    course = (await h.repo.catalogue.courses(centre.id))[0]
    return course, await h.repo.catalogue.groups(course.id)


async def applicant(
    h: BotHarness,
    user_id: int,
    locale: str,
    course_id: int,
    *,
    name: str | None = None,
    group_id: int | None = None,
    district_id: int | None = None,
    source: str | None = None,
    post: bool = True,
) -> tuple[FakeUser, ApplicationDTO]:
    """A person who has started the bot and applied; posted to the staff chat."""
    fake = h.user(user_id, first_name=f"P{user_id}", language_code=locale)
    await h.repo.users.upsert_seen(
        user_id, first_name=fake.first_name, username=None, language_code=locale
    )
    await h.repo.users.set_locale(user_id, locale)
    outcome = await h.repo.applications.submit(
        user_id=user_id,
        course_id=course_id,
        group_id=group_id,
        full_name=name or f"Серікова Аида {user_id}",
        phone=f"+7701{user_id % 10**7:07d}",
        district_id=district_id,
        consent_at=NOW,
        source=source,
    )
    if post:
        assert h.process is not None and h.process.bot is not None and h.settings is not None
        await notify_staff_new_application(
            h.process.bot, h.settings, h.app.translator, h.repo, outcome.application
        )
        await staff_card_sent(h, outcome.application.id)
    return fake, outcome.application


async def staff_card_sent(h: BotHarness, application_id: int) -> None:
    """Wait until the outbox has posted an application's card to a staff chat (its
    centre's, else the programme's STAFF_CHAT_ID)."""
    await h.server.wait_for(
        lambda r: (
            r.method == "sendMessage"
            and r.ok
            and int(r.params["chat_id"]) < 0
            and f"№ {application_id}" in str(r.params.get("text", ""))
        )
    )


async def staff_member(h: BotHarness, user_id: int, locale: str = "en") -> FakeUser:
    """A staff member (not an admin) who has started the bot and sits in the staff chat."""
    fake = h.user(user_id, first_name=f"Staff{user_id}", language_code=locale)
    await h.repo.users.upsert_seen(
        user_id, first_name=fake.first_name, username=None, language_code=locale
    )
    await h.repo.users.set_locale(user_id, locale)
    await h.repo.staff.set_role(ADMIN_ID, user_id, "staff")
    # Centre staff of every centre (as the migration made of the staff before centres).
    for centre in await h.repo.catalogue.centres():
        await h.repo.staff.grant(ADMIN_ID, user_id, centre.id, "staff")
    h.staff_group.add_member(fake)
    return fake


def staff_message(h: BotHarness, application_id: int) -> ChatMessage:
    """The staff-chat post of an application (not a reply about it)."""
    for message in reversed(h.staff_group.bot_messages()):
        if f"№ {application_id}" in message.content and message.reply_to_message_id is None:
            return message
    raise AssertionError(f"no staff-chat post of application {application_id}")


async def press_in_group(h: BotHarness, user: FakeUser, message_id: int, label: str) -> Any:
    query = user.press_button(label, chat_id=STAFF_CHAT_ID, message_id=message_id)
    return await user.wait_callback_answer(query["id"])


async def open_menu(chat: Chat) -> ChatMessage:
    chat.user.send_command("admin")
    return await chat.expect(chat.text("staff-menu", role="x", pending=0, waitlisted=0)[:8])


def title(course: CourseDTO, locale: str) -> str:
    return pick_text(course.title, locale)


def refused_requests(h: BotHarness) -> list[Any]:
    """Bot API calls the (strict) fake server refused: must stay empty."""
    return [r for r in h.server.requests if not r.ok and r.method != "getUpdates"]


__all__ = [
    "NOW",
    "applicant",
    "first_course",
    "h",
    "open_menu",
    "plain",
    "press_in_group",
    "refused_requests",
    "staff_member",
    "staff_message",
    "title",
]
