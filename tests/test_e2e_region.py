"""Edges of "where do you live" and of the very first contact, end to end: someone from a
region the catalogue does not list, and a newcomer who types before choosing a language."""

from __future__ import annotations

import pytest

from bot.i18n import LANGUAGE_NAMES, pick_text
from sandbox.harness import BotHarness
from tests.e2e import Chat
from tests.test_e2e_signup import (
    LOCALES,
    _key,
    agree_to_consent,
    open_course,
    start_and_choose_language,
    taraz,
)
from tests.test_staff_support import staff_card_sent


@pytest.fixture
def h(harness: BotHarness) -> BotHarness:
    return harness


async def _to_region_list(chat: Chat) -> None:
    """From the course card through phone and name to the list of regions."""
    await chat.press_key("course-signup")
    await agree_to_consent(chat)
    await chat.expect(chat.text("signup-ask-phone")[:20])
    chat.say("0555 123 456")
    await chat.expect(chat.text("signup-ask-name")[:20])
    chat.say("Турдубаева Айпери")
    await chat.expect(chat.text("signup-ask-district", region="")[:15])
    await chat.press_key("signup-other-region")
    await chat.expect(chat.label("signup-region-unlisted"), button=True)


@pytest.mark.parametrize("locale", LOCALES)
async def test_region_not_listed_goes_on_without_district(h: BotHarness, locale: str) -> None:
    centre, course = await taraz(h)
    user = h.user(8100 + LOCALES.index(locale), language_code=locale)
    chat = Chat(h, user, locale)
    await start_and_choose_language(chat, locale)
    await open_course(chat, centre, course)
    await _to_region_list(chat)
    # The region list also offers a way on for regions the catalogue does not list.
    regions = user.last_bot_message()
    assert regions.buttons()[-1] == chat.label("signup-region-unlisted")
    await chat.press_key("signup-region-unlisted")
    # One question at a time: the next step (the group) comes.
    await chat.expect(chat.text("signup-ask-group")[:15])
    assert await h.app.storage.get_state(_key(h, user.id)) == "SignUp:group"
    # Back returns to the region list, with the same way on.
    chat.tap_key("btn-back")
    await chat.expect(chat.label("signup-region-unlisted"), button=True)
    await chat.press_key("signup-region-unlisted")
    await chat.press_key("signup-any-group")
    summary = await chat.expect(chat.label("signup-confirm"), button=True)
    # The summary says so in the reader's language ("🏡 District: not listed").
    expected = chat.text(
        "signup-summary",
        course="",
        centre="",
        group="",
        name="",
        phone="",
        district=chat.label("signup-district-unlisted"),
    )
    district_line = next(line for line in expected.splitlines() if "🏡" in line)
    assert district_line in summary.content.splitlines()
    await chat.press_key("signup-confirm")
    await chat.expect(chat.text("signup-done", id=1)[:20])
    await chat.expect_key("signup-next-steps")

    [app] = await h.repo.applications.for_user(user.id)
    assert app.district_id is None
    assert (app.full_name, app.phone) == ("Турдубаева Айпери", "+996555123456")
    # The staff chat gets the application with a dash for the district.
    await staff_card_sent(h, app.id)  # through the outbox
    staff_msg = h.staff_group.last_bot_message()
    assert "Турдубаева Айпери" in staff_msg.content
    assert "🏡 —" in staff_msg.content


