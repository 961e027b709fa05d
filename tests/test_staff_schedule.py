"""Class sessions: add, move, cancel with the group's trainees told in their language, and
a term's timetable imported from a YAML document."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import select

from bot.clock import ManualClock
from bot.formatting import fmt_datetime, fmt_time
from bot.i18n import pick_text
from bot.services.catalog import CatalogData
from bot.staff_callbacks import ScheduleAction, ScheduleCB
from db.dto import GroupDTO, SessionDTO
from db.models import AuditLog, Delivery
from db.repo.schedule import ScheduleError
from handlers.staff.schedule.parsing import Slot, SlotError, parse_slot
from sandbox.harness import ADMIN_ID, BotHarness
from tests.e2e import Chat, plain
from tests.test_staff_support import (
    NOW,
    applicant,
    first_course,
    h,
    open_menu,
    refused_requests,
    title,
)

__all__ = ["h"]
TODAY = date(2026, 11, 22)


def test_parse_slot() -> None:
    assert parse_slot("10.12 18:30-20:30 201", TODAY) == Slot(
        date(2026, 12, 10), time(18, 30), time(20, 30), "201"
    )
    assert parse_slot(" 2026-12-10  9:05 – 10:35  ауд. 3 ", TODAY) == Slot(
        date(2026, 12, 10), time(9, 5), time(10, 35), "ауд. 3"
    )
    assert parse_slot("10.12.26 18:30 20:00", TODAY) == Slot(
        date(2026, 12, 10), time(18, 30), time(20, 0), None
    )
    assert parse_slot("10/01 18:30 Room 5", TODAY) == Slot(
        date(2027, 1, 10), time(18, 30), None, "Room 5"
    )  # a day long past this year (typed in November for January) is next year's
    dec2 = date(2026, 12, 2)
    # A day a little past stays this year's (and is then refused as past), not next year's.
    assert parse_slot("01.12 18:30", dec2).day == date(2026, 12, 1)
    assert parse_slot("15.06 18:30", dec2).day == date(2026, 6, 15)
    assert parse_slot("01.05 18:30", dec2).day == date(2027, 5, 1)
    assert parse_slot("10.01 18:30", dec2).day == date(2027, 1, 10)
    jan5 = date(2027, 1, 5)
    assert parse_slot("20.12 18:30", jan5).day == date(2026, 12, 20)  # just past
    assert parse_slot("20.08 18:30", jan5).day == date(2027, 8, 20)  # ahead this year
    # A dot in the time is how many people type it (issue 16).
    assert parse_slot("10.12 18.30", TODAY).start == time(18, 30)
    for bad in ("", "tomorrow 18:30", "10.12", "32.12 10:00", "10.12 25:00", "10.12 18.3"):
        with pytest.raises(SlotError):
            parse_slot(bad, TODAY)


async def trainee(
    h: BotHarness, user_id: int, locale: str, course_id: int, group: GroupDTO
) -> None:
    _, app = await applicant(h, user_id, locale, course_id, group_id=group.id, post=False)
    outcome = await h.repo.applications.decide(
        app.id, actor_id=ADMIN_ID, action="accept", group_id=group.id
    )
    assert outcome.application.group_id == group.id


def expected_notice(
    h: BotHarness, locale: str, key: str, course: str, group: str, tz: str, **s: SessionDTO
) -> str:
    t = h.app.translator
    session = s.get("after") or s["before"]
    before = s.get("before")
    body = t.get(
        locale,
        key,
        course=course,
        group=group,
        when=fmt_datetime(session.starts_at, tz, locale),
        old=fmt_datetime(before.starts_at, tz, locale) if before else "—",
        new=fmt_datetime(session.starts_at, tz, locale),
        end=fmt_time(session.ends_at, tz, locale),
        room=session.room or "—",
    )
    return plain(t.get(locale, "schedule-notice-header") + "\n\n" + body)


async def test_add_move_cancel_a_class(h: BotHarness) -> None:
    admin = h.admin("en")
    chat = Chat(h, admin, "en")
    course, groups = await first_course(h)
    centre = await h.repo.catalogue.centre(course.centre_id)
    tz = centre.timezone
    group = groups[0]
    await trainee(h, 6001, "kk", course.id, group)
    await trainee(h, 6002, "ru", course.id, group)
    await trainee(h, 6003, "ky", course.id, groups[1])  # another group: not told
    kk, ru, ky = h.server.user(6001), h.server.user(6002), h.server.user(6003)

    await open_menu(chat)
    await chat.press_key("staff-section-courses")
    await chat.press(f"🟢 {title(course, 'en')}")
    await chat.press(
        chat.label("staff-group-seats", group=pick_text(group.name, "en"), taken=2, capacity=5)
    )
    await chat.press_key("schedule-btn-sessions")
    # Times are shown as the centre's local time, named by its city, not "Asia/Almaty".
    listing = await chat.expect(pick_text(centre.city, "en"))
    assert tz not in listing.content
    await chat.press_key("schedule-btn-add")
    await chat.expect(
        chat.text(
            "schedule-ask-add",
            group=pick_text(group.name, "en"),
            tz=pick_text(centre.city, "en"),  # the city, not the zone's code (issue 16)
            length="2:30",
        )
    )  # a class without an end lasts as long as the group's (10:00-12:30)

    chat.say("2026-11-01 10:00")
    await chat.expect_key("schedule-error-past")
    chat.say("7.12 10:30")  # the demo's Monday class is 10:00-12:30
    await chat.expect_key("schedule-error-overlap")
    chat.say("20.12 07:00-08:30 305")
    await chat.expect(chat.text("schedule-added", line="x")[:12])
    [added] = [
        s
        for s in await h.repo.catalogue.sessions([group.id])
        if s.starts_at.astimezone(ZoneInfo(tz)).date() == date(2026, 12, 20)
    ]
    assert added.starts_at.astimezone(ZoneInfo(tz)).time() == time(7, 0)
    assert added.room == "305"
    last: dict[int, int] = {}
    for user, locale in ((kk, "kk"), (ru, "ru")):
        told = await user.wait_reply()
        last[user.id] = told.message_id
        assert told.content == expected_notice(
            h,
            locale,
            "schedule-notice-added",
            pick_text(course.title, locale),
            pick_text(group.name, locale),
            tz,
            after=added,
        )

    # Move it: the length and the room stay.
    await chat.press(fmt_datetime(added.starts_at, tz, "en"))
    await chat.press_key("schedule-btn-move")
    await chat.expect(chat.text("schedule-ask-move", line="x", tz=tz)[:10])
    chat.say("21.12 07:30")
    await chat.expect(chat.text("schedule-move-confirm", group="x", old="x", new="y")[:10])
    await chat.press_key("schedule-btn-move-yes")
    await chat.expect(chat.text("schedule-moved", old="x", new="y")[:10])
    moved = await h.repo.catalogue.session(added.id)
    assert moved is not None
    assert (moved.ends_at - moved.starts_at, moved.room) == (added.ends_at - added.starts_at, "305")
    for user, locale in ((kk, "kk"), (ru, "ru")):
        told = await user.wait_reply(after_message_id=last[user.id])
        last[user.id] = told.message_id
        assert told.content == expected_notice(
            h,
            locale,
            "schedule-notice-moved",
            pick_text(course.title, locale),
            pick_text(group.name, locale),
            tz,
            before=added,
            after=moved,
        )

    # Cancel it.
    await chat.press(fmt_datetime(moved.starts_at, tz, "en"))
    await chat.press_key("schedule-btn-cancel")
    await chat.press_key("schedule-btn-cancel-yes")
    cancelled = await h.repo.catalogue.session(added.id)
    assert cancelled is not None and cancelled.cancelled
    for user, locale in ((kk, "kk"), (ru, "ru")):
        told = await user.wait_reply(after_message_id=last[user.id])
        last[user.id] = told.message_id
        assert told.content == expected_notice(
            h,
            locale,
            "schedule-notice-cancelled",
            pick_text(course.title, locale),
            pick_text(group.name, locale),
            tz,
            before=moved,
            after=cancelled,
        )
    assert [len(u.bot_messages()) for u in (kk, ru, ky)] == [3, 3, 0]

    async with h.app.db.transaction() as s:
        actions = list(
            await s.scalars(select(AuditLog.action).where(AuditLog.action.like("session.%")))
        )
    assert actions == ["session.add", "session.move", "session.cancel"]
    assert refused_requests(h) == []


async def test_import_a_timetable_document(h: BotHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from handlers.staff.schedule import timetable

    parsed_in: list[bool] = []
    from bot.services.catalog import parse_catalog as parse

    def parse_and_note_the_thread(text: str, name: str) -> CatalogData:
        parsed_in.append(threading.current_thread() is threading.main_thread())
        return parse(text, name)

    # The file is parsed in a worker thread, never on the event loop.
    monkeypatch.setattr(timetable, "parse_catalog", parse_and_note_the_thread)
    admin = h.admin("ru")
    chat = Chat(h, admin, "ru")
    course, groups = await first_course(h)
    tz = (await h.repo.catalogue.centre(course.centre_id)).timezone
    group = groups[0]
    for g in groups:
        await h.repo.applications.set_group_capacity(g.id, 1, actor_id=ADMIN_ID)
    await trainee(h, 6101, "kk", course.id, group)
    await trainee(h, 6102, "en", course.id, groups[1])
    waiting_user, waiting = await applicant(h, 6103, "ky", course.id, post=False)
    assert waiting.status == "waitlisted"
    kk = h.server.user(6101)
    first, second = (await h.repo.catalogue.sessions([group.id]))[1:3]
    local = ZoneInfo(tz)

    await open_menu(chat)
    await chat.press_key("staff-section-courses")
    await chat.press_key("schedule-btn-import")
    await chat.expect(chat.text("schedule-import-ask", max=512)[:10])
    chat.say("hello")
    await chat.expect_key("schedule-import-expect-file")
    admin.send_document(b"a,b\n", "timetable.csv")
    await chat.expect_key("schedule-import-not-yaml")
    admin.send_document(b"groups:\n  - code: nope\n    capacity: -1\n", "bad.yaml")
    errors = await chat.expect(chat.text("schedule-import-errors", count=1)[:20])
    # In the staff member's language: «строка 3: группа 'nope': 'capacity': …».
    assert "строка 3: группа 'nope': 'capacity': нужно целое положительное число" in errors.content

    extra_day = second.starts_at.astimezone(local).date() + timedelta(days=1)
    yaml = f"""groups:
  - code: {group.code}
    capacity: 2
    sessions:
      - code: {first.code}
        date: {first.starts_at.astimezone(local):%Y-%m-%d}
        start: "14:00"
        end: "16:30"
        room: "305"
      - code: {second.code}
        date: {second.starts_at.astimezone(local):%Y-%m-%d}
        start: "{second.starts_at.astimezone(local):%H:%M}"
        end: "{second.ends_at.astimezone(local):%H:%M}"
        cancelled: true
      - date: {extra_day:%Y-%m-%d}
        start: "07:00"
        end: "08:00"
