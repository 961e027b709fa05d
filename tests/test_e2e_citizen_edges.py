"""The citizen journey on a slow phone: double taps, old buttons, help and stale keyboards
inside and outside the form. Real polling against the fake Bot API, as in test_e2e_signup."""

from __future__ import annotations

from aiogram.fsm.storage.base import StorageKey

from bot.callbacks import LangCB
from bot.i18n import LANGUAGE_NAMES, pick_text
from sandbox.harness import BotHarness
from tests.e2e import Chat
from tests.test_e2e_signup import (
    agree_to_consent,
    count_applications,
    fill_form_until_summary,
    open_course,
    start_and_choose_language,
    taraz,
)


def _key(h: BotHarness, user_id: int) -> StorageKey:
    return StorageKey(bot_id=h.server.sim.bot_id, chat_id=user_id, user_id=user_id)


async def _in_name_step(h: BotHarness, user_id: int, locale: str) -> Chat:
    centre, course = await taraz(h)
    chat = Chat(h, h.user(user_id, language_code=locale), locale)
    await start_and_choose_language(chat, locale)
    await open_course(chat, centre, course)
    await chat.press_key("course-signup")
    await agree_to_consent(chat)
    await chat.expect(chat.text("signup-ask-phone")[:20])
    chat.say("0555 123 456")
    await chat.expect(chat.text("signup-ask-name")[:20])
    assert await h.app.storage.get_state(_key(h, user_id)) == "SignUp:name"
    return chat


async def test_language_double_tap_and_old_picker(harness: BotHarness) -> None:
    h = harness
    user = h.user(7301, language_code="ky")
    chat = Chat(h, user, "ky")
    user.send_command("start")
    picker = await chat.expect("Choose your language")
    data = picker.callback_data(f"✓ {LANGUAGE_NAMES['ky']}")
    assert data is not None
    # Two taps before the first edit arrives (slow data): both answered, neither an error.
    first = user.press(data, picker.message_id)
    second = user.press(data, picker.message_id)
    for query in (first, second):
        answer = await user.wait_callback_answer(query["id"])
        assert answer is not None and answer.text == chat.label("language-set")
        assert not answer.show_alert
    await chat.expect_key("menu-main")
    texts = [m.content for m in user.bot_messages()]
    assert chat.text("error-generic") not in texts
    assert texts.count(chat.text("start-welcome")) == 1
    assert (await h.repo.users.get(user.id)).locale == "ky"

    # A forged language code: a stale-button alert in the user's language, nothing changes.
    query = user.press("lang:xx", picker.message_id)
    answer = await user.wait_callback_answer(query["id"])
    assert answer.text == chat.label("error-stale-button") and answer.show_alert
    assert (await h.repo.users.get(user.id)).locale == "ky"


async def test_old_language_picker_inside_the_form_ends_it(harness: BotHarness) -> None:
    h = harness
    chat = await _in_name_step(h, 7302, "en")
    # The first message was the language picker (its buttons are gone, but an old client
    # or a double tap can still send what they carried).
    picker = chat.user.bot_messages()[0]
    query = chat.user.press(LangCB(code="en").pack(), picker.message_id)
    answer = await chat.user.wait_callback_answer(query["id"])
    assert answer.text == chat.label("language-set")
    await chat.expect_key("form-cancelled")
    assert await h.app.storage.get_state(_key(h, 7302)) is None
    assert chat.label("menu-catalogue") in chat.user.reply_keyboard_buttons()


async def test_help_inside_the_form_says_the_form_ended(harness: BotHarness) -> None:
    h = harness
    chat = await _in_name_step(h, 7303, "kk")
    chat.user.send_command("help")
    await chat.expect_key("form-cancelled")
    await chat.expect(chat.text("help-text")[:25])
    assert await h.app.storage.get_state(_key(h, 7303)) is None
    assert await count_applications(h) == 0
    # Outside a form, help is one message.
    before = len(chat.user.bot_messages())
    chat.tap_key("menu-help")
    await chat.expect(chat.text("help-text")[:25])
    assert len(chat.user.bot_messages()) == before + 1


async def test_form_keyboard_left_over_leads_to_the_main_menu(harness: BotHarness) -> None:
    h = harness
    chat = await _in_name_step(h, 7304, "ru")
    # The form ends elsewhere (here: its state is dropped, as after "delete my data" on
    # another device); the Back / Cancel keyboard is still on the phone.
    await h.app.storage.set_state(_key(h, 7304), None)
    await h.app.storage.set_data(_key(h, 7304), {})
    assert chat.label("btn-back") in chat.user.reply_keyboard_buttons()
    chat.tap_key("btn-back")
    await chat.expect_key("menu-main")
    assert chat.text("fallback-unknown") not in [m.content for m in chat.user.bot_messages()]
    assert chat.user.reply_keyboard_buttons()[0] == chat.label("menu-catalogue")
    chat.say(chat.label("btn-cancel"))
    await chat.expect_key("menu-main")


async def test_no_on_withdraw_question_restores_the_list_in_place(harness: BotHarness) -> None:
    h = harness
    centre, course = await taraz(h)
    user = h.user(7305, language_code="en")
    chat = Chat(h, user, "en")
    await start_and_choose_language(chat, "en")
    await open_course(chat, centre, course)
    await fill_form_until_summary(chat, h, course)
    await chat.press_key("signup-confirm")
    await chat.expect(chat.text("signup-done", id=1)[:20])
    await chat.expect_key("signup-next-steps")
    title = pick_text(course.title, "en")
    chat.tap_key("menu-my-applications")
    listing = await chat.expect(title)
    await chat.press_key("my-withdraw-button", course=title)
    await chat.expect(chat.text("my-withdraw-confirm", course=title))
    await chat.press_key("btn-no")
    restored = await chat.expect(chat.label("my-withdraw-button", course=title), button=True)
    # The question became the list again: nothing left that could withdraw by accident.
    assert restored.message_id == listing.message_id
    assert not [m for m in user.bot_messages() if chat.label("my-withdraw-yes") in m.buttons()]
    [app] = await h.repo.applications.for_user(user.id)
    assert app.status == "pending"
