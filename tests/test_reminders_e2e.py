"""End to end: the real bot process (outbox, scheduler, reminders) against the fake Bot API
with a manual clock. A trainee gets the reminder in Kazakh, answers "I'll come", staff
see it and mark who came; the staff chat gets tomorrow's digest at 18:00."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import reminders
from bot.clock import ManualClock
from bot.formatting import fmt_datetime
from bot.i18n import pick_text
from bot.reminders.texts import Answer, ReminderCB
from db.models import Application, AuditLog
from handlers.attendance import AttAction, AttendanceCB, Mark
from handlers.staff.common import clip
from sandbox.harness import ADMIN_ID, BotHarness
from tests.e2e import Chat

T0 = datetime(2030, 3, 4, 6, 0, tzinfo=UTC)  # 11:00 in Taraz; the demo term is long over
H = timedelta(hours=1)
TRAINEE = 7001


@pytest.fixture
async def h(tmp_path: Path, template_db: Path) -> AsyncIterator[BotHarness]:
    async with BotHarness(tmp_path, template=template_db, clock=ManualClock(T0)) as harness:
        yield harness


def clock(h: BotHarness) -> ManualClock:
    assert isinstance(h.clock, ManualClock)
    return h.clock


async def moved(h: BotHarness, to: datetime) -> None:
    clock(h).set(to)
    assert h.process is not None
    await h.process.time_moved()


async def test_reminder_answer_attendance_and_digest(h: BotHarness) -> None:
    centre = (await h.repo.catalogue.centres())[0]
    course = (await h.repo.catalogue.courses(centre.id))[0]
    group = (await h.repo.catalogue.groups(course.id))[0]
    fake = h.user(TRAINEE, first_name="Aida", language_code="kk")
    await h.repo.users.upsert_seen(TRAINEE, first_name="Aida", username=None, language_code="kk")
    await h.repo.users.set_locale(TRAINEE, "kk")
    async with h.app.db.transaction() as s:
        s.add(
            Application(
                user_id=TRAINEE,
                course_id=course.id,
                group_id=group.id,
                full_name="Серікова Аида",
                phone="+77010000001",
                status="accepted",
                consent_at=T0,
            )
        )
    # Staff add a class a day and a minute ahead (the schedule handler's hook).
    starts = T0 + 24 * H + timedelta(minutes=1)
    session = await h.repo.schedule.add(group.id, starts, starts + 2 * H, "204", actor_id=ADMIN_ID)
    await reminders.session_changed(session.id)
    assert h.process is not None and h.process.scheduler is not None
    jobs = {j.id: j.run_at for j in h.process.scheduler.jobs()}
    assert jobs[f"reminder:{session.id}:1440"] == starts - 24 * H
    assert jobs[f"reminder:{session.id}:60"] == starts - H

    # A minute later the 24 h reminder arrives, in Kazakh, in the centre's time zone.
    chat = Chat(h, fake, "kk")
    await moved(h, T0 + timedelta(minutes=1))
    reminder = await chat.expect("Сабақ туралы еске салу")
    assert "24 сағаттан кейін басталады" in reminder.content
    assert fmt_datetime(starts, centre.timezone, "kk") in reminder.content
    assert pick_text(centre.address, "kk") in reminder.content and "204" in reminder.content
    assert reminder.buttons() == ["✅ Келемін", "❌ Келе алмаймын"]

    query = await chat.press("✅ Келемін")
    answer = fake.callback_answer(query)
    assert answer is not None and answer.text == "Рақмет! Сізді сабақта күтеміз."
    assert await h.repo.attendance.get(session.id, TRAINEE) == ("yes", None)
    await chat.expect("✓ ✅ Келемін", button=True)  # the answer is ticked
    query = await chat.press("❌ Келе алмаймын")  # changed their mind
    assert await h.repo.attendance.get(session.id, TRAINEE) == ("no", None)
    query = await chat.press("✅ Келемін")
    assert await h.repo.attendance.get(session.id, TRAINEE) == ("yes", None)

    # 18:00 in Taraz: the staff chat gets tomorrow's classes with the expected attendance.
    await moved(h, T0 + 7 * H)
    digest = h.staff_group.last_bot_message().content
    assert "Занятия на завтра" in digest and "✅ 1 · ❌ 0 · ❔ 0 (всего 1)" in digest

    # The bot was not ticking at the 1 h instant: that reminder comes late, before the class.
    await moved(h, starts - H / 2)
    late = await chat.expect("30 минуттан кейін басталады")
    assert late.buttons() == ["✓ ✅ Келемін", "❌ Келе алмаймын"]  # her answer, ticked

    # Staff open the attendance section: centre, group, class; the trainee said yes.
    admin = h.admin("ru")
    staff = Chat(h, admin, "ru")
    admin.send_command("admin")
    await staff.expect(staff.label("attendance-section"), button=True)
    await staff.press(staff.label("attendance-section"))
    await staff.expect(staff.text("attendance-choose-centre")[:12])
    await staff.press(clip(f"{pick_text(centre.city, 'ru')} · {pick_text(centre.name, 'ru')}", 64))
    await staff.press(f"{pick_text(course.title, 'ru')} · {pick_text(group.name, 'ru')}")
    when = fmt_datetime(starts, centre.timezone, "ru")
    await staff.press(f"{when} · 👍1 👎0 ❔0")
    roster = await staff.expect("Серікова Аида")
    # Not marked yet, answered "yes": two families of symbols, explained above the list.
    assert "⚪ Серікова Аида · 👍" in roster.content
    legend = staff.text("attendance-roster-legend")
    assert legend in roster.content.split("Серікова Аида")[0]
    assert all(icon in legend for icon in ("👍", "👎", "❔", "🟢", "🔴", "⚪"))
    # The class takes place; staff mark her present (audited).
    await moved(h, starts + H)
    await staff.press("⚪ Серікова Аида")
    roster = await staff.expect("🟢 Серікова Аида · 👍")
    assert await h.repo.attendance.get(session.id, TRAINEE) == ("yes", True)
    async with h.app.db.read() as s:
        actions = list(
            await s.scalars(select(AuditLog.action).where(AuditLog.actor_id == ADMIN_ID))
        )
    assert "attendance.mark" in actions

    # The buttons of a class that has started only say so.
    query = await chat.press("❌ Келе алмаймын")
    answer = fake.callback_answer(query)
    assert answer is not None and answer.show_alert
    assert answer.text == "Бұл сабақ басталып кетті."
    assert await h.repo.attendance.get(session.id, TRAINEE) == ("yes", True)
    # Each reminder once.
    assert len([m for m in fake.bot_messages() if "еске салу" in m.content]) == 2


async def test_attendance_is_staff_only_and_buttons_are_rechecked(h: BotHarness) -> None:
    stranger = h.user(7002, first_name="Eve", language_code="en")
    chat = Chat(h, stranger, "en")
    stranger.send_command("attendance")
    await chat.expect(chat.text("fallback-unknown")[:12])
    # A forged answer for a class of a group they are not in.
    course = (await h.repo.catalogue.courses())[0]
    group = (await h.repo.catalogue.groups(course.id))[0]
    starts = T0 + 30 * H
    session = await h.repo.schedule.add(group.id, starts, starts + H, None, actor_id=ADMIN_ID)
    message = await h.app.dispatcher["reminders"].bot.send_message(stranger.id, "x")
    data = ReminderCB(session_id=session.id, answer=Answer.yes).pack()
    query = stranger.press(data, message.message_id)
    answer = await stranger.wait_callback_answer(query["id"])
    assert answer.text == chat.label("reminder-not-trainee")
    assert await h.repo.attendance.get(session.id, stranger.id) is None
    # A forged staff button does nothing for a non-staff user.
    query = stranger.press(f"sat:m:{session.id}:7002:0:p", message.message_id)
    await stranger.wait_callback_answer(query["id"])
    assert await h.repo.attendance.get(session.id, stranger.id) is None


async def test_marks_wait_for_the_class_and_a_cancelled_class_takes_none(h: BotHarness) -> None:
    course = (await h.repo.catalogue.courses())[0]
    group = (await h.repo.catalogue.groups(course.id))[0]
    await h.repo.users.upsert_seen(TRAINEE, first_name="Aida", username=None, language_code="kk")
    async with h.app.db.transaction() as s:
        s.add(
            Application(
                user_id=TRAINEE,
                course_id=course.id,
                group_id=group.id,
                full_name="Серікова Аида",
                phone="+77010000001",
                status="accepted",
                consent_at=T0,
            )
        )
    starts = T0 + 3 * H
    session = await h.repo.schedule.add(group.id, starts, starts + H, "101", actor_id=ADMIN_ID)
    admin = h.admin("en")
    staff = Chat(h, admin, "en")
    admin.send_command("attendance")
    menu = await staff.expect(staff.text("attendance-choose-centre")[:12])

    async def mark() -> str | None:
        data = AttendanceCB(
            action=AttAction.mark, id=session.id, value=TRAINEE, mark=Mark.present
        ).pack()
        answer = await admin.wait_callback_answer(admin.press(data, menu.message_id)["id"])
        assert answer.show_alert
        return answer.text

    # Before the class: nobody can have come yet.
    assert await mark() == staff.label("attendance-mark-too-early")
    assert await h.repo.attendance.get(session.id, TRAINEE) is None
    # Cancelled (after the roster was shown): refused, and the roster loses its buttons.
    await h.repo.schedule.cancel(session.id, actor_id=ADMIN_ID)
    await moved(h, starts + H / 2)
    assert await mark() == staff.label("attendance-mark-cancelled")
    assert await h.repo.attendance.get(session.id, TRAINEE) is None
    roster = await staff.expect(staff.text("attendance-roster-cancelled"))
    assert "Серікова Аида" in roster.content
    assert not any("Серікова" in label for label in roster.buttons())


async def test_upcoming_classes_start_from_now_and_ended_ones_are_recent(h: BotHarness) -> None:
    """QA: the attendance list showed a class that had already ended among the upcoming
    ones. Upcoming: from now on (a class under way is marked ▶️); ended: Recent only."""
    course = (await h.repo.catalogue.courses())[0]
    group = (await h.repo.catalogue.groups(course.id))[0]
    centre = await h.repo.catalogue.centre(course.centre_id)
    tz = centre.timezone
    add = h.repo.schedule.add
    ended = await add(group.id, T0 - 3 * H, T0 - H, "101", actor_id=ADMIN_ID)  # 1 h ago
    running = await add(group.id, T0 - H / 2, T0 + H, "101", actor_id=ADMIN_ID)
    later = await add(group.id, T0 + 3 * H, T0 + 4 * H, "101", actor_id=ADMIN_ID)
    admin = h.admin("en")
    staff = Chat(h, admin, "en")
    admin.send_command("attendance")
    await staff.expect(staff.text("attendance-choose-centre")[:12])
    await staff.press(clip(f"{pick_text(centre.city, 'en')} · {pick_text(centre.name, 'en')}", 64))
    await staff.press(f"{pick_text(course.title, 'en')} · {pick_text(group.name, 'en')}")
    upcoming = await staff.expect(staff.text("attendance-upcoming-title"))

    def when(session_starts: datetime) -> str:
        return fmt_datetime(session_starts, tz, "en")

    labels = upcoming.buttons()
    assert not any(when(ended.starts_at) in label for label in labels)
    assert f"▶️ {when(running.starts_at)} · 👍0 👎0 ❔0" in labels
    assert f"{when(later.starts_at)} · 👍0 👎0 ❔0" in labels
    assert labels.index(f"▶️ {when(running.starts_at)} · 👍0 👎0 ❔0") == 0

    await staff.press_key("attendance-btn-recent")
    recent = await staff.expect(staff.text("attendance-recent-title"))
    labels = recent.buttons()
    assert f"{when(ended.starts_at)} · 👍0 👎0 ❔0" in labels
    assert not any(when(s.starts_at) in label for s in (running, later) for label in labels)

    # Once the running class ends it moves from the one list to the other.
    await moved(h, T0 + 2 * H)
    await staff.press_key("attendance-btn-upcoming")
    upcoming = await staff.expect(staff.text("attendance-upcoming-title"))
    assert not any(when(running.starts_at) in label for label in upcoming.buttons())
    await staff.press_key("attendance-btn-recent")
    recent = await staff.expect(staff.text("attendance-recent-title"))
    assert recent.buttons()[:2] == [
        f"{when(running.starts_at)} · 👍0 👎0 ❔0",
        f"{when(ended.starts_at)} · 👍0 👎0 ❔0",
    ]


async def test_todays_classes_and_all_present_then_the_exceptions(h: BotHarness) -> None:
    """From the staff menu, today's classes; «All present» marks everyone not marked yet,
    then a tap marks the one who did not come."""
    course = (await h.repo.catalogue.courses())[0]
    centre = await h.repo.catalogue.centre(course.centre_id)
    group = (await h.repo.catalogue.groups(course.id))[0]
    names = {TRAINEE: "Серікова Аида", TRAINEE + 1: "Асанов Бекзат", TRAINEE + 2: "Ким Анна"}
    async with h.app.db.transaction() as s:
        for uid, name in names.items():
            await h.repo.users.upsert_seen(uid, first_name="x", username=None, language_code="kk")
            s.add(
                Application(
                    user_id=uid,
                    course_id=course.id,
                    group_id=group.id,
                    full_name=name,
                    phone=f"+7701000000{uid % 10}",
                    status="accepted",
                    consent_at=T0,
                )
            )
    starts = T0 + H  # today, 12:00 in Taraz
    session = await h.repo.schedule.add(group.id, starts, starts + H, "101", actor_id=ADMIN_ID)
    await h.repo.schedule.add(group.id, T0 + 30 * H, T0 + 31 * H, "101", actor_id=ADMIN_ID)
    await moved(h, starts + H / 2)

    admin = h.admin("ru")
    staff = Chat(h, admin, "ru")
    admin.send_command("admin")
    await staff.expect(staff.label("attendance-today"), button=True)
    await staff.press_key("attendance-today")
    today = await staff.expect(staff.text("attendance-today-title")[:12])
    label = f"▶️ 12:00 · {pick_text(course.title, 'ru')} · {pick_text(group.name, 'ru')}"
    [button] = [b for b in today.buttons() if b.startswith(label)]  # tomorrow's is not listed
    assert pick_text(centre.city, "ru") in button
    await staff.press(button)
    roster = await staff.expect(staff.label("attendance-btn-all-present"), button=True)
    assert "⚪ Ким Анна" in roster.buttons()
    await staff.press_key("attendance-btn-all-present")
    roster = await staff.expect("🟢 Ким Анна", button=True)
    assert staff.label("attendance-btn-all-present") not in roster.buttons()
    assert [await h.repo.attendance.get(session.id, uid) for uid in names] == [(None, True)] * 3
    await staff.press("🟢 Асанов Бекзат")  # the exception
    await staff.expect("🔴 Асанов Бекзат", button=True)
    assert await h.repo.attendance.get(session.id, TRAINEE + 1) == (None, False)