"""
    admin.send_document(yaml.encode(), "term.yaml")
    # First a preview: what moves, what is cancelled; nothing is saved yet, nobody told.
    preview = await chat.expect(chat.text("schedule-import-preview", file="term.yaml")[:12])
    assert plain(chat.text("schedule-preview-moved", count=1)) in preview.content
    assert plain(chat.text("schedule-preview-cancelled", count=1)) in preview.content
    assert plain(chat.text("schedule-preview-added", count=1)) in preview.content
    assert "→" in preview.content  # the old time and the new one
    unchanged = await h.repo.catalogue.session(first.id)
    assert unchanged is not None and unchanged.starts_at == first.starts_at
    assert kk.bot_messages() == []
    await chat.press_key("schedule-btn-import-yes")
    done = await chat.expect(chat.text("schedule-import-done", file="term.yaml"))
    # bad.yaml, then term.yaml for the preview and again for the import: off the main thread
    assert parsed_in == [False, False, False]
    assert plain(h.app.translator.plural("ru", "schedule-import-changes", 3)) in done.content
    moved = await h.repo.catalogue.session(first.id)
    assert moved is not None
    assert moved.starts_at.astimezone(local).time() == time(14, 0) and moved.room == "305"
    cancelled = await h.repo.catalogue.session(second.id)
    assert cancelled is not None and cancelled.cancelled

    # One message to the trainee with the three changes, in Kazakh: the imported class
    # is announced as one added by hand is.
    told = await kk.wait_reply()
    extra = datetime.combine(extra_day, time(7, 0), tzinfo=local)
    assert fmt_datetime(extra, tz, "kk") in told.content
    assert plain(h.app.translator.get("kk", "schedule-notice-header")) in told.content
    assert fmt_datetime(first.starts_at, tz, "kk") in told.content
    assert fmt_datetime(moved.starts_at, tz, "kk") in told.content
    assert fmt_datetime(second.starts_at, tz, "kk") in told.content
    assert len(kk.bot_messages()) == 1
    assert h.server.user(6102).bot_messages() == []  # the other group is unchanged
    # The raised capacity gave the seat to the waitlisted applicant.
    promoted = await h.repo.applications.get(waiting.id)
    assert (promoted.status, promoted.group_id) == ("accepted", group.id)
    assert "🎉" in (await waiting_user.wait_reply()).content

    async with h.app.db.transaction() as s:
        audit = await s.scalar(select(AuditLog).where(AuditLog.action == "catalog.import"))
    assert audit is not None and audit.target_id == "term.yaml"
    assert audit.after == {
        "groups": {"created": 0, "updated": 1},
        "sessions": {"created": 1, "updated": 2},
    }
    assert refused_requests(h) == []


async def test_a_class_that_has_started_is_neither_moved_nor_cancelled(h: BotHarness) -> None:
    """The card (or the move form) was opened before the class began; pressing or typing
    after it began is refused with the reason, changes nothing and tells no trainee."""
    admin = h.admin("ru")
    chat = Chat(h, admin, "ru")
    course, groups = await first_course(h)
    group = groups[0]
    tz = (await h.repo.catalogue.centre(course.centre_id)).timezone
    await trainee(h, 6201, "kk", course.id, group)
    first = (await h.repo.catalogue.sessions([group.id]))[0]
    await open_menu(chat)
    await chat.press_key("staff-section-courses")
    await chat.press(f"🟢 {title(course, 'ru')}")
    await chat.press(
        chat.label("staff-group-seats", group=pick_text(group.name, "ru"), taken=1, capacity=5)
    )
    await chat.press_key("schedule-btn-sessions")
    await chat.press(fmt_datetime(first.starts_at, tz, "ru"))
    card = admin.last_bot_message()
    old_buttons = {
        key: card.callback_data(chat.label(key))
        for key in ("schedule-btn-move", "schedule-btn-cancel")
    }
    await chat.press_key("schedule-btn-move")  # the form is open ...
    await chat.expect(chat.text("schedule-ask-move", line="x", tz=tz)[:10])

    assert isinstance(h.clock, ManualClock)
    h.clock.set(first.starts_at + timedelta(minutes=5))  # ... and the class begins
    chat.say("30.12 10:00")
    await chat.expect_key("schedule-error-started")
    assert await h.app.storage.get_state(_key(h, admin.id)) is None
    # The card's old buttons, and a forged confirmation, are refused with the reason.
    forged = ScheduleCB(action=ScheduleAction.cancel_yes, id=first.id).pack()
    for data in (*old_buttons.values(), forged):
        assert data is not None
        query = admin.press(data, card.message_id)
        answer = await admin.wait_callback_answer(query["id"])
        assert answer.text == chat.label("schedule-error-started") and answer.show_alert

    assert await h.repo.catalogue.session(first.id) == first
    async with h.app.db.transaction() as s:
        assert (
            list(await s.scalars(select(AuditLog).where(AuditLog.action.like("session.%")))) == []
        )
        assert list(await s.scalars(select(Delivery).where(Delivery.kind == "notice"))) == []
    assert refused_requests(h) == []


def _key(h: BotHarness, user_id: int) -> StorageKey:
    return StorageKey(bot_id=h.server.sim.bot_id, chat_id=user_id, user_id=user_id)


async def test_schedule_repo_refuses_a_started_class(h: BotHarness) -> None:
    _course, groups = await first_course(h)
    first = (await h.repo.catalogue.sessions([groups[0].id]))[0]
    later = first.starts_at + timedelta(days=400)  # after the term: no clash
    for call in (
        h.repo.schedule.cancel(first.id, actor_id=ADMIN_ID, not_before=first.starts_at),
        h.repo.schedule.move(
            first.id,
            later,
            later + timedelta(hours=1),
            None,
            actor_id=ADMIN_ID,
            not_before=first.starts_at,
        ),
    ):
        with pytest.raises(ScheduleError) as refused:
            await call
        assert refused.value.code == "started"
    assert await h.repo.catalogue.session(first.id) == first
    # A moment before it starts, the same move goes through.
    before, after = await h.repo.schedule.move(
        first.id,
        later,
        later + timedelta(hours=1),
        None,
        actor_id=ADMIN_ID,
        not_before=first.starts_at - timedelta(minutes=1),
    )
    assert (before, after.starts_at) == (first, later)


async def test_import_offers_a_template_of_the_group_that_imports_once_edited(
    h: BotHarness,
) -> None:
    """QA: coordinators got no template. With the request for the file comes a YAML
    document for this group — its next classes and examples at its usual time, commented
    in the staff member's language — which, edited and sent back, imports."""
    admin = h.admin("ru")
    chat = Chat(h, admin, "ru")
    course, groups = await first_course(h)
    group = groups[0]
    tz = (await h.repo.catalogue.centre(course.centre_id)).timezone
    local = ZoneInfo(tz)
    before = await h.repo.catalogue.sessions([group.id], include_cancelled=True)
    last = max(before, key=lambda s: s.starts_at)

    await open_menu(chat)
    await chat.press_key("staff-section-courses")
    await chat.press(f"🟢 {title(course, 'ru')}")
    await chat.press(
        chat.label("staff-group-seats", group=pick_text(group.name, "ru"), taken=0, capacity=5)
    )
    await chat.press_key("schedule-btn-sessions")
    await chat.press_key("schedule-btn-import")
    await chat.expect(chat.text("schedule-import-ask", max=512)[:10])
    sent = await h.server.wait_for(lambda r: r.method == "sendDocument" and r.ok)
    document = sent.result["document"]
    assert document["file_name"] == f"timetable-{group.code}.yaml"
    assert pick_text(group.name, "ru") in plain(sent.params.get("caption", ""))
    stored = h.server.file(document["file_id"])
    assert stored is not None
    template = stored.data.decode()
    assert f"  - code: {group.code}\n" in template
    assert chat.label("schedule-template-code") in template  # a comment in Russian
    # The group's next classes, by code, and examples a week after its last class.
    upcoming = [s for s in before if not s.cancelled and s.starts_at > NOW][:2]
    for s in upcoming:
        assert f"      - code: {s.code}\n" in template
    example = last.starts_at.astimezone(local) + timedelta(weeks=1)
    # The examples are comments: the template sent back unchanged adds nothing.
    assert f'    #   - date: {example:%Y-%m-%d}\n    #     start: "{example:%H:%M}"' in template
    admin.send_document(template.encode(), document["file_name"])
    await chat.expect(chat.text("schedule-import-preview", file=document["file_name"])[:12])
    await chat.expect_key("schedule-preview-nothing")

    # The classes listed stay as they are, the two examples are added.
    # Edited: the examples and the weekly block are switched on (the # signs removed),
    # the first example starts at 08:00.
    edited = template.replace("    # weekly:", "    weekly:").replace("    #   ", "      ")
    edited = edited.replace(
        f'      - date: {example:%Y-%m-%d}\n        start: "{example:%H:%M}"',
        f'      - date: {example:%Y-%m-%d}\n        start: "08:00"',
    )
    assert edited != template
    admin.send_document(edited.encode(), document["file_name"])
    preview = await chat.expect(plain(chat.text("schedule-preview-added", count=15)))
    assert document["file_name"] in preview.content
    await chat.press_key("schedule-btn-import-yes")
    await chat.expect(chat.text("schedule-import-done", file=document["file_name"]))
    after = await h.repo.catalogue.sessions([group.id], include_cancelled=True)
    added = [s for s in after if s.id not in {b.id for b in before}]
    assert len(added) == 2 + 13  # two examples and the weekly rule's 13 weeks
    first = min(added, key=lambda s: s.starts_at).starts_at.astimezone(local)
    assert (first.date(), first.time()) == (example.date(), time(8, 0))
    assert refused_requests(h) == []
