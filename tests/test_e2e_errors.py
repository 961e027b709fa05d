"""No handler error reaches the user as silence: a message, or a toast for a button."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.harness import BotHarness
from tests.e2e import Chat


async def _started(h: BotHarness, user_id: int) -> Chat:
    user = h.user(user_id, language_code="kk")
    chat = Chat(h, user, "kk")
    user.send_command("start")
    await chat.expect("Choose your language")
    await chat.press("✓ Қазақша")
    await chat.expect_key("start-welcome")
    return chat


async def test_exception_in_a_message_handler(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    chat = await _started(harness, 9201)

    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("database is on fire")

    monkeypatch.setattr(harness.app.repo.catalogue, "centres", broken)
    chat.tap_key("menu-catalogue")
    await chat.expect_key("error-generic")
    # Logged with ids only: the update and the user, never names or phones.
    record = next(r for r in caplog.records if r.name == "handlers.errors")
    assert "9201" in record.getMessage()
    assert "Test" not in record.getMessage()


async def test_exception_in_a_callback_handler(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = await _started(harness, 9202)
    chat.tap_key("menu-catalogue")
    await chat.expect_key("catalogue-choose-centre")

    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(harness.app.repo.catalogue, "centre", broken)
    first_centre = chat.user.last_bot_message().buttons()[0]
    query = chat.user.press_button(first_centre)
    answer = await chat.user.wait_callback_answer(query["id"])
    assert answer.text == chat.label("error-generic")
    assert answer.show_alert


async def test_telegram_server_error_while_replying(harness: BotHarness) -> None:
    chat = await _started(harness, 9203)
    # The first reply fails with a 502 from "Telegram"; the user still hears from us.
    harness.server.inject("sendMessage", chat_id=9203, status=502, times=1)
    chat.say("hello")
    await chat.expect_key("error-generic")
    failed = [r for r in harness.server.requests_for("sendMessage", 9203) if not r.ok]
    assert len(failed) == 1
