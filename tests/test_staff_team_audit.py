"""The team (admins add and remove staff by user id, @username or a forwarded message) and
the audit log staff read; the staff menu shows only what a role may open."""

from __future__ import annotations

from bot.i18n import pick_text
from bot.roles import role_of
from bot.staff_callbacks import TeamAction, TeamCB
from bot.staff_menu import SECTIONS
from db.repo.staff import StaffRepo
from handlers.staff.scope import centre_label
from sandbox.harness import ADMIN_ID, BotHarness
from tests.e2e import Chat
from tests.test_staff_support import (
    applicant,
    first_course,
    h,
    open_menu,
    refused_requests,
    staff_member,
)

__all__ = ["h"]


async def started(h: BotHarness, user_id: int, locale: str, username: str | None = None) -> Chat:
    user = h.user(user_id, first_name=f"Cand{user_id}", language_code=locale, username=username)
    chat = Chat(h, user, locale)
    user.send_command("start")
    await user.wait_reply()
    await h.repo.users.set_locale(user_id, locale)
    return chat


async def test_menu_shows_what_the_role_may_open(h: BotHarness) -> None:
    admin = Chat(h, h.admin("en"), "en")
    menu = await open_menu(admin)
    known = h.app.translator.catalogs["en"].messages
    shown = [s for s in SECTIONS if s.label_key in known]
    assert menu.buttons() == [admin.label(s.label_key) for s in shown]
    # Sections of features not merged yet have no label, so no dead button.
    assert all(s.label_key in known for s in SECTIONS if s.label_key.startswith("staff-"))

    member = Chat(h, await staff_member(h, 7001, "kk"), "kk")
    member.say(member.label("menu-staff"))  # the reply-keyboard button's text
    menu = await member.expect(member.text("staff-menu", role="x", pending=0, waitlisted=0)[:8])
    assert member.label("staff-section-team") not in menu.buttons()
    assert member.label("staff-section-audit") in menu.buttons()
    # A staff member cannot reach team management by a forged button either.
    query = member.user.press(TeamCB(action=TeamAction.add_admin).pack(), menu.message_id)
    answer = await member.user.wait_callback_answer(query["id"])
    assert answer.text == member.label("error-stale-button")
    assert refused_requests(h) == []


async def add_staff_to_first_centre(h: BotHarness, chat: Chat) -> str:
    """Team → Add a staff member → the first centre → centre staff; returns its name."""
    centre = (await h.repo.catalogue.centres())[0]
    await chat.press_key("team-btn-add-staff")
    await chat.expect_key("centres-pick-centre")
    await chat.press(centre_label(h.app.translator.bind(chat.locale), centre))
    await chat.press_key("centres-btn-as-staff")
    name = pick_text(centre.name, chat.locale)
    role = chat.label("staff-role-staff")
    await chat.expect(chat.text("centres-team-ask", role=role, centre=name)[:10])
    return name


