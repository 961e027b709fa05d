"""The announcement wizard end to end: the real bot, the fake Bot API, the demo catalogue.

Compose → audience (filters, count) → preview → send now, or schedule in the centre's
time zone (an APScheduler job rebuilt from the database after a restart; sent at
start-up if its time passed while the bot was down) → progress and report; scheduled
ones listed and cancelled; Stop; staff only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock
from bot.i18n import LANGUAGE_NAMES, pick_text, placeholders
from bot.scheduler import ScheduledJob
from db.dto import Audience, NewDelivery
from db.models import Application, User
from db.repo.deliveries import ENQUEUE_SLICE
from handlers.broadcast.base import BcAction, BcCB
from handlers.broadcast.times import parse_when
from sandbox.harness import BotHarness
from sandbox.telegram import FakeUser
from sandbox.telegram.media import SAMPLE_PNG, photo_sizes
from sandbox.telegram.models import CallbackAnswer, ChatMessage
from tests.e2e import Chat, plain

SENTINEL = "\ue000"


async def citizens(h: BotHarness, ids: range | list[int], locale: str = "kk") -> list[FakeUser]:
    """People who have opened the bot: rows in the database, chats on the server."""
    users = [h.user(i, language_code=locale) for i in ids]
    async with h.app.db.transaction() as s:
        s.add_all(User(id=i, locale=locale, is_active=True, reminders_enabled=True) for i in ids)
    return users


def head(chat: Chat, key: str, **params: object) -> str:
    """The start of a message as shown, up to its first parameter not given."""
    translator = chat.h.app.translator
    names: dict[str, object] = dict.fromkeys(
        placeholders(translator.get(chat.locale, key)), SENTINEL
    )
    names.update(params)
    return plain(translator.get(chat.locale, key, **names)).split(SENTINEL)[0].strip()


def received(user: FakeUser, text: str) -> int:
    return sum(1 for m in user.bot_messages() if m.content == text)


async def compose(chat: Chat, text: str) -> None:
    chat.user.send_command("broadcast")
    await chat.expect(head(chat, "broadcast-ask-message"))
    chat.say(text)
    await chat.expect(chat.label("broadcast-audience-all"), button=True)


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock(datetime(2026, 12, 1, 5, 0, tzinfo=UTC))


@pytest.fixture
async def timed(tmp_path: Path, template_db: Path, clock: ManualClock) -> AsyncIterator[BotHarness]:
    """The bot on a manual clock: scheduled jobs fire only when the test moves time."""
    async with BotHarness(tmp_path, template=template_db, clock=clock) as h:
        yield h


async def test_send_now_to_everyone(harness: BotHarness) -> None:
    h = harness
    people = await citizens(h, range(7001, 7006))
    admin = h.admin("ru")
    chat = Chat(h, admin, "ru")
    admin.send_command("admin")  # the staff menu's section opens the wizard
    await chat.expect(chat.label("broadcast-section"), button=True)
    await chat.press_key("broadcast-section")
    await chat.expect(chat.label("broadcast-btn-scheduled", count=0), button=True)

    text = "Завтра в 10:00 — день открытых дверей в IT-центре!"
    chat.say(text)
    screen = await chat.expect(chat.label("broadcast-audience-all"), button=True)
    assert await h.repo.broadcasts.audience_count(Audience(), "ru") == 6  # and the admin
    everyone = await h.repo.broadcasts.audience_count(Audience(), "ru", author_id=admin.id)
    assert everyone == 5  # the author gets the preview, not the announcement
    assert chat.label("broadcast-btn-continue", count=5) in screen.buttons()
    assert chat.text("broadcast-audience", filters="x", count=everyone).split("\n")[2] in (
        screen.content
    )
    await chat.press_key("broadcast-audience-all")
    confirm = await chat.expect(chat.label("broadcast-send-now"), button=True)
    preview = admin.bot_messages()[-2]  # the very copy recipients get, above the question
    assert preview.content == text
    assert f"{everyone}" in confirm.content
    await chat.press_key("broadcast-send-now")
    await chat.expect(head(chat, "broadcast-started", id=1, total=everyone))
    report = await chat.expect(head(chat, "broadcast-report", id=1), timeout=10)
    for person in people:
        assert received(person, text) == 1
    assert received(admin, text) == 1  # the preview only
    counts = await h.repo.deliveries.counts(1)
    assert (counts.sent, counts.total) == (everyone, everyone)
    assert f"{everyone} " in report.content
    assert (await h.repo.broadcasts.get(1)).status == "done"
    audit = [a.action for a in await h.repo.audit.latest()]
    assert "broadcast.create" in audit


async def test_filters_count_and_a_photo(harness: BotHarness) -> None:
    h = harness
    courses = await h.repo.catalogue.courses()
    first, other = courses[0], courses[1]
    groups = await h.repo.catalogue.groups(first.id)
    districts = await h.repo.catalogue.all_districts()
    await citizens(h, [7101, 7103, 7104], "kk")
    await citizens(h, [7102], "ru")
    now = datetime.now(UTC)
    async with h.app.db.transaction() as s:
        for user_id, course, group, district, status in (
            (7101, first.id, groups[0].id, districts[0].id, "accepted"),
            (7102, first.id, groups[-1].id, districts[1].id, "pending"),
            (7103, other.id, None, districts[0].id, "accepted"),
        ):
            s.add(
                Application(
                    user_id=user_id,
                    course_id=course,
                    group_id=group,
                    full_name="Тест Тестов",
                    phone="+77000000000",
                    district_id=district,
                    status=status,
                    consent_at=now,
                )
            )
    count = h.repo.broadcasts.audience_count
    assert await count(Audience(status="accepted"), "ru") == 2
    assert await count(Audience(course_id=first.id, group_id=groups[-1].id), "ru") == 1
    assert await count(Audience(district_id=districts[0].id, status="accepted"), "ru") == 2
    assert await count(Audience(locale="kk", course_id=first.id), "ru") == 1
    await h.repo.users.set_active(7103, False)  # blocked the bot: never counted
    assert await count(Audience(status="accepted"), "ru") == 1

    admin = h.admin("en")
    chat = Chat(h, admin, "en")
    admin.send_command("broadcast")
    await chat.expect(head(chat, "broadcast-ask-message"))
    admin.send_photo(caption="Open day on Saturday!")
    await chat.expect(chat.label("broadcast-audience-all"), button=True)
    any_ = chat.label("broadcast-any")
    await chat.press(chat.label("broadcast-btn-language", value=any_))
    await chat.press(LANGUAGE_NAMES["kk"])
    await chat.press(chat.label("broadcast-btn-course", value=any_))
    centre = await h.repo.catalogue.centre(first.centre_id)
    assert centre is not None
    await chat.press(f"{pick_text(first.title, 'en')} · {pick_text(centre.city, 'en')}")
    screen = await chat.expect(chat.label("broadcast-btn-continue", count=1), button=True)
    assert pick_text(first.title, "en") in screen.content
    await chat.press_key("broadcast-btn-continue", count=1)
    await chat.expect(chat.label("broadcast-send-now"), button=True)
    await chat.press_key("broadcast-send-now")
    await chat.expect(head(chat, "broadcast-report", id=1), timeout=10)
    got = h.server.user(7101).bot_messages()
    assert [(m.kind, m.caption) for m in got] == [("photo", "Open day on Saturday!")]
    for other_id in (7102, 7103, 7104):
        assert h.server.user(other_id).bot_messages() == []


async def test_schedule_survives_restarts_and_fires_on_time(
    timed: BotHarness, clock: ManualClock
) -> None:
    h = timed
    [aida] = await citizens(h, [7201], "kk")
    admin = h.admin("en")
    chat = Chat(h, admin, "en")
    centre = (await h.repo.catalogue.centres())[0]
    zone = ZoneInfo(centre.timezone)

    await compose(chat, "Classes start on Monday.")
    await chat.press_key("broadcast-audience-all")
    await chat.press_key("broadcast-btn-schedule")
    await chat.expect(head(chat, "broadcast-ask-time"))
    chat.say("1.12 09:00")  # this morning, already passed
    await chat.expect_key("broadcast-time-past")
    chat.say("2.12 10:30")
    await chat.expect(chat.label("broadcast-btn-confirm-schedule"), button=True)
    await chat.press_key("broadcast-btn-confirm-schedule")
    await chat.expect(head(chat, "broadcast-scheduled-done", id=1))
    at = datetime(2026, 12, 2, 10, 30, tzinfo=zone).astimezone(UTC)
    assert h.process is not None and h.process.scheduler is not None
    assert h.process.scheduler.jobs("broadcast") == [
        ScheduledJob("broadcast:1", "broadcast", 1, at)
    ]

    await h.restart()  # the job is derived from the database again
    assert h.process is not None and h.process.scheduler is not None
    assert h.process.scheduler.jobs("broadcast") == [
        ScheduledJob("broadcast:1", "broadcast", 1, at)
    ]
    clock.set(at - timedelta(minutes=1))
    await h.process.time_moved()
    assert aida.bot_messages() == []
    clock.set(at + timedelta(seconds=5))
    await h.process.time_moved()
    assert (await aida.wait_reply(timeout=5)).content == "Classes start on Monday."
    assert h.process.scheduler.jobs("broadcast") == []

    # A broadcast whose time passes while the bot is down is sent at start-up.
    await compose(chat, "Bring your laptop.")
    await chat.press_key("broadcast-audience-all")
    await chat.press_key("broadcast-btn-schedule")
    tomorrow_18 = chat.label("broadcast-pick-tomorrow", time="18:00")
    await chat.press(tomorrow_18)
    await chat.expect(chat.label("broadcast-btn-confirm-schedule"), button=True)
    await chat.press_key("broadcast-btn-confirm-schedule")
    await chat.expect(head(chat, "broadcast-scheduled-done", id=2))
    await h.stop_bot()
    clock.advance(timedelta(days=2))
    last = aida.bot_messages()[-1].message_id
    await h.start_bot()
    assert (await aida.wait_reply(last, timeout=5)).content == "Bring your laptop."
    assert received(aida, "Bring your laptop.") == 1


async def test_list_and_cancel_scheduled(timed: BotHarness, clock: ManualClock) -> None:
    h = timed
    [aida] = await citizens(h, [7301], "kk")
    admin = h.admin("ru")
    chat = Chat(h, admin, "ru")
    await compose(chat, "Отменится")
    await chat.press_key("broadcast-audience-all")
    await chat.press_key("broadcast-btn-schedule")
    chat.say("03.12.2026 12:00")
    await chat.expect(chat.label("broadcast-btn-confirm-schedule"), button=True)
    await chat.press_key("broadcast-btn-confirm-schedule")
    await chat.expect(head(chat, "broadcast-scheduled-done", id=1))
    await chat.press_key("broadcast-btn-scheduled", count=1)
    listing = await chat.expect(chat.text("broadcast-scheduled-list"))
    assert "№ 1 · 3 декабря 2026" in listing.content
    await chat.press_key("broadcast-btn-cancel-item", id=1)
    await chat.expect(head(chat, "broadcast-cancel-ask", id=1))
    await chat.press_key("broadcast-btn-cancel-yes")
    await chat.expect(chat.text("broadcast-scheduled-empty"))
    assert h.process is not None and h.process.scheduler is not None
    assert h.process.scheduler.jobs("broadcast") == []
    assert (await h.repo.broadcasts.get(1)).status == "cancelled"
    clock.advance(timedelta(days=3))
    await h.process.time_moved()
    await h.restart()
    assert aida.bot_messages() == []
    assert (await h.repo.deliveries.counts(1)).total == 0


@pytest.fixture
async def slow(tmp_path: Path, template_db: Path) -> AsyncIterator[BotHarness]:
    """Announcements at 20 messages a second: slow enough to press Stop in the middle."""
    async with BotHarness(tmp_path, template=template_db, env={"BROADCAST_RATE": "20"}) as h:
        yield h


async def test_stop_and_replies_are_not_starved(slow: BotHarness) -> None:
    h = slow
    people = await citizens(h, range(7401, 7461), "ru")
    admin = h.admin("ru")
    chat = Chat(h, admin, "ru")
    await compose(chat, "Длинная рассылка")
    await chat.press_key("broadcast-audience-all")
    await chat.press_key("broadcast-send-now")
    await chat.expect(head(chat, "broadcast-started", id=1))

    def copies() -> int:  # the frozen text, sent as new messages (never copyMessage)
        return sum(
            1
            for r in h.server.requests_for("sendMessage")
            if r.ok and r.params.get("text") == "Длинная рассылка"
        )

    await h.server.wait_for(lambda r: r.method == "sendMessage" and copies() >= 10, timeout=5)
    # A citizen writing now is answered at once, not after the broadcast.
    asker = Chat(h, people[-1], "ru")
    asker.user.send_command("help")
    started = asyncio.get_running_loop().time()
    await asker.expect(head(asker, "help-text")[:20], timeout=2)
    assert asyncio.get_running_loop().time() - started < 1.0
    assert (await h.repo.deliveries.counts(1)).remaining > 0

    await chat.press_key("broadcast-btn-stop")
    report = await chat.expect(head(chat, "broadcast-report-stopped", id=1), timeout=5)
    counts = await h.repo.deliveries.counts(1)
    assert counts.remaining == 0 and counts.skipped > 0
    assert counts.sent + counts.skipped == counts.total == 60  # not the author
    assert f"{counts.sent} " in report.content and f"{counts.skipped}." in report.content
    sent_now = copies()
    assert sent_now == counts.sent + 1  # and the preview
    assert all(received(p, "Длинная рассылка") <= 1 for p in people)
    await asyncio.sleep(0.3)  # nothing more goes out after the report
    assert copies() == sent_now
    assert (await h.repo.broadcasts.get(1)).status == "stopped"


async def test_staff_only(harness: BotHarness) -> None:
    h = harness
    [citizen] = await citizens(h, [7501], "en")
    chat = Chat(h, citizen, "en")
    citizen.send_command("broadcast")
    await chat.expect_key("fallback-unknown")
    # A forged button: the role is checked on callbacks too.
    sent = citizen.bot_messages()[-1]
    query = citizen.press("bc:go:::0", sent.message_id)
    answer = await citizen.wait_callback_answer(query["id"])
    assert answer is not None and answer.text == chat.label("error-stale-button")
    assert await h.repo.broadcasts.get(1) is None


def test_parse_when() -> None:
    today = datetime(2026, 12, 30).date()
    assert parse_when("31.12 10:00", today) == datetime(2026, 12, 31, 10, 0)
    assert parse_when("1.01 9:05", today) == datetime(2027, 1, 1, 9, 5)  # the next such day
    assert parse_when("2027-02-03 18:30", today) == datetime(2027, 2, 3, 18, 30)
    assert parse_when("03/02/27 18.30", today) == datetime(2027, 2, 3, 18, 30)
    assert parse_when(" 7:15 ", today) == datetime(2026, 12, 30, 7, 15)
    for bad in ("", "tomorrow", "31.12", "32.12 10:00", "31.12 25:00"):
        with pytest.raises(ValueError, match="date and time"):
            parse_when(bad, today)


async def test_stop_while_the_audience_is_still_being_written(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stop pressed in the first moments, while a big audience is still being written:
    it stops (it is not refused as "not being sent"), nothing more is written or sent."""
    h = harness
    await citizens(h, range(7601, 7601 + ENQUEUE_SLICE + 20), "ru")
    admin = h.admin("ru")
    chat = Chat(h, admin, "ru")
    await compose(chat, "Ошибочная рассылка")
    await chat.press_key("broadcast-audience-all")
    await chat.expect(chat.label("broadcast-send-now"), button=True)
    assert h.process is not None and h.process.broadcasts is not None
    deliveries = h.process.broadcasts.repo.deliveries
    write = deliveries.enqueue
    answers: list[CallbackAnswer] = []

    async def enqueue(rows: list[NewDelivery]) -> int:
        new = await write(rows)
        if not answers:  # the first slice is written: Stop, on the progress message
            progress = admin.bot_messages()[-1]
            query = admin.press(BcCB(action=BcAction.stop, id=1).pack(), progress.message_id)
            answers.append(await admin.wait_callback_answer(query["id"]))
        return new

    monkeypatch.setattr(deliveries, "enqueue", enqueue)
    await chat.press_key("broadcast-send-now")
    await chat.expect(head(chat, "broadcast-report-stopped", id=1), timeout=10)
    assert [a.text for a in answers] == [chat.label("broadcast-stopping")]
    counts = await h.repo.deliveries.counts(1)
    assert counts.total == ENQUEUE_SLICE  # the rest of the audience was never written
    assert counts.remaining == 0 and counts.sent + counts.skipped == counts.total
    assert counts.skipped > 0
    copies = sum(
        1
        for r in h.server.requests_for("sendMessage")
        if r.ok and r.params.get("text") == "Ошибочная рассылка"
    )
    assert copies == counts.sent + 1  # and the preview
    assert h.server.requests_for("copyMessage") == []
    stopped = await h.repo.broadcasts.get(1)
    assert stopped is not None and stopped.status == "stopped"
    assert stopped.started_at is not None and stopped.finished_at is not None

    # A broadcast scheduled for later is cancelled, never "stopped" (a forged Stop).
    now = datetime.now(UTC)
    later = await h.repo.broadcasts.create(
        author_id=admin.id,
        source_chat_id=admin.id,
        source_message_id=1,
        audience=Audience(),
        scheduled_at=now + timedelta(hours=1),
        now=now,
    )
    assert await h.repo.broadcasts.stop(later.id, actor_id=admin.id, now=now) is None
    assert (await h.repo.broadcasts.get(later.id)).status == "scheduled"


