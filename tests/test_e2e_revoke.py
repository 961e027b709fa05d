"""Removing someone removes their reach; an announcement sends what its preview showed.

Real bot, real polling, the fake Bot API, a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.clock import ManualClock
from sandbox.harness import ADMIN_ID, BotHarness
from sandbox.telegram import FakeUser
from tests.e2e import Chat
from tests.test_broadcast_wizard import citizens, head
from tests.test_staff_support import applicant, first_course, open_menu, staff_member

T0 = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
BOLD = {"type": "bold", "offset": 0, "length": 7}


@pytest.fixture
async def h(tmp_path: Path, template_db: Path) -> AsyncIterator[BotHarness]:
    async with BotHarness(tmp_path, template=template_db, clock=ManualClock(T0)) as harness:
        yield harness


async def later(h: BotHarness, days: int) -> None:
    assert isinstance(h.clock, ManualClock) and h.process is not None
    h.clock.advance(timedelta(days=days))
    await h.process.time_moved()


async def schedule_tomorrow(h: BotHarness, chat: Chat, text: str) -> dict[str, object]:
    """Compose ``text`` (its first 7 characters bold), preview it, schedule it for
    tomorrow 18:00; returns the author's own message."""
    chat.user.send_command("broadcast")
    await chat.expect(head(chat, "broadcast-ask-message"))
    own = h.server.sim.user_message(chat.user, None, kind="text", text=text, entities=(BOLD,))
    await chat.expect(chat.label("broadcast-audience-all"), button=True)
    await chat.press_key("broadcast-audience-all")
    preview = await chat.expect(text)
    assert preview.raw.get("entities") == [BOLD]  # the preview is the frozen content
    await chat.press_key("broadcast-btn-schedule")
    await chat.press(chat.label("broadcast-pick-tomorrow", time="18:00"))
    await chat.expect(chat.label("broadcast-btn-confirm-schedule"), button=True)
    await chat.press_key("broadcast-btn-confirm-schedule")
    await chat.expect(head(chat, "broadcast-scheduled-done"))
    return own


async def test_what_goes_out_is_what_the_preview_showed(h: BotHarness) -> None:
    [aida] = await citizens(h, [7801], "en")
    admin = Chat(h, h.admin("en"), "en")
    own = await schedule_tomorrow(h, admin, "Classes start on Monday, room 204.")
    # Telegram lets the author edit their message afterwards: nothing sent changes.
    admin.user.edit_text(int(str(own["message_id"])), "Send 5000 tenge to +77010000000")
    await later(h, 2)
    got = await aida.wait_reply(timeout=5)
    assert got.content == "Classes start on Monday, room 204."
    assert got.raw.get("entities") == [BOLD]
    assert h.server.requests_for("copyMessage") == []  # new messages, not copies

    # A photo with a caption: the file id and the caption, frozen the same way.
    admin.user.send_command("broadcast")
    await admin.expect(head(admin, "broadcast-ask-message"))
    photo = admin.user.send_photo(caption="Our new lab")
    await admin.expect(admin.label("broadcast-audience-all"), button=True)
    await admin.press_key("broadcast-audience-all")
    admin.user.edit_text(int(photo["message_id"]), "Changed caption")
    await admin.press_key("broadcast-send-now")
    sent = await h.server.wait_for(
        lambda r: r.method == "sendPhoto" and r.ok and int(r.params["chat_id"]) == aida.id
    )
    assert sent.params["photo"] == photo["photo"][-1]["file_id"]
    assert sent.result["caption"] == "Our new lab"


