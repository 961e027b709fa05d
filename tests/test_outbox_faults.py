"""A broadcast through Telegram's failures, end to end against the fake Bot API.

A 429 with retry_after in the middle of the run pauses every send; 403s mark the users
inactive (a my_chat_member unblock makes them active again); 5xx and a timeout are
retried, 5xx five times fail with the error kept; a 400 fails that recipient only. Every
reachable user gets the message exactly once, and the figures add up.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from db.models import User
from sandbox.harness import BotHarness
from tests.e2e import Chat
from tests.test_broadcast_wizard import compose, head

FIRST, COUNT = 8001, 40
RATE_LIMITED = 8010  # the 10th recipient gets a 429: mid-run
BLOCKED = (8003, 8020, 8033)
FLAKY = 8005  # two 502s, then fine
BROKEN = 8025  # 502 on every try: fails after five
SLOW = 8015  # answers after the client's timeout once
BAD = 8030  # 400 chat not found
TIMEOUT = 1.5  # the test's request timeout: a real margin even on a busy machine


@pytest.fixture
async def h(tmp_path: Path, template_db: Path) -> AsyncIterator[BotHarness]:
    # Back-offs of 50 ms and a 1.5 s request timeout keep the test short; the 429 pause
    # is the real retry_after (1 s).
    options = {"retry_base": 0.05, "request_timeout": TIMEOUT}
    env = {"BROADCAST_RATE": "200"}
    async with BotHarness(tmp_path, template=template_db, env=env, outbox_options=options) as h:
        yield h


async def test_every_reachable_user_gets_it_exactly_once(h: BotHarness) -> None:
    ids = range(FIRST, FIRST + COUNT)
    people = {i: h.user(i, language_code="kk") for i in ids}
    async with h.app.db.transaction() as s:
        s.add_all(User(id=i, locale="kk", is_active=True, reminders_enabled=True) for i in ids)
    server = h.server
    server.inject("sendMessage", chat_id=RATE_LIMITED, status=429, retry_after=1)
    for user_id in BLOCKED:
        server.inject(
            "sendMessage",
            chat_id=user_id,
            status=403,
            description="Forbidden: bot was blocked by the user",
        )
    server.inject("sendMessage", chat_id=FLAKY, status=502, times=2)
    server.inject("sendMessage", chat_id=BROKEN, status=502, times=5)
    server.inject("sendMessage", chat_id=SLOW, status=504, delay=2 * TIMEOUT)
    server.inject("sendMessage", chat_id=BAD, status=400, description="Bad Request: chat not found")

    admin = h.admin("en")
    chat = Chat(h, admin, "en")
    text = "The IT centre is open on Saturday."
    await compose(chat, text)
    await chat.press_key("broadcast-audience-all")
    await chat.press_key("broadcast-send-now")
    await chat.expect(head(chat, "broadcast-started", id=1))
    report = await chat.expect(head(chat, "broadcast-report", id=1), timeout=15)

    # Every reachable user got it exactly once; the others not at all.
    unreachable = {*BLOCKED, BROKEN, BAD}
    for user_id, person in people.items():
        got = [m for m in person.bot_messages() if m.content == text]
        assert len(got) == (0 if user_id in unreachable else 1), user_id
    assert len([m for m in admin.bot_messages() if m.content == text]) == 1  # the preview only

    # The figures add up, in the database and in the report.
    total = COUNT  # the author is not a recipient
    counts = await h.repo.deliveries.counts(1)
    assert (counts.sent, counts.failed, counts.blocked, counts.skipped) == (total - 5, 2, 3, 0)
    assert counts.sent + counts.failed + counts.blocked + counts.skipped == counts.total == total
    assert report.content == chat.text(
        "broadcast-report", id=1, total=total, sent=total - 5, failed=2, blocked=3, duration="x"
    ).replace("x", report.content.split("(")[1].split(")")[0])
    started = chat.text("broadcast-started", id=1, total=total)
    [progress] = [m for m in admin.bot_messages() if m.content.startswith(started)]
    assert (
        chat.text("broadcast-progress-final", sent=total - 5, failed=2, blocked=3, skipped=0)[:12]
        in progress.content
    )

    # 429: every send paused for retry_after; the row went again afterwards.
    calls = server.requests_for("sendMessage")
    [limited, again] = [r for r in calls if r.params["chat_id"] == RATE_LIMITED]
    assert (limited.response_status, again.response_status) == (429, 200)
    assert again.at_monotonic - limited.at_monotonic >= 0.95
    # Requests already in flight finish at once; none starts during the pause.
    during = [
        r.params["chat_id"] for r in calls if 0.5 <= r.at_monotonic - limited.at_monotonic < 0.95
    ]
    assert during == []

    # 403: blocked and inactive; 5xx retried, then failed with the error kept; 400 failed.
    failures = {f.user_id: f for f in await h.repo.deliveries.failures(1)}
    assert set(failures) == {*BLOCKED, BROKEN, BAD}
    for user_id in BLOCKED:
        assert failures[user_id].status == "blocked"
        assert not (await h.repo.users.get(user_id)).is_active
    assert (failures[BROKEN].status, failures[BROKEN].attempts) == ("failed", 5)
    assert "Bad Gateway" in (failures[BROKEN].last_error or "")
    assert "chat not found" in (failures[BAD].last_error or "")
    assert failures[BAD].attempts == 1
    flaky = [r.response_status for r in calls if r.params["chat_id"] == FLAKY]
    assert flaky == [502, 502, 200]
    slow = [r.response_status for r in calls if r.params["chat_id"] == SLOW]
    assert slow[-1] == 200 and len(slow) == 2  # the timed-out try, then the retry

    # Unblocking the bot (my_chat_member) makes a user active again.
    server.block(BLOCKED[0])
    server.unblock(BLOCKED[0])
    await h.wait_handled(
        lambda u: (
            u.my_chat_member is not None and u.my_chat_member.new_chat_member.status == "member"
        )
    )
    assert (await h.repo.users.get(BLOCKED[0])).is_active

    # The list of recipients not reached, as a CSV staff open in Excel.
    await chat.press_key("broadcast-btn-failures")
    document = await chat.expect(head(chat, "broadcast-failures-caption", id=1))
    assert document.file is not None
    data = document.file.data
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == chat.label("broadcast-col-user")
    assert sorted(int(r[0]) for r in rows[1:]) == sorted({*BLOCKED, BROKEN, BAD})