async def test_a_new_message_replaces_the_draft_and_an_album_is_refused_once(
    harness: BotHarness,
) -> None:
    h = harness
    [aida] = await citizens(h, [7701], "kk")
    admin = h.admin("en")
    chat = Chat(h, admin, "en")
    await compose(chat, "Open day on Saturday")
    await chat.press(chat.label("broadcast-btn-language", value=chat.label("broadcast-any")))
    await chat.press(LANGUAGE_NAMES["kk"])
    # A typo: staff send the corrected text while choosing the audience.
    chat.say("Open day on Sunday")
    screen = await chat.expect(chat.text("broadcast-draft-replaced"))
    assert chat.label("broadcast-btn-continue", count=1) in screen.buttons()  # filters kept
    # An album cannot be copied as one message: said once, whatever its size.
    sim = h.server.sim
    before = len(admin.bot_messages())
    for n in range(3):
        stored = sim.store_file("photo", SAMPLE_PNG, mime_type="image/jpeg")
        sim.user_message(
            admin,
            None,
            kind="photo",
            media={"photo": photo_sizes(stored), "media_group_id": "album-1"},
            file=stored,
            caption="Photos" if n == 0 else None,
        )
    await chat.expect(chat.text("broadcast-album"))
    # The draft is still the corrected text, and only it goes out.
    await chat.press_key("broadcast-btn-continue", count=1)  # handled after the album
    await chat.expect(chat.label("broadcast-send-now"), button=True)
    replies = [m.content for m in admin.bot_messages()[before:]]
    assert replies.count(chat.text("broadcast-album")) == 1
    assert replies[-2] == "Open day on Sunday"  # the preview
    await chat.press_key("broadcast-send-now")
    await chat.expect(head(chat, "broadcast-report", id=1), timeout=10)
    assert [m.content for m in aida.bot_messages()] == ["Open day on Sunday"]


