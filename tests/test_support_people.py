"""Find a person and the person card, end to end: search by part of a name in Kazakh,
Kyrgyz, Russian and English spellings, by a phone in every local format and by an
application number; the card shows the whole history; group screens link to cards."""

from __future__ import annotations

from bot.formatting import fmt_date, status_label
from bot.i18n import pick_text
from bot.staff_callbacks import CourseAction, CoursesCB
from bot.support.names import fold, parse_query, phone_digits, search
from db.dto import NewDelivery
from db.repo.people import PersonRow
from sandbox.harness import ADMIN_ID, BotHarness
from tests.e2e import Chat, plain
from tests.support_helpers import ask
from tests.test_staff_support import NOW, applicant, first_course, h, open_menu, refused_requests

__all__ = ["h"]

PEOPLE = {
    # user id: (locale, full name as typed in the application, phone as stored)
    7901: ("kk", "Сейітқызы Айгерім", "+77011234567"),
    7902: ("ky", "Жаныбеков Өмүрбек", "+996555123456"),
    7903: ("ru", "Щукина Юлия Сергеевна", "+77021112233"),
    7904: ("en", "Daniel Kim", "+77770001122"),
}
# What staff type → whom it must find.
QUERIES = {
    # part of a name, any case, Cyrillic or Latin, with kk/ky letters or without
    "айгерім": 7901,
    "AIGERIM": 7901,
    "Aygerim": 7901,
    "Сейиткызы": 7901,
    "omurbek": 7902,
    "Ömürbek": 7902,
    "ӨМҮРБЕК": 7902,
    "Zhanybekov": 7902,
    "Janybekov": 7902,
    "Shchukina": 7903,
    "щукин": 7903,
    "Yulia": 7903,
    "Даниел": 7904,
    "kim": 7904,
    # a phone in any format
    "8 701 123 45 67": 7901,
    "+7 701 123-45-67": 7901,
    "87011234567": 7901,
    "7011234567": 7901,
    "0555 12 34 56": 7902,
    "+996 555 123 456": 7902,
    "555123456": 7902,
}


def test_folding_and_phone_formats_unit() -> None:
    assert fold("Айгерім") == fold("Aigerim") == fold("AYGERIM") == fold("Aıgerım")
    assert fold("Өмүрбек") == fold("Omurbek") == fold("Ömürbek")
    assert fold("Жаныл") == fold("Zhanyl") == fold("Janyl")
    assert fold("Хасанов") == fold("Khasanov") == fold("Hasanov")
    assert fold("Ақжол") == fold("Aqzhol") == fold("Akjol")
    assert phone_digits("8 701 123 45 67") == "77011234567"
    assert phone_digits("0555 12 34 56") == "996555123456"
    assert phone_digits("+996 (555) 12-34-56") == "996555123456"
    assert parse_query("№ 12").application_id == 12
    assert parse_query("#12").application_id == 12
    assert parse_query("a").name == ""  # one letter finds everyone: refused
    rows = [
        PersonRow(uid, None, None, (name,), (phone,), (uid - 7900,))
        for uid, (_l, name, phone) in PEOPLE.items()
    ]
    for query, expected in QUERIES.items():
        assert [p.user_id for p in search(parse_query(query), rows)] == [expected], query


