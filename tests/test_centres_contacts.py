"""Centre contacts: checked in the catalogue file and in the bot alike, shown to citizens
where they need them (centre page, course card, Help, the approval notice, reminders) in
each of the four languages, and edited from the bot by the centre's manager."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import LOCALES
from bot.contacts import contacts_lines
from bot.services.catalog import CatalogError, parse_catalog
from bot.services.contacts import ContactError, clean_handle, clean_phones, with_field
from db.dto import CentreContacts
from sandbox.harness import ADMIN_ID, BotHarness
from tests.catalog_text import english
from tests.e2e import Chat
from tests.test_staff_support import applicant, h, open_menu, refused_requests

__all__ = ["h"]

DEMO = "catalog/demo.yaml"


def test_values_are_checked() -> None:
    assert clean_phones("+7 700 000 00 00, +996 (312) 00-00-00") == (
        "+7 700 000 00 00",
        "+996 (312) 00-00-00",
    )
    for bad in ("87010000000", "+7 70", "call me", "+1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6"):
        with pytest.raises(ContactError):
            clean_phones(bad)
    with pytest.raises(ContactError):
        clean_phones("+77010000001, +77010000002, +77010000003, +77010000004")
    assert clean_handle("https://t.me/taraz_it", "t.me") == "taraz_it"
    assert clean_handle("@taraz.it", "instagram.com") == "taraz.it"
    with pytest.raises(ContactError):
        clean_handle("two words", "t.me")
    contacts = CentreContacts(phones=("+77000000000",), demo=True)
    edited = with_field(contacts, "website", "https://example.org/it", "kk")
    assert edited.website == "https://example.org/it" and not edited.demo
    hours = with_field(edited, "hours", "Дс–Жм 9–18", "kk")
    assert hours.hours == {"kk": "Дс–Жм 9–18"}
    both = with_field(hours, "hours", "Пн–Пт 9–18", "ru").hours
    assert both == {"kk": "Дс–Жм 9–18", "ru": "Пн–Пт 9–18"}  # one language at a time
    assert with_field(hours, "hours", "9–18", "*").hours == dict.fromkeys(LOCALES, "9–18")
    assert with_field(hours, "hours", "-", "kk").hours == {}
    with pytest.raises(ContactError):
        with_field(hours, "hours", "9–18", "de")
    assert with_field(edited, "phones", "-", "kk").phones == ()
    with pytest.raises(ContactError):
        with_field(edited, "website", "http://plain.example", "kk")


def test_catalogue_contacts_are_optional_and_checked() -> None:
    text = Path(DEMO).read_text(encoding="utf-8")
    data = parse_catalog(text, "demo.yaml")
    given = {c.code: c.contacts for c in data.centres}
    assert given["taraz-it"] == {
        "phones": ["+7 700 000 00 00"],
        "hours": {
            "kk": "Дс–Жм 9:00–18:00",
            "ky": "Дш–Жм 9:00–18:00",
            "ru": "Пн–Пт 9:00–18:00",
            "en": "Mon–Fri 9:00–18:00",
        },
        "demo": True,
    }
    assert given["naryn-pl87"] is None  # optional: none given
    bad = text.replace('phones: ["+7 700 000 00 00"]', 'phones: ["8 700"]\n      fax: x')
    with pytest.raises(CatalogError) as caught:
        parse_catalog(bad, "bad.yaml")
    errors = "\n".join(english(caught.value))
    assert "'contacts.phones': a phone number starts with +" in errors
    assert "unknown key 'fax'" in errors


async def test_contacts_reach_citizens_in_every_language(h: BotHarness) -> None:
    centre = (await h.repo.catalogue.centres())[0]  # Taraz: demo contacts in the catalogue
    course = (await h.repo.catalogue.courses(centre.id))[0]
    for n, locale in enumerate(("kk", "ky", "ru", "en")):
        fake, app = await applicant(h, 6101 + n, locale, course.id)
        chat = Chat(h, fake, locale)
        t = h.app.translator.bind(locale)
        phone = t("contacts-phones", phones="+7 700 000 00 00")
        hours = t("contacts-hours", hours=t.pick(centre.contacts.hours))
        # The centre page and the course card.
        fake.send_command("start", f"ctr_{centre.code}")
        page = await chat.expect(phone)
        assert hours in page.content and t("contacts-demo") in page.content
        fake.send_command("start", f"c_{course.code}")
        card = await chat.expect(t.plain("course-address", address=t.pick(centre.address)))
        assert phone in card.content
        # Help: the contacts of the centres they applied to.
        chat.tap_key("menu-help")
        helped = await chat.expect(t("contacts-help-header"))
        assert phone in helped.content
        # The approval notice: whom to call.
        await h.repo.applications.decide(app.id, actor_id=ADMIN_ID, action="accept")
        from bot.notify import notify_applicant

        fresh = await h.repo.applications.get(app.id)
        assert h.process is not None and h.process.bot is not None
        await notify_applicant(h.process.bot, h.app.translator, h.repo, fresh, "accepted")
        notice = fake.last_bot_message()
        assert t.pick(course.title) in notice.content and phone in notice.content
    # Reminders: "if you can't come, call …".
    from bot.reminders.texts import reminder_text

    groups = await h.repo.catalogue.groups(course.id)
    session = (await h.repo.catalogue.sessions([groups[0].id]))[0]
    info = await h.repo.reminders.session_info(session.id)
    en = h.app.translator.bind("en")
    assert en("contacts-cant-come", phones="+7 700 000 00 00") in reminder_text(
        en, info, session.starts_at.replace(day=1)
    )
    # A centre without contacts shows none, and its page says nothing is given.
    other = next(c for c in await h.repo.catalogue.centres() if c.contacts.empty)
    assert contacts_lines(en, other) == []
    assert refused_requests(h) == []


async def test_a_manager_edits_their_centres_contacts(h: BotHarness) -> None:
    centres = await h.repo.catalogue.centres()
    naryn = next(c for c in centres if c.code == "naryn-pl87")
    fake = h.user(6201, first_name="Nurlan", language_code="ky")
    fake.send_command("start")
    await fake.wait_reply()
    await h.repo.users.set_locale(fake.id, "ky")
    await h.repo.staff.grant(ADMIN_ID, fake.id, naryn.id, "manager")
    chat = Chat(h, fake, "ky")
    await open_menu(chat)
    await chat.press_key("centres-section-contacts")
    await chat.expect_key("contacts-none")  # one centre: its card straight away
    await chat.press_key("centres-field-phones")
    chat.say("0 3522 5 00 00")  # no country code: told how to write it
    await chat.expect_key("centres-contacts-error-phone")
    chat.say("+996 3522 5 00 00")
    saved = await chat.expect(chat.text("contacts-phones", phones="+996 3522 5 00 00"))
    assert chat.text("centres-saved") in saved.content
    await chat.press_key("centres-field-telegram")
    chat.say("https://t.me/naryn_pl87")
    await chat.expect(chat.text("contacts-telegram", handle="naryn_pl87"))
    # A text: each language's text is shown; the manager says which language they write.
    await chat.press_key("centres-field-hours")
    screen = await chat.expect(chat.label("centres-contacts-btn-all-languages"), button=True)
    assert "Кыргызча: —" in screen.content
    await chat.press("Кыргызча")
    ask = chat.text("centres-contacts-ask-lang", field="x", centre="y", language="Кыргызча")
    await chat.expect(ask[-30:])
    chat.say("Дш–Жм 8:00–17:00")
    await chat.expect("Кыргызча: Дш–Жм 8:00–17:00")
    await chat.press("Русский")
    chat.say("Пн–Пт 8:00–17:00")
    saved = await chat.expect("Русский: Пн–Пт 8:00–17:00")
    assert "Кыргызча: Дш–Жм 8:00–17:00" in saved.content  # the other language stays
    # Қазақша has no text of its own: it shows the Russian one, and says so.
    assert chat.text("centres-contacts-text-missing", text="Пн–Пт 8:00–17:00") in saved.content
    await chat.press("Русский")
    chat.say("-")  # clears Russian only
    await chat.expect(
        "Русский: " + chat.text("centres-contacts-text-missing", text="Дш–Жм 8:00–17:00")
    )
    await chat.press("Русский")
    chat.say("Пн–Пт 8:00–17:00")
    await chat.expect("Русский: Пн–Пт 8:00–17:00")
    await chat.press_key("btn-back")
    await chat.press_key("centres-field-person")
    await chat.press_key("centres-contacts-btn-all-languages")
    chat.say("Нурлан Асанов")
    await chat.expect("English: Нурлан Асанов")
    stored = (await h.repo.catalogue.centre(naryn.id)).contacts
    assert stored.phones == ("+996 3522 5 00 00",) and stored.telegram == "naryn_pl87"
    assert stored.hours == {"ky": "Дш–Жм 8:00–17:00", "ru": "Пн–Пт 8:00–17:00"}
    assert stored.person == dict.fromkeys(("kk", "ky", "ru", "en"), "Нурлан Асанов")
    # Each reader gets their language's text, or the Russian one.
    for locale, hours in (("ky", "Дш–Жм"), ("ru", "Пн–Пт"), ("kk", "Пн–Пт"), ("en", "Пн–Пт")):
        tr = h.app.translator.bind(locale)
        lines = "\n".join(contacts_lines(tr, await h.repo.catalogue.centre(naryn.id)))
        assert tr("contacts-hours", hours=f"{hours} 8:00–17:00") in lines
        assert tr("contacts-person", person="Нурлан Асанов") in lines
    await chat.press_key("btn-back")
    await chat.press_key("centres-field-phones")
    chat.say("-")  # cleared
    await chat.expect(chat.text("centres-saved"))
    assert (await h.repo.catalogue.centre(naryn.id)).contacts.phones == ()
    # Audited, for the centre.
    rows = await h.repo.audit.latest(centre_ids=frozenset({naryn.id}), viewer_id=0)
    assert [r.action for r in rows] == ["centre.contacts"] * 8 + ["staff.grant"]
    assert refused_requests(h) == []


async def test_a_large_network_asks_for_the_region_first(h: BotHarness) -> None:
    """Over eight centres, the first screen is the regions (by country, with a flag)."""
    from sqlalchemy import text

    region = next(r for r in await h.repo.catalogue.regions() if r.code == "kg-naryn")
    name = '{"kk": "Лицей %s", "ky": "Лицей %s", "ru": "Лицей %s", "en": "Lyceum %s"}'
    async with h.app.db.transaction() as s:
        for n in range(1, 4):
            await s.execute(
                text(
                    "INSERT INTO centres (code, region_id, name, city, address, latitude,"
                    " longitude, timezone, sort, contacts) VALUES (:c, :r, :n, :n, :n, 41.4,"
                    " 76.0, 'Asia/Bishkek', 50, '{}')"
                ),
                {"c": f"extra-{n}", "r": region.id, "n": name % (n, n, n, n)},
            )
    fake = h.user(6301, first_name="Ainura", language_code="en")
    chat = Chat(h, fake, "en")
    fake.send_command("start")
    await fake.wait_reply()
    await h.repo.users.set_locale(fake.id, "en")
    fake.send_command("courses")
    first = await chat.expect_key("catalogue-choose-region")
    labels = first.buttons()
    assert labels[0].startswith("🇰🇿") and all(b[:2] in ("🇰🇿", "🇰🇬") for b in labels)
    naryn = next(b for b in labels if "Naryn" in b)
    assert naryn.endswith("· 4")  # the lyceum of the demo and the three added
    await chat.press(naryn)
    page = await chat.expect(chat.text("catalogue-choose-centre-in", region="Naryn Region")[:5])
    assert "Lyceum 2 — Lyceum 2" in page.buttons()
    assert refused_requests(h) == []


async def test_the_catalogue_offers_the_persons_region_first(h: BotHarness) -> None:
    """Once a person's district is known (an earlier application), the first screen puts
    their region's centres first and says why; a first visit keeps the usual order."""
    centres = await h.repo.catalogue.centres()
    regions = {r.id: r for r in await h.repo.catalogue.regions()}
    last = centres[-1]
    assert last.region_id != centres[0].region_id
    district = (await h.repo.catalogue.districts(last.region_id))[0]
    chat = Chat(h, h.user(6401, first_name="Dana", language_code="en"), "en")
    chat.user.send_command("start")
    await chat.user.wait_reply()
    await h.repo.users.set_locale(chat.user.id, "en")
    chat.user.send_command("courses")
    usual = await chat.expect_key("catalogue-choose-centre")
    assert "📍" not in usual.content.split("\n")[1]
    first_button = usual.buttons()[0]

    # Dana applied before, naming her district.
    await h.repo.users.set_consent(chat.user.id, datetime(2026, 11, 1, tzinfo=UTC))
    course = (await h.repo.catalogue.courses(centres[0].id))[0]
    await h.repo.applications.submit(
        user_id=chat.user.id,
        course_id=course.id,
        group_id=None,
        full_name="Dana D",
        phone="+77010000000",
        district_id=district.id,
        consent_at=datetime(2026, 11, 1, tzinfo=UTC),
        source=None,
    )
    chat.user.send_command("courses")
    near = await chat.expect(
        chat.text("catalogue-your-region-first", region=regions[last.region_id].name["en"])
    )
    assert near.buttons()[0] != first_button
    home = [c for c in centres if c.region_id == last.region_id]
    assert near.buttons()[0] in (
        h.app.translator.plain(
            "en", "catalogue-centre-button", name=c.name["en"], city=c.city["en"]
        )
        for c in home
    )
    assert refused_requests(h) == []