async def test_removing_a_member_revokes_their_reach(h: BotHarness) -> None:
    # An applicant: centre staff announce to the people who applied to their centres.
    aida, _ = await applicant(h, 7811, "en", (await first_course(h))[0].id, post=False)
    admin = Chat(h, h.admin("en"), "en")
    olga = Chat(h, await staff_member(h, 7812, "en"), "en")
    await schedule_tomorrow(h, olga, "Olga's announcement for everyone.")
    olga.user.send_command("broadcast")  # a form left open: a second announcement
    await olga.expect(head(olga, "broadcast-ask-message"))
    own_form = StorageKey(bot_id=h.server.sim.bot_id, chat_id=7812, user_id=7812)
    assert await h.app.storage.get_state(own_form) is not None

    await open_menu(admin)
    await admin.press_key("staff-section-team")
    await admin.press(f"Staff7812 · {admin.label('staff-role-staff')}")
    await admin.press_key("team-btn-remove")
    await admin.press_key("team-btn-remove-yes")
    report = await admin.expect(admin.text("team-removed-done", who="Staff7812"))
    assert admin.text("team-revoked-broadcasts", ids="№ 1") in report.content
    assert admin.text("team-revoked-chat") in report.content

    assert (await h.repo.broadcasts.get(1)).status == "cancelled"
    assert h.staff_group.member_status(7812) == "left"  # out of the chat, new cards unseen
    assert await h.app.storage.get_state(own_form) is None
    await later(h, 2)
    assert [m for m in aida.bot_messages() if "Olga" in m.content] == []

    # Where the bot is not an administrator of the staff chat, the admin is told plainly.
    h.staff_group.set_bot_status("member")
    bek = await staff_member(h, 7813, "en")
    await open_menu(admin)
    await admin.press_key("staff-section-team")
    await admin.press(f"Staff7813 · {admin.label('staff-role-staff')}")
    await admin.press_key("team-btn-remove")
    await admin.press_key("team-btn-remove-yes")
    report = await admin.expect(admin.text("team-removed-done", who="Staff7813"))
    assert admin.text("team-revoked-chat-failed") in report.content
    assert h.staff_group.member_status(bek.id) == "member"


async def test_a_broadcast_whose_author_lost_the_role_does_not_fire(h: BotHarness) -> None:
    aida, _ = await applicant(h, 7821, "en", (await first_course(h))[0].id, post=False)
    olga: FakeUser = await staff_member(h, 7822, "en")
    await schedule_tomorrow(h, Chat(h, olga, "en"), "Scheduled by a member who leaves.")
    # The role goes without the team screen (as ADMIN_IDS demotion does at start-up).
    await h.repo.staff.remove(ADMIN_ID, olga.id)
    await later(h, 2)
    assert (await h.repo.broadcasts.get(1)).status == "cancelled"
    assert aida.bot_messages() == []


async def test_an_admin_dropped_from_admin_ids_loses_their_reach_at_start_up(
    tmp_path: Path, template_db: Path
) -> None:
    """ADMIN_IDS is the bootstrap list: an admin it no longer names loses the role at the
    next start, and with it everything the role reached, as with the team screen."""
    former = 7831
    env = {"ADMIN_IDS": f"{ADMIN_ID},{former}"}
    clock = ManualClock(T0)
    async with BotHarness(tmp_path, template=template_db, clock=clock, env=env) as h:
        aida, _ = await applicant(h, 7832, "en", (await first_course(h))[0].id, post=False)
        user = h.user(former, first_name="Former", language_code="en")
        h.staff_group.add_member(user)
        user.send_command("start")  # a listed admin's first /start makes their staff row
        await user.wait_reply(timeout=5)
        await schedule_tomorrow(h, Chat(h, user, "en"), "Scheduled by a former admin.")
        chat = Chat(h, user, "en")
        user.send_command("broadcast")  # a form left open
        await chat.expect(head(chat, "broadcast-ask-message"))
        own_form = StorageKey(bot_id=h.server.sim.bot_id, chat_id=former, user_id=former)
        assert await h.app.storage.get_state(own_form) is not None

        h.extra_env["ADMIN_IDS"] = str(ADMIN_ID)
        await h.restart()
        assert await h.repo.staff.role_of(former) is None
        assert (await h.repo.broadcasts.get(1)).status == "cancelled"
        assert h.staff_group.member_status(former) == "left"
        assert await h.app.storage.get_state(own_form) is None
        await later(h, 2)
        assert aida.bot_messages() == []
        # A second start has nobody left to demote and touches no chat.
        bans = len(h.server.requests_for("banChatMember"))
        await h.restart()
        assert len(h.server.requests_for("banChatMember")) == bans