async def test_search_by_every_format_and_the_person_card(h: BotHarness) -> None:
    course, groups = await first_course(h)
    centre = await h.repo.catalogue.centre(course.centre_id)
    apps = {}
    users = {}
    for user_id, (locale, name, phone) in PEOPLE.items():
        users[user_id], app = await applicant(h, user_id, locale, course.id, name=name, post=False)
        # The helper makes up a phone; the stored one is what the sign-up form keeps.
        async with h.repo.db.transaction() as s:
            from db.models import Application

            row = await s.get(Application, app.id)
            row.phone = phone
        apps[user_id] = app
    # Aigerim's history: accepted into a group by the admin; answered a reminder;
    # received a notice; asked a question that staff answered.
    await h.repo.applications.decide(
        apps[7901].id, actor_id=ADMIN_ID, action="accept", group_id=groups[0].id
    )
    session = (await h.repo.catalogue.sessions([groups[0].id]))[0]
    await h.repo.attendance.answer(session.id, 7901, "yes", NOW)
    aigerim = Chat(h, users[7901], "kk")
    await h.repo.deliveries.enqueue(
        [
            NewDelivery(
                kind="notice",
                dedupe_key="test-notice:7901",
                user_id=7901,
                payload={"type": "text", "key": "support-helped"},
            )
        ]
    )
    await aigerim.expect_key("support-helped")
    await ask(aigerim, "Сабақ қай кабинетте?")

    admin = Chat(h, h.admin("en"), "en")
    await open_menu(admin)
    await admin.press_key("support-section-people")
    await admin.expect_key("support-find-ask")
    for typed, expected in QUERIES.items():
        admin.say(typed)
        found = await admin.expect(admin.text("support-find-results", count=1)[:6])
        assert len(found.buttons()) == 2, (typed, found.buttons())  # the person and Cancel
        assert PEOPLE[expected][1] in found.buttons()[0], (typed, found.buttons())
    admin.say(f"№ {apps[7903].id}")
    found = await admin.expect(admin.text("support-find-results", count=1)[:6])
    assert PEOPLE[7903][1] in found.buttons()[0]
    admin.say("Nobody Atall")
    await admin.expect_key("support-find-none")

    # The person card: contact data, language, the application with its status history
    # (submitted, accepted by whom), the group, attendance, notices, conversations.
    admin.say("+7 701 123-45-67")
    await admin.expect(admin.text("support-find-results", count=1)[:6])
    await admin.press(admin.user.last_bot_message().buttons()[0])
    card = (await admin.expect("+77011234567")).content
    assert PEOPLE[7901][1] in card and "Қазақша" in card
    assert f"№ {apps[7901].id}" in card and pick_text(course.title, "en") in card
    assert admin.text("support-history-submitted", when="x")[:9] in card
    accepted_line = plain(admin.text("support-history-step", what="A", when="B", by="Admin"))
    assert "Admin" in card and accepted_line.split("·")[-1].strip() in card
    assert pick_text(groups[0].name, "en") in card
    assert admin.text("support-person-attendance", yes=1, no=0, present=0, absent=0) in card
    assert admin.text("support-person-announcements", count=1, last="x")[:20] in card
    assert admin.text("support-person-conversations", count=1) in card
    assert pick_text(centre.city, "en") in card

    # The group screen lists its trainees; each opens the person card.
    menu = admin.user.last_bot_message()
    query = admin.user.press(
        CoursesCB(action=CourseAction.group, id=groups[0].id).pack(), menu.message_id
    )
    await admin.user.wait_callback_answer(query["id"])
    await admin.press_key("support-btn-members")
    members = await admin.expect(
        admin.text("support-group-members", group="g", course="c", count=1)[-20:]
    )
    assert members.buttons()[0] == PEOPLE[7901][1]
    await admin.press(PEOPLE[7901][1])
    await admin.expect("+77011234567")
    assert refused_requests(h) == []


async def test_my_applications_show_dates_history_next_step_and_contacts(h: BotHarness) -> None:
    course, groups = await first_course(h)
    centre = await h.repo.catalogue.centre(course.centre_id)
    user, app = await applicant(h, 7951, "ru", course.id, post=False)
    await h.repo.applications.decide(app.id, actor_id=ADMIN_ID, action="waitlist")
    await h.repo.applications.decide(
        app.id, actor_id=ADMIN_ID, action="accept", group_id=groups[0].id
    )
    chat = Chat(h, user, "ru")
    user.send_command("my")
    shown = (await chat.expect(chat.text("my-apps-header"))).content
    ru = h.app.translator.bind("ru")
    submitted = fmt_date(app.created_at.date(), "ru")
    assert chat.text("my-app-submitted", date=submitted) in shown
    assert status_label(ru, "waitlisted") in shown and status_label(ru, "accepted") in shown
    assert shown.index(status_label(ru, "waitlisted")) < shown.rindex(status_label(ru, "accepted"))
    assert chat.text("my-app-next-accepted") in shown
    assert pick_text(centre.address, "ru") in shown
    assert chat.text("my-apps-ask") in shown
