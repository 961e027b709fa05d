"""Trust end to end: personal data stays out of the logs, even when the database fails."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import text

from bot.fsm_storage import storage_key
from bot.i18n import pick_text
from bot.notify import staff_message_of
from sandbox.harness import ADMIN_ID, BotHarness
from tests.e2e import Chat, plain
from tests.test_e2e_signup import (
    fill_form_until_summary,
    open_course,
    start_and_choose_language,
    taraz,
)


def _key(h: BotHarness, user_id: int) -> StorageKey:
    return StorageKey(bot_id=h.server.sim.bot_id, chat_id=user_id, user_id=user_id)


@pytest.fixture
def h(harness: BotHarness) -> BotHarness:
    return harness


async def test_database_error_during_submit_keeps_name_and_phone_out_of_the_log(
    h: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    centre, course = await taraz(h)
    user = h.user(5101, language_code="en")
    chat = Chat(h, user, "en")
    await start_and_choose_language(chat, "en")
    await open_course(chat, centre, course)
    await fill_form_until_summary(chat, h, course)
    # Every insert of an application now fails inside the database (an OperationalError,
    # not the duplicate the form expects), with the name and phone among the statement's
    # bound parameters.
    async with h.app.db.transaction_core() as conn:
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_applications BEFORE INSERT ON applications "
                "BEGIN INSERT INTO disk_says_no VALUES (1); END"
            )
        )
    with caplog.at_level(logging.DEBUG):
        query = user.press_button(chat.label("signup-confirm"))
        answer = await user.wait_callback_answer(query["id"])
        await h.wait_handled(
            lambda u: u.callback_query is not None and u.callback_query.id == query["id"]
        )
    assert answer.text == plain(chat.text("error-generic"))  # the person is told
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert failures, "the failure was logged with its traceback"
    formatter = logging.Formatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert "disk_says_no" in logged  # the database error itself is there...
    for secret in ("Серикова", "Аида", f"7700{user.id:07d}"):  # ...the person is not
        assert secret not in logged


async def test_webhook_refuses_bad_secrets_and_bodies_without_an_error(
    h: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    from aiohttp import ClientSession, web
    from aiohttp.test_utils import TestServer

    from bot.webhook import SECRET_HEADER, WebhookHandler

    assert h.process is not None and h.process.bot is not None
    secret = "s3cret_token_of_16plus"
    web_app = web.Application()
    handler = WebhookHandler(h.app.dispatcher, h.process.bot, secret)
    # Not register(): its shutdown hook closes the bot's session, which polling still uses.
    web_app.router.add_route("POST", "/webhook", handler.handle)
    h.user(5201, first_name="W", language_code="en")
    server = TestServer(web_app, host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("/webhook"))
    update = {
        "update_id": 990_001,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": 5201, "type": "private"},
            "from": {"id": 5201, "is_bot": False, "first_name": "W", "language_code": "en"},
            "text": "/help",
        },
    }
    try:
        with caplog.at_level(logging.INFO):
            async with ClientSession() as http:

                async def post(headers: dict[str, str], body: bytes) -> int:
                    async with http.post(url, data=body, headers=headers) as response:
                        return response.status

                good = {SECRET_HEADER: secret, "Content-Type": "application/json"}
                body = json.dumps(update).encode()
                assert await post({SECRET_HEADER: "wrong_secret_value"}, body) == 401
                # A non-ASCII secret made compare_digest raise: a 500 and a traceback.
                raw = "sécret_ünicode_value".encode().decode("latin-1")
                assert await post({SECRET_HEADER: raw}, body) == 401
                assert await post(good, b"{not json") == 400
                assert await post(good, b"\xff\xfe") == 400
                assert await post(good, b"[]") == 400
                assert await post(good, b'{"update_id": 5, "message": "hi"}') == 400
                assert await post(good, body) == 200
                await h.wait_handled(lambda u: u.update_id == 990_001)
    finally:
        await server.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    refusals = [r.getMessage() for r in caplog.records if "webhook request" in r.getMessage()]
    assert len(refusals) == 6 and all("\n" not in line for line in refusals)


async def test_an_id_taken_out_of_admin_ids_loses_admin_at_start_up(
    h: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    admin = h.admin("en")
    admin.send_command("start")
    await admin.wait_reply()
    assert await h.repo.staff.role_of(ADMIN_ID) == "admin"
    h.extra_env["ADMIN_IDS"] = "12345"  # the coordinator left; someone else bootstraps
    with caplog.at_level(logging.INFO):
        await h.restart()
    assert await h.repo.staff.role_of(ADMIN_ID) is None
    assert any(
        f"user {ADMIN_ID} is no longer in ADMIN_IDS" in r.getMessage() for r in caplog.records
    )
    chat = Chat(h, admin, "en")
    admin.send_command("admin")  # the staff workspace is gone for them
    await chat.expect_key("fallback-unknown")


async def test_forms_untouched_for_30_days_are_deleted_daily(
    tmp_path: Path, template_db: Path
) -> None:
    from sqlalchemy import select, update

    from bot.clock import ManualClock
    from db.models import FsmState

    t0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    async with BotHarness(tmp_path, template=template_db, clock=ManualClock(t0)) as h:
        assert isinstance(h.clock, ManualClock) and h.process is not None
        assert h.process.scheduler is not None
        storage = h.app.storage
        bot_id = h.process.bot.id if h.process.bot else 0
        old = StorageKey(bot_id=bot_id, chat_id=5301, user_id=5301)
        new = StorageKey(bot_id=bot_id, chat_id=5302, user_id=5302)
        await storage.set_data(old, {"full_name": "Aida Serikova", "phone": "+77010000001"})
        await storage.set_data(new, {"full_name": "Bakyt Asanov"})
        async with h.app.db.transaction() as s:  # last touched 29.5 and 28 days ago
            for key, age in ((old, timedelta(days=29, hours=12)), (new, timedelta(days=28))):
                await s.execute(
                    update(FsmState)
                    .where(FsmState.key == storage_key(key))
                    .values(updated_at=t0 - age)
                )
        h.clock.advance(timedelta(days=1))  # the daily job runs
        await h.process.time_moved()
        async with h.app.db.read() as s:
            keys = set(await s.scalars(select(FsmState.key)))
        assert keys == {storage_key(new)}
        assert await storage.get_data(old) == {}  # not served from the cache either
        assert await storage.get_data(new) == {"full_name": "Bakyt Asanov"}
        assert [j.kind for j in h.process.scheduler.jobs("retention")] == ["retention"]


async def test_consent_comes_first_and_declining_keeps_nothing(h: BotHarness) -> None:
    from sqlalchemy import func, select

    from bot.i18n import pick_text
    from db.models import Application, FsmState, FunnelEvent

    centre, course = await taraz(h)
    user = h.user(5401, language_code="ru")
    chat = Chat(h, user, "ru")
    await start_and_choose_language(chat, "ru")
    await open_course(chat, centre, course)
    await chat.press_key("course-signup")
    notice = await chat.expect(chat.text("signup-consent-notice", centre="", days=30)[:12])
    # Who keeps the data (the centre from the catalogue), and for how long a form lasts.
    assert pick_text(centre.name, "ru") in notice.content
    assert "30" in notice.content
    await chat.press_key("signup-consent-decline")
    await chat.expect_key("signup-consent-declined")
    await chat.expect_key("catalogue-choose-centre")  # the catalogue, to browse on
    async with h.app.db.read() as s:
        for table in (FsmState, FunnelEvent, Application):
            assert await s.scalar(select(func.count()).select_from(table)) == 0, table
    stored = await h.repo.users.get(user.id)
    assert stored is not None and stored.consent_at is None


async def test_submissions_per_day_are_limited(tmp_path: Path, template_db: Path) -> None:
    env = {"SIGNUP_DAILY_LIMIT": "2"}
    async with BotHarness(tmp_path, template=template_db, env=env) as h:
        centre, course = await taraz(h)
        user = h.user(5501, language_code="en")
        chat = Chat(h, user, "en")
        await start_and_choose_language(chat, "en")
        await open_course(chat, centre, course)
        await fill_form_until_summary(chat, h, course)
        await chat.press_key("signup-confirm")
        await chat.expect(chat.text("signup-done", id=1)[:20])
        await chat.expect_key("signup-next-steps")  # after the confirmation (issue 16)
        # Withdrawn, then applied again: a second card today (consent is not asked twice
        # at the same centre).
        [app] = await h.repo.applications.for_user(user.id)
        await h.repo.applications.cancel_by_user(user.id, app.id)
        await open_course(chat, centre, course)
        await chat.press_key("course-signup")
        await chat.expect(chat.text("signup-ask-phone")[:20])
        user.send_command("start")
        await chat.expect_key("start-welcome-back")
        async with h.app.db.transaction() as s:  # as if the second one had been sent too
            from db.models import Application

            s.add(
                Application(
                    user_id=user.id,
                    course_id=course.id,
                    full_name="X Y",
                    phone="+77010000000",
                    status="cancelled",
                    consent_at=datetime.now(UTC),
                )
            )
        await open_course(chat, centre, course)
        query = user.press_button(chat.label("course-signup"))
        answer = await user.wait_callback_answer(query["id"])
        assert answer.text == chat.label("signup-daily-limit", limit=2)
        assert answer.show_alert
        assert await h.app.storage.get_state(_key(h, user.id)) is None


async def test_staff_cards_go_through_the_outbox_and_a_new_application_reuses_the_card(
    h: BotHarness,
) -> None:
    from sandbox.harness import STAFF_CHAT_ID

    def to_staff(r: Any) -> bool:
        return r.method == "sendMessage" and int(r.params["chat_id"]) == STAFF_CHAT_ID

    centre, course = await taraz(h)
    user = h.user(5601, language_code="en")
    chat = Chat(h, user, "en")
    await start_and_choose_language(chat, "en")
    await open_course(chat, centre, course)
    await fill_form_until_summary(chat, h, course)
    # Telegram says "too many requests" to the first card: it is delayed, not lost.
    h.server.inject("sendMessage", chat_id=STAFF_CHAT_ID, status=429, retry_after=1)
    await chat.press_key("signup-confirm")
    await chat.expect(chat.text("signup-done", id=1)[:20])
    await h.server.wait_for(lambda r: to_staff(r) and r.ok, timeout=10)
    assert [r.response_status for r in h.server.requests_for("sendMessage") if to_staff(r)] == [
        429,
        200,
    ]
    [card] = h.staff_group.bot_messages()
    assert "№ 1" in card.content and card.raw.get("has_protected_content") is True

    # Withdrawn and sent again: the same card shows the new application, no second card.
    [app] = await h.repo.applications.for_user(user.id)
    await h.repo.applications.cancel_by_user(user.id, app.id)
    await open_course(chat, centre, course)
    await chat.press_key("course-signup")  # consent was given to this centre already
    await chat.expect(chat.text("signup-ask-phone")[:20])
    chat.tap_key("signup-share-phone")
    await chat.expect(chat.text("signup-ask-name")[:20])
    chat.say("Serikova Aida")
    await chat.expect(chat.text("signup-ask-district", region="")[:15])
    districts = await h.repo.catalogue.districts(centre.region_id)
    await chat.press(pick_text(districts[0].name, "en"))
    await chat.press_key("signup-any-group")
    await chat.expect(chat.label("signup-confirm"), button=True)
    await chat.press_key("signup-confirm")
    await chat.expect(chat.text("signup-done", id=2)[:20])
    await chat.expect_key("signup-next-steps")  # after the confirmation (issue 16)
    await h.server.wait_for(  # the card edited to the new application, through the outbox
        lambda r: r.method == "editMessageText" and r.ok and "№ 2" in str(r.params.get("text"))
    )
    [card] = h.staff_group.bot_messages()
    assert "№ 2" in card.content and "№ 1" not in card.content
    # Deciding from it acts on the new application (the outbox records the card's new
    # owner once the edit is through).
    for _ in range(100):
        if await staff_message_of(h.repo, 2) is not None:
            break
        await asyncio.sleep(0.05)
    where = await staff_message_of(h.repo, 2)
    assert where == (STAFF_CHAT_ID, card.message_id)
    assert await staff_message_of(h.repo, 1) is None