async def test_district_edited_from_summary_both_ways(h: BotHarness) -> None:
    centre, course = await taraz(h)
    user = h.user(8201, language_code="ru")
    chat = Chat(h, user, "ru")
    await start_and_choose_language(chat, "ru")
    await open_course(chat, centre, course)
    await _to_region_list(chat)
    await chat.press_key("signup-region-unlisted")
    await chat.press_key("signup-any-group")
    summary = await chat.expect(chat.label("signup-confirm"), button=True)
    assert chat.label("signup-district-unlisted") in summary.content

    # Edit: the region turns out to be listed after all; pick a district there.
    await chat.press_key("signup-edit-district")
    await chat.expect(chat.label("signup-region-unlisted"), button=True)
    regions = await h.repo.catalogue.regions()
    naryn = next(r for r in regions if "Naryn" in r.name["en"])
    await chat.press(pick_text(naryn.name, "ru"))
    await chat.expect(chat.text("signup-ask-district", region="")[:15])
    [district, *_] = await h.repo.catalogue.districts(naryn.id)
    await chat.press(pick_text(district.name, "ru"))
    summary = await chat.expect(chat.label("signup-confirm"), button=True)
    assert pick_text(district.name, "ru") in summary.content
    assert chat.label("signup-district-unlisted") not in summary.content

    # Edit again: back to "not listed" (from Naryn's districts via Other region).
    await chat.press_key("signup-edit-district")
    await chat.expect(chat.label("signup-other-region"), button=True)
    await chat.press_key("signup-other-region")
    await chat.expect(chat.label("signup-region-unlisted"), button=True)
    await chat.press_key("signup-region-unlisted")
    summary = await chat.expect(chat.label("signup-confirm"), button=True)
    assert chat.label("signup-district-unlisted") in summary.content
    await chat.press_key("signup-confirm")
    await chat.expect(chat.text("signup-done", id=1)[:20])
    await chat.expect_key("signup-next-steps")
    [app] = await h.repo.applications.for_user(user.id)
    assert app.district_id is None


@pytest.mark.parametrize("locale", LOCALES)
async def test_text_before_language_shows_the_picker_again(h: BotHarness, locale: str) -> None:
    _, course = await taraz(h)
    user = h.user(8300 + LOCALES.index(locale), language_code=locale)
    chat = Chat(h, user, locale)
    user.send_command("start", args=f"c_{course.code}")
    await chat.expect("Choose your language")
    chat.say("hello?")
    # "Use the buttons below" comes with buttons below it: the language picker again, in
    # Telegram's language, that language ticked and first (no main menu exists yet).
    again = await chat.expect_key("fallback-unknown")
    assert again.button_rows()[0][0] == f"✓ {LANGUAGE_NAMES[locale]}"
    assert sorted(b.removeprefix("✓ ") for b in again.buttons()) == sorted(LANGUAGE_NAMES.values())
    # The repeated picker works, and the deep-linked course is still opened.
    await chat.press(f"✓ {LANGUAGE_NAMES[locale]}")
    await chat.expect_key("start-welcome")
    await chat.expect(pick_text(course.description, locale)[:40])
    assert (await h.repo.users.get(user.id)).locale == locale


async def test_text_without_start_and_back_before_language(h: BotHarness) -> None:
    user = h.user(8401, language_code="kk")
    chat = Chat(h, user, "kk")
    chat.say("Сәлем")  # never sent /start
    again = await chat.expect_key("fallback-unknown")
    assert again.button_rows()[0][0] == f"✓ {LANGUAGE_NAMES['kk']}"
    chat.say(chat.label("btn-cancel"))  # a stale "Cancel" typed: no menu to return to yet
    again = await chat.expect_key("fallback-unknown")
    assert again.button_rows()[0][0] == f"✓ {LANGUAGE_NAMES['kk']}"
    assert (await h.repo.users.get(user.id)).locale is None
    # Once a language is chosen, free text is offered to a centre's staff (issue 12; no
    # application yet, so a region first), and the main menu is there.
    await chat.press(f"✓ {LANGUAGE_NAMES['kk']}")
    await chat.expect_key("start-welcome")
    chat.say("Сәлем")
    reply = await chat.expect(chat.text("support-ask-where"))
    assert not any(name in reply.buttons() for name in LANGUAGE_NAMES.values())
    assert chat.label("menu-catalogue") in user.reply_keyboard_buttons()