async def test_a_forged_time_button_is_refused(timed: BotHarness) -> None:
    h = timed
    await citizens(h, [7801], "kk")
    admin = h.admin("en")
    chat = Chat(h, admin, "en")
    await compose(chat, "Never scheduled")
    await chat.press_key("broadcast-audience-all")
    await chat.press_key("broadcast-btn-schedule")
    screen = await chat.expect(head(chat, "broadcast-ask-time"))
    for value in ("99999999999999999999", "-99999999999999"):
        forged = BcCB(action=BcAction.at, value=value).pack()
        answer = await admin.wait_callback_answer(admin.press(forged, screen.message_id)["id"])
        assert answer.text == chat.label("error-stale-button") and answer.show_alert
    chat.say("2.12 10:30")  # the wizard goes on as before
    await chat.expect(chat.label("broadcast-btn-confirm-schedule"), button=True)
    assert await h.repo.broadcasts.scheduled() == []


def progress_messages(chat: Chat, broadcast_id: int) -> list[ChatMessage]:
    started = head(chat, "broadcast-started", id=broadcast_id)
    return [m for m in chat.user.bot_messages() if m.content.startswith(started)]


def assert_final(chat: Chat, broadcast_id: int) -> None:
    """The progress message of a broadcast to one person: final figures, no Stop button."""
    [progress] = progress_messages(chat, broadcast_id)
    final = chat.text("broadcast-progress-final", sent=1, failed=0, blocked=0, skipped=0)
    assert progress.content.endswith(final), progress.content
    assert progress.buttons() == []