async def test_add_and_remove_staff(h: BotHarness) -> None:
    admin = Chat(h, h.admin("ru"), "ru")
    by_id = await started(h, 7101, "kk")
    by_name = await started(h, 7102, "ky", username="Aida_K")
    by_forward = await started(h, 7103, "en")
    hidden = h.user(7104, first_name="Hidden", language_code="en")
    staff_role = admin.label("staff-role-staff")

    await open_menu(admin)
    await admin.press_key("staff-section-team")
    centre = await add_staff_to_first_centre(h, admin)
    admin.say("olga")  # a name, neither an id nor an @username: say what to send
    await admin.expect_key("team-ask-again")
    admin.say("aida_k")  # a username needs its @
    await admin.expect_key("team-ask-again")
    admin.say("7101²")  # digits str.isdigit() takes but int() refuses: asked again
    await admin.expect_key("team-ask-again")
    admin.say("123456")  # nobody with that id has started the bot
    await admin.expect_key("team-not-started")
    admin.say(str(by_id.user.id))
    await admin.expect(
        admin.text("centres-granted", who=f"Cand{by_id.user.id}", role=staff_role, centre=centre)
    )
    first = (await h.repo.catalogue.centres())[0]
    notice = await by_id.expect(
        by_id.text(
            "centres-notice-granted",
            role=by_id.label("staff-role-staff"),
            centre=pick_text(first.name, "kk"),
        )
    )
    assert by_id.label("menu-staff") in by_id.user.reply_keyboard_buttons()
    assert notice.content

    await add_staff_to_first_centre(h, admin)
    admin.say("@aida_k")
    # A username can change hands: the bot shows who it is now and asks first.
    await admin.expect_key(
        "team-confirm-person", who="Cand7102 @aida_k", id=7102, role=f"{staff_role} · {centre}"
    )
    assert await h.repo.staff.role_of(7102) is None
    await admin.press_key("team-btn-confirm-add")
    await admin.expect(
        admin.text("centres-granted", who="Cand7102 @aida_k", role=staff_role, centre=centre)
    )
    await by_name.expect(by_name.text("centres-notice-granted", role="x", centre="x")[:2])
    assert [g.centre_id for g in await h.repo.staff.grants_of(7102)] == [first.id]

    await admin.press_key("team-btn-add-admin")
    admin.user.forward_from(hidden, hidden=True)
    await admin.expect_key("team-hidden-forward")
    admin.user.forward_from(by_forward.user)
    await admin.expect(
        admin.text("team-added", who="Cand7103", role=admin.label("staff-role-admin"))
    )
    await by_forward.expect_key("team-notice-admin")

    repo: StaffRepo = h.repo.staff
    roles = {m.user_id: m.role for m in await repo.list()}
    assert roles[7101] == "staff" and roles[7102] == "staff" and roles[7103] == "admin"

    # The new admin can open team management; then the first one is made admin and removed.
    new_admin = by_forward
    await open_menu(new_admin)
    await new_admin.press_key("staff-section-team")
    await new_admin.press(f"Cand7101 · {new_admin.label('staff-role-staff')}")
    await new_admin.press_key("team-btn-make-admin")
    assert await repo.role_of(7101) == "admin"
    await new_admin.press_key("team-btn-remove")
    await new_admin.press_key("team-btn-remove-yes")
    assert await repo.role_of(7101) is None
    await by_id.expect_key("team-notice-removed")
    assert by_id.label("menu-staff") not in by_id.user.reply_keyboard_buttons()
    # Removed: /admin no longer exists for them.
    by_id.user.send_command("admin")
    await by_id.expect_key("fallback-unknown")
    # ADMIN_IDS admins cannot be changed from the bot.
    menu = new_admin.user.last_bot_message()
    query = new_admin.user.press(
        TeamCB(action=TeamAction.remove_yes, id=ADMIN_ID).pack(), menu.message_id
    )
    answer = await new_admin.user.wait_callback_answer(query["id"])
    assert answer.text == new_admin.label("team-fixed-admin")
    assert h.settings is not None
    assert await role_of(h.repo, h.settings, ADMIN_ID) == "admin"
    assert refused_requests(h) == []


async def test_audit_log_lists_who_did_what(h: BotHarness) -> None:
    admin = Chat(h, h.admin("kk"), "kk")
    course, groups = await first_course(h)
    apps = [(await applicant(h, 7200 + i, "ru", course.id, post=False))[1] for i in range(12)]
    for app in apps[:11]:
        await h.repo.applications.decide(app.id, actor_id=ADMIN_ID, action="waitlist")
    await h.repo.applications.decide(
        apps[11].id, actor_id=ADMIN_ID, action="reject", reason="Қате нөмір"
    )
    await h.repo.applications.set_group_capacity(groups[0].id, 7, actor_id=ADMIN_ID)
    await h.repo.courses.set_enrolment(course.id, False, actor_id=ADMIN_ID)

    await open_menu(admin)
    await admin.press_key("staff-section-audit")
    page = await admin.expect(admin.text("audit-header", page=1))
    content = page.content
    # Enrolment reads in its own words (open → closed), not the reminders' on/off.
    opened, closed = admin.label("staff-enrolment-open"), admin.label("staff-enrolment-closed")
    assert f"{admin.label('audit-field-enrolment')}: {opened} → {closed}" in content
    assert admin.label("state-on") not in content
    # Newest first: the capacity change, then the rejection with its reason.
    assert content.index(admin.label("audit-action-capacity")) < content.index(
        admin.label("audit-action-reject")
    )
    assert "Admin @coordinator" in content
    assert f"{admin.label('audit-field-capacity')}: 5 → 7" in content
    assert "Қате нөмір" in content
    assert f"{admin.label('status-pending')} → {admin.label('status-rejected')}" in content
    assert len(content) <= 4096
    await admin.press_key("audit-btn-older")
    older = await admin.expect(admin.text("audit-header", page=2))
    assert admin.label("audit-action-waitlist") in older.content
    await admin.press_key("audit-btn-newer")
    await admin.expect(admin.text("audit-header", page=1))
    assert refused_requests(h) == []


