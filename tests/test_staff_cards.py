"""What staff see of an application: the centre and the region on the staff-chat post and
in the list; Accept that places an applicant in another group; moving to a full group."""

from __future__ import annotations

from bot.i18n import pick_text
from bot.notify import group_schedule
from sandbox.harness import ADMIN_ID, BotHarness
from tests.e2e import Chat, plain
from tests.test_staff_support import (
    applicant,
    first_course,
    h,
    open_menu,
    press_in_group,
    refused_requests,
    staff_message,
)

__all__ = ["h"]


async def test_post_and_list_name_the_centre_and_the_region(h: BotHarness) -> None:
    course, _groups = await first_course(h)
    centre = await h.repo.catalogue.centre(course.centre_id)
    region = await h.repo.catalogue.region(centre.region_id)
    district = (await h.repo.catalogue.districts(centre.region_id))[0]
    _, app = await applicant(h, 6101, "kk", course.id, district_id=district.id)

    post = staff_message(h, app.id).content
    assert pick_text(centre.city, "ru") in post
    assert f"{pick_text(district.name, 'ru')}, {pick_text(region.name, 'ru')}" in post

    chat = Chat(h, h.admin("en"), "en")
    await open_menu(chat)
    await chat.press_key("staff-section-applications")
    await chat.press_key("staff-btn-show", count=1)
    listing = (await chat.expect(f"No. {app.id}")).content
    assert f"{pick_text(course.title, 'en')} ({pick_text(centre.city, 'en')})" in listing
    assert f"{pick_text(district.name, 'en')}, {pick_text(region.name, 'en')}" in listing
    assert refused_requests(h) == []


async def test_accept_into_another_group_is_said_to_staff_and_applicant(h: BotHarness) -> None:
    admin = h.admin("ru")
    course, groups = await first_course(h)
    chosen, other = groups[0], groups[1]
    await h.repo.applications.set_group_capacity(chosen.id, 1, actor_id=ADMIN_ID)
    _, first = await applicant(h, 6201, "ru", course.id, group_id=chosen.id, post=False)
    await h.repo.applications.decide(first.id, actor_id=ADMIN_ID, action="accept")
    user, app = await applicant(h, 6202, "en", course.id, group_id=chosen.id)

    post = staff_message(h, app.id)
    ru = h.app.translator.bind("ru")
    answer = await press_in_group(h, admin, post.message_id, ru.plain("staff-btn-accept"))
    placed = ru.plain(
        "staff-accepted-other-group",
        group=pick_text(other.name, "ru"),
        chosen=pick_text(chosen.name, "ru"),
    )
    assert answer.show_alert and placed in answer.text
    assert (await h.repo.applications.get(app.id)).group_id == other.id
    assert placed in staff_message(h, app.id).content

    told = (await user.wait_reply()).content
    en = h.app.translator.bind("en")
    schedule = await group_schedule(en, h.repo, other.id)
    assert schedule != en.plain("course-schedule-tba")  # the demo groups have classes
    assert pick_text(other.name, "en") in told and schedule in told
    assert (
        plain(en("notice-other-group", chosen=pick_text(chosen.name, "en"), group="x"))[:30] in told
    )
    assert refused_requests(h) == []


async def test_move_to_a_full_group_says_what_to_do(h: BotHarness) -> None:
    course, groups = await first_course(h)
    await h.repo.applications.set_group_capacity(groups[1].id, 1, actor_id=ADMIN_ID)
    _, filler = await applicant(h, 6301, "ru", course.id, post=False)
    await h.repo.applications.decide(
        filler.id, actor_id=ADMIN_ID, action="accept", group_id=groups[1].id
    )
    _, app = await applicant(h, 6302, "ru", course.id, group_id=groups[0].id, post=False)
    await h.repo.applications.decide(app.id, actor_id=ADMIN_ID, action="accept")

    chat = Chat(h, h.admin("en"), "en")
    await open_menu(chat)
    await chat.press_key("staff-section-applications")
    await chat.press(chat.label("staff-btn-status", value="⏳ " + chat.label("status-pending")))
    await chat.press("✅ " + chat.label("status-accepted"))
    await chat.press_key("staff-btn-show", count=2)
    await chat.press_key("staff-btn-open", id=app.id)
    await chat.press_key("staff-btn-move")
    label = chat.label(
        "staff-group-seats", group=pick_text(groups[1].name, "en"), taken=1, capacity=1
    )
    await chat.expect(label, button=True)
    query = chat.user.press_button(label)
    answer = await chat.user.wait_callback_answer(query["id"])
    assert answer.show_alert and answer.text == chat.label("staff-move-full-hint")
    assert (await h.repo.applications.get(app.id)).group_id == groups[0].id
    assert refused_requests(h) == []