async def schedule_for(chat: Chat, text: str, when: str, broadcast_id: int) -> None:
    await compose(chat, text)
    await chat.press_key("broadcast-audience-all")
    await chat.press_key("broadcast-btn-schedule")
    await chat.expect(head(chat, "broadcast-ask-time"))
    chat.say(when)
    await chat.expect(chat.label("broadcast-btn-confirm-schedule"), button=True)
    await chat.press_key("broadcast-btn-confirm-schedule")
    await chat.expect(head(chat, "broadcast-scheduled-done", id=broadcast_id))


async def test_progress_of_a_scheduled_broadcast_ends_final(
    timed: BotHarness, clock: ManualClock
) -> None:
    """A scheduled announcement's progress message ends with the final figures and no
    Stop button, whether it fires while the bot runs (after a restart) or at start-up."""
    h = timed
    [aida] = await citizens(h, [7901], "kk")
    admin = h.admin("en")
    chat = Chat(h, admin, "en")
    zone = ZoneInfo((await h.repo.catalogue.centres())[0].timezone)

    await schedule_for(chat, "Scheduled one", "2.12 10:30", 1)
    await h.restart()
    assert h.process is not None
    clock.set(datetime(2026, 12, 2, 10, 31, tzinfo=zone).astimezone(UTC))
    # A slow network: the progress message is still on its way when the last copy goes.
    h.server.inject("sendMessage", chat_id=admin.id, status=None, delay=0.5)
    await h.process.time_moved()
    await chat.expect(head(chat, "broadcast-report", id=1), timeout=10)
    assert received(aida, "Scheduled one") == 1
    assert_final(chat, 1)

    # Its time passes while the bot is down: fired at start-up, the same ending.
    await schedule_for(chat, "Scheduled two", "3.12 10:30", 2)
    await h.stop_bot()
    clock.advance(timedelta(days=2))
    h.server.inject("sendMessage", chat_id=admin.id, status=None, delay=0.5)
    await h.start_bot()
    await chat.expect(head(chat, "broadcast-report", id=2), timeout=10)
    assert received(aida, "Scheduled two") == 1
    assert_final(chat, 2)
