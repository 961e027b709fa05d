"""Dates typed without a year are taken in the nearest sensible year (a day just past is
refused, not moved a year ahead); a move is confirmed before trainees are told; a new
class lasts as long as the group's classes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import select

from bot.clock import ManualClock
from bot.formatting import fmt_datetime
from bot.i18n import pick_text
from db.models import AuditLog, Delivery
from sandbox.harness import BotHarness
from tests.e2e import Chat
from tests.test_staff_schedule import trainee
from tests.test_staff_support import first_course, h, open_menu, refused_requests, title

__all__ = ["h"]
DEC_2 = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)  # the demo term starts on 7 December


def _key(h: BotHarness, user_id: int) -> StorageKey:
    return StorageKey(bot_id=h.server.sim.bot_id, chat_id=user_id, user_id=user_id)


async def _notices(h: BotHarness) -> int:
    async with h.app.db.transaction() as s:
        return len(list(await s.scalars(select(Delivery).where(Delivery.kind == "notice"))))


async def test_move_to_a_day_just_past_is_refused_and_a_move_is_confirmed(h: BotHarness) -> None:
    assert isinstance(h.clock, ManualClock)
    h.clock.set(DEC_2)
    admin = h.admin("ru")
    chat = Chat(h, admin, "ru")
    course, groups = await first_course(h)
    group = groups[0]
    tz = (await h.repo.catalogue.centre(course.centre_id)).timezone
    await trainee(h, 6301, "kk", course.id, group)
    first = (await h.repo.catalogue.sessions([group.id]))[0]
    await open_menu(chat)
    await chat.press_key("staff-section-courses")
    await chat.press(f"🟢 {title(course, 'ru')}")
    await chat.press(
        chat.label("staff-group-seats", group=pick_text(group.name, "ru"), taken=1, capacity=5)
    )
    await chat.press_key("schedule-btn-sessions")
    await chat.press(fmt_datetime(first.starts_at, tz, "ru"))
    await chat.press_key("schedule-btn-move")

    # Yesterday, typed without a year: refused as past (in Russian), the form stays open.
    chat.say("01.12 18:30")
    await chat.expect_key("schedule-error-past")
    assert await h.app.storage.get_state(_key(h, admin.id)) is not None
    assert await h.repo.catalogue.session(first.id) == first

    # A good time asks to confirm first; nothing changes and nobody is told yet.
    chat.say("14.12 18:30")
    await chat.expect(chat.text("schedule-move-confirm", group="x", old="x", new="y")[:10])
    assert await h.repo.catalogue.session(first.id) == first
    assert await _notices(h) == 0
    await chat.press_key("btn-cancel")  # back to the class card, form closed
    assert await h.app.storage.get_state(_key(h, admin.id)) is None
    assert await h.repo.catalogue.session(first.id) == first

    # Into January: next year's, and the confirmation shows the year.
    await chat.press_key("schedule-btn-move")
    chat.say("10.01 18:00")
    confirm = await chat.expect(
        chat.text("schedule-move-confirm", group="x", old="x", new="y")[:10]
    )
    assert "2027" in confirm.content and "2026" not in confirm.content
    assert await _notices(h) == 0
    await chat.press_key("schedule-btn-move-yes")
    await chat.expect(chat.text("schedule-moved", old="x", new="y")[:10])
    moved = await h.repo.catalogue.session(first.id)
    assert moved is not None
    local = moved.starts_at.astimezone(ZoneInfo(tz))
    assert (local.date(), local.time()) == (date(2027, 1, 10), time(18, 0))
    assert moved.ends_at - moved.starts_at == first.ends_at - first.starts_at
    assert await _notices(h) == 1
    await h.server.user(6301).wait_reply()
    assert await h.app.storage.get_state(_key(h, admin.id)) is None
    # A second press of the old confirmation is refused: the move is done once.
    card = admin.last_bot_message()
    assert chat.label("schedule-btn-move-yes") not in card.buttons()
    async with h.app.db.transaction() as s:
        actions = list(
            await s.scalars(select(AuditLog.action).where(AuditLog.action.like("session.%")))
        )
    assert actions == ["session.move"]
    assert refused_requests(h) == []


async def test_add_refuses_a_day_just_past_and_lasts_as_the_groups_classes(
    h: BotHarness,
) -> None:
    assert isinstance(h.clock, ManualClock)
    h.clock.set(DEC_2)
    admin = h.admin("en")
    chat = Chat(h, admin, "en")
    course, groups = await first_course(h)
    group = groups[0]
    centre = await h.repo.catalogue.centre(course.centre_id)
    tz = centre.timezone
    await open_menu(chat)
    await chat.press_key("staff-section-courses")
    await chat.press(f"🟢 {title(course, 'en')}")
    await chat.press(
        chat.label("staff-group-seats", group=pick_text(group.name, "en"), taken=0, capacity=5)
    )
    await chat.press_key("schedule-btn-sessions")
    await chat.press_key("schedule-btn-add")
    await chat.expect(
        chat.text(
            "schedule-ask-add",
            group=pick_text(group.name, "en"),
            tz=pick_text(centre.city, "en"),  # the city, not the zone's code (issue 16)
            length="2:30",
        )
    )
    chat.say("01.12 18:30")
    await chat.expect_key("schedule-error-past")
    before = len(await h.repo.catalogue.sessions([group.id]))
    chat.say("13.12 15:00")  # a Sunday: no clash
    await chat.expect(chat.text("schedule-added", line="x")[:12])
    sessions = await h.repo.catalogue.sessions([group.id])
    assert len(sessions) == before + 1
    [added] = [
        s for s in sessions if s.starts_at.astimezone(ZoneInfo(tz)).date() == date(2026, 12, 13)
    ]
    assert added.ends_at - added.starts_at == timedelta(hours=2, minutes=30)
    assert refused_requests(h) == []


async def test_a_group_without_classes_gets_two_hours(h: BotHarness) -> None:
    course, groups = await first_course(h)
    assert await h.repo.schedule.usual_length(groups[0].id) == timedelta(hours=2, minutes=30)
    group, _ = await h.repo.courses.add_group(course.id, "Empty", 5, actor_id=1)
    assert await h.repo.schedule.usual_length(group.id) is None


async def test_add_a_class_with_day_buttons_and_month_names(h: BotHarness) -> None:
    """Today / tomorrow buttons ask only for the time; a regular-day button adds the class
    at the group's usual time; a date with the month's name is understood."""
    assert isinstance(h.clock, ManualClock)
    now = DEC_2 + timedelta(days=6)  # the term has begun: its regular days are known
    h.clock.set(now)
    admin = h.admin("ru")
    chat = Chat(h, admin, "ru")
    course, groups = await first_course(h)
    group = groups[0]
    tz = (await h.repo.catalogue.centre(course.centre_id)).timezone
    zone = ZoneInfo(tz)
    await open_menu(chat)
    await chat.press_key("staff-section-courses")
    await chat.press(f"🟢 {title(course, 'ru')}")
    await chat.press(
        chat.label("staff-group-seats", group=pick_text(group.name, "ru"), taken=0, capacity=5)
    )
    # A regular class is cancelled: its day is free again and offered as a button.
    sessions = await h.repo.catalogue.sessions([group.id], since=now)
    freed = sessions[1]
    await h.repo.schedule.cancel(freed.id, actor_id=admin.id, not_before=now)
    freed_local = freed.starts_at.astimezone(ZoneInfo(tz))
    await chat.press_key("schedule-btn-sessions")

    async def open_add() -> list[str]:
        await chat.press_key("schedule-btn-add")
        asked = await chat.expect(
            chat.text("schedule-ask-add", group="x", tz=tz, length="2:30")[:14]
        )
        return asked.buttons()

    def local_days() -> list[tuple[date, str]]:
        return [
            (s.starts_at.astimezone(zone).date(), s.starts_at.astimezone(zone).strftime("%H:%M"))
            for s in sessions
        ]

    buttons = await open_add()
    assert chat.label("schedule-btn-today") in buttons
    assert chat.label("schedule-btn-tomorrow") in buttons
    regular = [b for b in buttons if b.startswith("➕ ")]
    assert len(regular) == 3, buttons  # the demo group meets on fixed weekdays
    assert regular[0].endswith(freed_local.strftime("%H:%M")), regular
    assert f" {freed_local.day} " in regular[0], regular
    await chat.press_key("schedule-btn-tomorrow")
    await chat.expect(chat.text("schedule-ask-time", day="x", group="x", tz=tz, length="2:30")[:14])
    chat.say("07:15 305")
    await chat.expect(chat.text("schedule-added", line="x")[:12])
    sessions = await h.repo.catalogue.sessions([group.id])
    assert (date(2026, 12, 9), "07:15") in local_days()

    await open_add()
    chat.say("20 декабря 07:00")  # a Sunday morning
    await chat.expect(chat.text("schedule-added", line="x")[:12])
    sessions = await h.repo.catalogue.sessions([group.id])
    assert (date(2026, 12, 20), "07:00") in local_days()

    await open_add()
    before = len(sessions)
    await chat.press(regular[0])
    await chat.expect(chat.text("schedule-added", line="x")[:12])
    sessions = await h.repo.catalogue.sessions([group.id])
    assert len(sessions) == before + 1
    [again] = [x for x in sessions if x.starts_at == freed.starts_at]
    assert again.ends_at == freed.ends_at  # the group's usual length
    assert refused_requests(h) == []