async def test_an_admin_cannot_change_their_own_role_through_the_add_form(h: BotHarness) -> None:
    """An admin from the staff table typing their own id would have demoted themselves."""
    own = await started(h, 7301, "ky")
    await h.repo.staff.set_role(ADMIN_ID, 7301, "admin")
    await open_menu(own)
    await own.press_key("staff-section-team")
    centre = await add_staff_to_first_centre(h, own)
    own.say("7301")
    await own.expect_key("team-not-yourself")
    assert await h.repo.staff.role_of(7301) == "admin"
    other = await started(h, 7302, "kk")
    own.say("7302")  # the form is still open
    await own.expect(
        own.text(
            "centres-granted", who="Cand7302", role=own.label("staff-role-staff"), centre=centre
        )
    )
    assert await h.repo.staff.role_of(7302) == "staff"
    await other.expect(other.text("centres-notice-granted", role="x", centre="x")[:2])
    assert refused_requests(h) == []


async def test_audit_log_reads_every_kind_of_entry_in_the_readers_language(
    h: BotHarness,
) -> None:
    """Announcements, attendance, imports and exports read as words, not codes."""
    course, groups = await first_course(h)
    await started(h, 7401, "ru")  # the trainee whose attendance is marked
    district = (await h.repo.catalogue.all_districts())[0]
    audience = {"course_id": course.id}
    at = "2026-11-25T04:00:00+00:00"
    add = h.repo.audit.add
    await add(ADMIN_ID, "broadcast.create", "broadcast", 3, None, {"audience": audience})
    await add(ADMIN_ID, "broadcast.create", "broadcast", 4, None, {"scheduled_at": at})
    await add(ADMIN_ID, "broadcast.stop", "broadcast", 4, {"status": "sending"}, {"skipped": 9})
    await add(ADMIN_ID, "broadcast.cancel", "broadcast", 3, {"status": "scheduled"}, {})
    await add(ADMIN_ID, "broadcast.export", "broadcast", 4, None, {"rows": 2})
    session = (await h.repo.catalogue.sessions([groups[0].id]))[0]
    await add(
        ADMIN_ID,
        "attendance.mark",
        "session",
        session.id,
        {"user_id": 7401, "present": None},
        {"user_id": 7401, "present": True},
    )
    await add(
        ADMIN_ID,
        "catalog.import",
        "catalog",
        "term.yaml",
        None,
        {"sessions": {"created": 3, "updated": 1}},
    )
    await add(
        ADMIN_ID,
        "export.applications",
        "export",
        "csv",
        None,
        {"rows": 5, "course_id": course.id, "district_id": district.id, "status": "accepted"},
    )

    admin = Chat(h, h.admin("ru"), "ru")
    await open_menu(admin)
    await admin.press_key("staff-section-audit")
    content = (await admin.expect(admin.text("audit-header", page=1))).content
    label = admin.label
    # Times in the reader's local time, the zone named by a centre's city (not UTC).
    from datetime import UTC, datetime

    from handlers.staff.audit import fmt_local, staff_zone

    zone = await staff_zone(h.app.translator.bind("ru"), h.repo)
    assert zone[0] != "UTC" and "/" not in zone[1]
    scheduled = fmt_local(datetime(2026, 11, 25, 4, 0, tzinfo=UTC), zone)
    assert " UTC" not in content and f"({zone[1]})" in content
    expected = [
        f"{label('audit-action-broadcast-create')}: {label('audit-number', id=3)}",
        f"{label('audit-field-audience')}: "
        + label("broadcast-filter-course", value=pick_text(course.title, "ru")),
        f"{label('audit-field-scheduled')}: {scheduled}",
        f"{label('audit-action-broadcast-stop')}: {label('audit-number', id=4)}",
        f"{label('audit-field-status')}: {label('audit-broadcast-sending')} → —",
        f"{label('audit-field-skipped')}: 9",
        f"{label('audit-field-status')}: {label('audit-broadcast-scheduled')} → —",
        label("audit-action-broadcast-cancel"),
        label("audit-action-broadcast-export"),
        label("audit-action-attendance"),
        f"{label('audit-field-present')}: — → {label('audit-yes')}",
        f"{label('audit-field-person')}: Cand7401",
        f"{label('schedule-kind-sessions')}: {label('audit-import-counts', created=3, updated=1)}",
        f"{label('audit-field-course')}: {pick_text(course.title, 'ru')}",
        f"{label('audit-field-district')}: {pick_text(district.name, 'ru')}",
        f"{label('audit-field-status')}: {label('status-accepted')}",
    ]
    for part in expected:
        assert part in content, part
    for code in ("broadcast.", "attendance.", "user_id", "present", "sending", "audience"):
        assert code not in content, code
    assert refused_requests(h) == []
