"""The applications list: filters by course, group, status and district; pages that stay
under Telegram's 4096 characters however long the list."""

from __future__ import annotations

import csv
import io
import re

from bot.i18n import pick_text
from sandbox.harness import ADMIN_ID, BotHarness
from tests.e2e import Chat, plain
from tests.test_staff_support import (
    applicant,
    first_course,
    h,
    open_menu,
    refused_requests,
    title,
)

__all__ = ["h"]
LONG_NAME = "Абдрахманова-Жумабекова Айгерим-Гульнара Нурсултановна-Сейткали " * 2


def ids_on(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"(?:№|No\.) (\d+) ·", text)]


async def test_filters_and_pages_of_a_long_list(h: BotHarness) -> None:
    admin = h.admin("ru")
    chat = Chat(h, admin, "ru")
    course, _groups = await first_course(h)
    centre = await h.repo.catalogue.centre(course.centre_id)
    districts = await h.repo.catalogue.districts(centre.region_id)
    apps = []
    for i in range(27):
        _, app = await applicant(
            h,
            5000 + i,
            ("kk", "ky", "ru", "en")[i % 4],
            course.id,
            name=f"{LONG_NAME[:100]} {i}",
            district_id=districts[i % 3].id,
            post=False,
        )
        apps.append(app)
    for app in apps[:4]:
        await h.repo.applications.decide(app.id, actor_id=ADMIN_ID, action="accept")

    await open_menu(chat)
    await chat.press_key("staff-section-applications")
    # The list opens on applications under review.
    screen = await chat.expect(chat.text("staff-apps-header"))
    assert plain(h.app.translator.plural("ru", "staff-apps-found", 23)) in screen.content
    any_ = chat.label("staff-any")
    await chat.press(chat.label("staff-btn-status", value="⏳ " + chat.label("status-pending")))
    await chat.expect(chat.text("staff-pick-status"))
    await chat.press(any_)
    await chat.press_key("staff-btn-show", count=27)

    seen: list[int] = []
    pages = 0
    total_length = 0
    while True:
        page = await chat.expect(chat.text("staff-apps-page", page=pages + 1, pages=3, total=27))
        assert len(page.content) <= 4096
        total_length += len(page.content)
        seen += ids_on(page.content)
        pages += 1
        if "▶️" not in page.buttons():
            break
        await chat.press("▶️")
    assert pages == 3 and total_length > 4096
    assert sorted(seen) == sorted(a.id for a in apps) and len(seen) == len(set(seen))
    # Newest first.
    assert seen == sorted(seen, reverse=True)

    # Back one page, then narrow by district.
    await chat.press("◀️")
    await chat.expect(chat.text("staff-apps-page", page=2, pages=3, total=27))
    await chat.press_key("staff-btn-filters")
    await chat.press(chat.label("staff-btn-district", value=any_))
    district = districts[1]
    await chat.press(f"{pick_text(district.name, 'ru')} (9)")
    await chat.press_key("staff-btn-show", count=9)
    listing = await chat.expect(chat.text("staff-apps-page", page=1, pages=1, total=9))
    assert sorted(ids_on(listing.content)) == sorted(
        a.id for a in apps if a.district_id == district.id
    )

    # Narrow further: course, group and status.
    await chat.press_key("staff-btn-filters")
    await chat.press(chat.label("staff-btn-course", value=any_))
    await chat.press(title(course, "ru"))
    accepted = [await h.repo.applications.get(a.id) for a in apps[:4]]
    group_id = accepted[1].group_id  # the district-1 one that was accepted
    assert group_id is not None
    group = await h.repo.catalogue.group(group_id)
    await chat.press(chat.label("staff-btn-group", value=any_))
    await chat.press(
        chat.label(
            "staff-group-seats",
            group=pick_text(group.name, "ru"),
            taken=group.seats_taken,
            capacity=group.capacity,
        )
    )
    await chat.press_key("staff-btn-show", count=1)
    listing = await chat.expect(chat.text("staff-apps-page", page=1, pages=1, total=1))
    assert ids_on(listing.content) == [apps[1].id]

    # A forged filter (a group of another course) is refused, not trusted.
    other_course = (await h.repo.catalogue.courses(centre.id))[1]
    other_group = (await h.repo.catalogue.groups(other_course.id))[0]
    data = f"sap:l:{course.id}:{other_group.id}::0:0:0:0:0"
    query = admin.press(data, listing.message_id)
    answer = await admin.wait_callback_answer(query["id"])
    assert answer.text == chat.label("error-stale-button")

    # A card with the longest name still fits.
    await chat.press_key("staff-btn-open", id=apps[1].id)
    card = await chat.expect(apps[1].full_name)
    assert len(card.content) <= 4096
    assert refused_requests(h) == []


async def test_list_dates_are_the_centres_local_date(h: BotHarness) -> None:
    """An application sent at 01:30 local time (the evening before in UTC) is listed
    under the local date, as its card shows it."""
    from datetime import UTC, date, datetime

    from sqlalchemy import update

    from bot.formatting import fmt_short_date
    from db.models import Application

    admin = h.admin("ru")
    chat = Chat(h, admin, "ru")
    course, _groups = await first_course(h)
    centre = await h.repo.catalogue.centre(course.centre_id)
    assert centre.timezone not in ("UTC", "Etc/UTC")  # the test needs a zone ahead of UTC
    _, app = await applicant(h, 5900, "ru", course.id, post=False)
    sent = datetime(2026, 12, 5, 20, 30, tzinfo=UTC)  # 6 December after midnight locally
    async with h.app.db.transaction() as s:
        await s.execute(update(Application).where(Application.id == app.id).values(created_at=sent))

    await open_menu(chat)
    await chat.press_key("staff-section-applications")
    await chat.expect(chat.text("staff-apps-header"))
    await chat.press_key("staff-btn-show", count=1)
    listing = await chat.expect(chat.text("staff-apps-page", page=1, pages=1, total=1))
    local = fmt_short_date(date(2026, 12, 6), "ru")
    assert local in listing.content, listing.content
    assert fmt_short_date(date(2026, 12, 5), "ru") not in listing.content


