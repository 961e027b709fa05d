"""Bot API requests per sign-up step (issue 15): every request costs a citizen on slow
mobile data a round trip, and the bot a request under load.

Before (main at 39b7fec), per step of the full form: Sign up 3 (answer, intro, consent),
consent 3 (edit, answer, question), name 1, contact 2 ("phone saved", district),
district 3 (edit, answer, question), group 3 — 15 requests and 6 updates to the summary.
Now: Sign up 2 (the intro is the consent question's first line), consent 3 (the phone
question has a reply keyboard: a new message), contact 2 (its full name is the name: no
name step), district 2 and group 2 (the pressed message becomes the next question) —
11 requests and 5 updates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from aiogram.types import Update

from bot.i18n import LANGUAGE_NAMES, pick_text
from sandbox.harness import BotHarness
from sandbox.telegram import FakeUser
from tests.e2e import Chat
from tests.test_e2e_signup import taraz


async def _step(h: BotHarness, action: Callable[[], dict[str, Any]]) -> Counter[str]:
    """The Bot API requests made while handling the one update ``action`` sends."""
    h.server.clear_requests()
    sent = action()

    def it(u: Update) -> bool:
        if u.callback_query is not None:
            return u.callback_query.id == sent.get("id")
        return u.message is not None and u.message.message_id == sent.get("message_id")

    await h.wait_handled(it)
    return Counter(r.method for r in h.server.requests if r.method != "getUpdates")


async def _course_card(h: BotHarness, user: FakeUser) -> Chat:
    _, course = await taraz(h)
    chat = Chat(h, user, "en")
    user.send_command("start", f"c_{course.code}")
    await chat.expect("Choose your language")
    await chat.press(f"✓ {LANGUAGE_NAMES['en']}")
    await chat.expect(chat.label("course-signup"), button=True)
    return chat


async def test_requests_per_step_of_a_signup(harness: BotHarness) -> None:
    h = harness
    centre, course = await taraz(h)
    user = h.user(9301, first_name="Aida", language_code="en")
    user.last_name = "Serikova"  # the shared contact carries a full name
    chat = await _course_card(h, user)

    press = chat.user.press_button
    calls = await _step(h, lambda: press(chat.label("course-signup")))
    assert calls == {"answerCallbackQuery": 1, "sendMessage": 1}, calls
    consent = user.last_bot_message()
    assert chat.text("signup-intro", course=pick_text(course.title, "en")) in consent.content
    assert chat.label("signup-consent-agree") in consent.buttons()

    calls = await _step(h, lambda: press(chat.label("signup-consent-agree")))
    assert calls == {"editMessageText": 1, "answerCallbackQuery": 1, "sendMessage": 1}, calls

    # The contact's full name is the name: no name question; the contact keyboard goes.
    calls = await _step(h, lambda: user.press_reply_button(chat.label("signup-share-phone")))
    assert calls == {"sendMessage": 2}, calls
    saved, district = user.bot_messages()[-2:]
    assert chat.text("signup-name-from-contact", name="Serikova Aida") in saved.content
    assert chat.label("signup-share-phone") not in user.reply_keyboard_buttons()
    assert chat.label("btn-back") in user.reply_keyboard_buttons()
    assert chat.text("signup-ask-district", region="")[:15] in district.content
    assert "Step 3 of 4" in district.content  # consent, phone, district, group

    # A district button: its message becomes the group question, the answer on top.
    districts = await h.repo.catalogue.districts(centre.region_id)
    name = pick_text(districts[0].name, "en")
    calls = await _step(h, lambda: press(name, message_id=district.message_id))
    assert calls == {"editMessageText": 1, "answerCallbackQuery": 1}, calls
    [group] = [m for m in user.bot_messages() if m.message_id == district.message_id]
    assert group.content.startswith(chat.text("signup-chosen", value=name))
    assert chat.text("signup-ask-group")[:15] in group.content
    assert chat.label("signup-any-group") in group.buttons() and name not in group.buttons()
    assert user.last_bot_message().message_id == group.message_id

    calls = await _step(
        h, lambda: press(chat.label("signup-any-group"), message_id=group.message_id)
    )
    assert calls == {"editMessageText": 1, "answerCallbackQuery": 1}, calls
    summary = user.last_bot_message()
    assert summary.message_id == group.message_id
    assert chat.label("signup-confirm") in summary.buttons()
    assert "Serikova Aida" in summary.content

    # A way back from the summary: Back asks the group again, in a new message.
    chat.tap_key("btn-back")
    again = await chat.expect(chat.text("signup-ask-group")[:15])
    assert again.message_id != summary.message_id
    await chat.press_key("signup-any-group")
    await chat.expect(chat.label("signup-confirm"), button=True)
    # The name from the contact can still be changed in the summary.
    await chat.press_key("signup-edit-name")
    asked = await chat.expect(chat.text("signup-ask-name")[:20])
    assert "Serikova Aida" in user.reply_keyboard_buttons()  # one tap to keep it
    assert asked.message_id != summary.message_id
    chat.say("Asanova Aida")
    edited = await chat.expect(chat.label("signup-confirm"), button=True)
    assert "Asanova Aida" in edited.content
    # The name's own button went with its step: Back and Cancel only.
    assert user.reply_keyboard_buttons() == [chat.label("btn-back"), chat.label("btn-cancel")]


async def test_requests_per_step_with_a_typed_phone(harness: BotHarness) -> None:
    """Typed, the phone keeps the name question, which says the phone was saved: one
    message per typed answer (before: the phone took two)."""
    h = harness
    user = h.user(9302, language_code="en")
    chat = await _course_card(h, user)
    await chat.press_key("course-signup")
    await chat.press_key("signup-consent-agree")
    await chat.expect(chat.text("signup-ask-phone")[:20])

    calls = await _step(h, lambda: user.send_text("0555 123 456"))
    assert calls == {"sendMessage": 1}, calls
    asked = user.last_bot_message()
    assert chat.text("signup-phone-saved", phone="+996555123456") in asked.content
    assert chat.text("signup-ask-name")[:20] in asked.content
    assert chat.label("signup-share-phone") not in user.reply_keyboard_buttons()

    calls = await _step(h, lambda: user.send_text("Serikova Aida"))
    assert calls == {"sendMessage": 1}, calls
    assert chat.text("signup-ask-district", region="")[:15] in user.last_bot_message().content