async def test_filter_by_the_answer_to_a_choice_question(h: BotHarness) -> None:
    """A centre member narrows the list by an answer (one choice, then one of several):
    the counts, the list, the buttons that page and open it and the export keep the
    filter; another centre's applicants never count; forged or stale answers are refused
    with a message saying what to do."""
    from bot.staff_callbacks import AppsAction, AppsCB
    from db.repo.outcomes import save_answers

    first, _groups = await first_course(h)
    assert await h.repo.outcomes.course_questions(first.id) == []  # asks nothing extra
    course = (await h.repo.catalogue.courses(first.centre_id))[1]
    centres = await h.repo.catalogue.centres()
    other = next(c for c in centres if c.id != course.centre_id)
    other_course = (await h.repo.catalogue.courses(other.id))[0]
    questions = {q.code: q for q in await h.repo.outcomes.course_questions(course.id)}
    laptop, experience = questions["laptop"], questions["experience"]
    assert [o.code for o in laptop.options] == ["yes", "no"] and experience.kind == "multi"
    answers = [  # laptop, prior experience (a multiple choice)
        ("yes", "school,online"),
        ("no", "online"),
        ("yes", "work"),
        (None, None),
    ]
    apps = []
    for i, (has_laptop, done) in enumerate(answers):
        _, app = await applicant(h, 6000 + i, "en", course.id, post=False)
        apps.append(app)
        given = {laptop.id: has_laptop, experience.id: done}
        async with h.app.db.transaction() as s:
            await save_answers(s, app.id, {k: v for k, v in given.items() if v})
    _, elsewhere = await applicant(h, 6100, "en", other_course.id, post=False)
    async with h.app.db.transaction() as s:
        await save_answers(s, elsewhere.id, {laptop.id: "yes", experience.id: "online"})

    member = h.user(6200, first_name="Dana", language_code="en")
    await h.repo.users.upsert_seen(6200, first_name="Dana", username=None, language_code="en")
    await h.repo.users.set_locale(6200, "en")
    await h.repo.staff.set_role(ADMIN_ID, 6200, "staff")
    await h.repo.staff.grant(ADMIN_ID, 6200, course.centre_id, "staff")
    chat = Chat(h, member, "en")
    any_ = chat.label("staff-any")
    await open_menu(chat)
    await chat.press_key("staff-section-applications")
    await chat.expect(chat.text("staff-apps-header"))
    await chat.press_key("staff-btn-answer", value=any_)
    await chat.expect(chat.text("staff-pick-question"))
    await chat.press(pick_text(laptop.text, "en"))
    await chat.expect(chat.text("staff-pick-option", question=pick_text(laptop.text, "en")))
    await chat.press(f"{pick_text(laptop.options[0].text, 'en')} (2)")  # not the other centre's
    screen = await chat.expect(plain(h.app.translator.plural("en", "staff-apps-found", 2)))
    assert pick_text(laptop.text, "en") in screen.content  # the filter line names it
    await chat.press_key("staff-btn-show", count=2)
    listing = await chat.expect(chat.text("staff-apps-page", page=1, pages=1, total=2))
    assert sorted(ids_on(listing.content)) == [apps[0].id, apps[2].id]
    # Every button of the list (open, page, back to the filter) carries the answer.
    carried = {
        (data.question, data.option)
        for row in (listing.reply_markup or {})["inline_keyboard"]
        for b in row
        if b.get("callback_data", "").startswith("sap:")
        for data in [AppsCB.unpack(b["callback_data"])]
    }
    assert carried == {(laptop.id, 1)}

    # One of several answers: anyone who ticked "online" among their experience.
    await chat.press_key("staff-btn-filters")
    await chat.press_key("staff-btn-answer", value=pick_text(laptop.options[0].text, "en"))
    await chat.press(pick_text(experience.text, "en"))
    online = experience.options[1]
    await chat.press(f"{pick_text(online.text, 'en')} (2)")
    await chat.press_key("export-btn-csv")
    sent = await h.server.wait_for(lambda r: r.method == "sendDocument" and r.ok)
    data = h.server.file(sent.result["document"]["file_id"]).data  # type: ignore[union-attr]
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert sorted(int(r[0]) for r in rows[1:]) == [apps[0].id, apps[1].id]
    assert pick_text(online.text, "en") in plain(sent.params.get("caption", ""))

    # Forged or out of date: an option that is not there (or none), a question that is
    # no choice, a question that is gone: refused, saying what to do.
    birth_year = questions["birth-year"]
    stale_answer = chat.label("staff-apps-answer-stale")
    for question, option in ((laptop.id, 3), (birth_year.id, 1), (laptop.id, 0), (9999, 1)):
        forged = AppsCB(action=AppsAction.list, status="p", question=question, option=option)
        query = member.press(forged.pack(), listing.message_id)
        answer = await member.wait_callback_answer(query["id"])
        assert (answer.text, answer.show_alert) == (stale_answer, True), (question, option)
    # The longest filter a button can carry fits Telegram's 64 bytes.
    widest = AppsCB(
        action=AppsAction.move_to,
        course=99_999,
        group=99_999,
        status="w",
        district=99_999,
        page=999,
        export=1,
        id=9_999_999,
        value=99_999,
        question=9_999,
        option=12,
    )
    assert len(widest.pack().encode()) <= 64
    assert refused_requests(h) == []
