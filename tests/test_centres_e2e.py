"""Two centres, two staff members, two staff chats, end to end against the fake Bot API.

A centre manager adds the bot to a group and binds it from the button the bot offers
there (no chat id typed); a programme admin binds another group with /staffchat. An
application to centre A reaches only A's chat and A's lists; B's manager cannot see or
decide it; the programme admin sees both; the bot removed from A's group unbinds it and
A's applications fall back to the programme's staff chat.
"""

from __future__ import annotations

from sandbox.harness import ADMIN_ID, STAFF_CHAT_ID, BotHarness
from sandbox.telegram import FakeGroupChat
from tests.e2e import Chat
from tests.test_staff_support import applicant, h, open_menu, refused_requests

__all__ = ["h"]

CHAT_A = -100_5001
CHAT_B = -100_5002


def posts(group: FakeGroupChat, application_id: int) -> list[str]:
    return [m.content for m in group.bot_messages() if f"№ {application_id}\n" in m.content + "\n"]


async def test_two_centres_two_chats(h: BotHarness) -> None:
    centres = await h.repo.catalogue.centres()
    a, b = centres[0], centres[1]
    course_a = (await h.repo.catalogue.courses(a.id))[0]
    course_b = (await h.repo.catalogue.courses(b.id))[0]
    admin_user = h.admin("en")
    manager_a = h.user(5101, first_name="Alma", language_code="ru")
    manager_b = h.user(5102, first_name="Bakyt", language_code="kk")
    for fake, centre, locale in ((manager_a, a, "ru"), (manager_b, b, "kk")):
        fake.send_command("start")
        await fake.wait_reply()
        await h.repo.users.set_locale(fake.id, locale)
        await h.repo.staff.grant(ADMIN_ID, fake.id, centre.id, "manager")
    admin = Chat(h, admin_user, "en")
    alma = Chat(h, manager_a, "ru")
    bakyt = Chat(h, manager_b, "kk")

    # A's manager adds the bot to a group: the bot offers the binding there, A only.
    group_a = h.server.add_group_chat(CHAT_A, "Taraz staff", bot_status="left")
    group_a.add_member(manager_a)
    group_a.set_bot_status("member", by=manager_a)
    offer = await group_a.wait_reply()
    assert str(CHAT_A) in offer.content
    tr = h.app.translator.bind("ru")
    from handlers.staff.scope import centre_label

    assert offer.buttons() == [centre_label(tr, a)]
    query = manager_a.press_button(centre_label(tr, a), chat_id=CHAT_A)
    await manager_a.wait_callback_answer(query["id"])
    bound = await group_a.wait_reply()
    assert f"<code>{CHAT_A}</code>" in (bound.html or bound.content) or str(CHAT_A) in bound.content
    assert (await h.repo.centres.chat_of(a.id)).chat_id == CHAT_A

    # The programme admin binds B's group with /staffchat: every centre is offered.
    group_b = h.server.add_group_chat(CHAT_B, "Bishkek staff", members=[admin_user, manager_b])
    admin_user.send_command("staffchat", chat_id=CHAT_B)
    offer = await group_b.wait_reply()
    en = h.app.translator.bind("en")
    assert len(offer.buttons()) == len(centres)
    query = admin_user.press_button(centre_label(en, b), chat_id=CHAT_B)
    await admin_user.wait_callback_answer(query["id"])
    await group_b.wait_reply()
    assert (await h.repo.centres.chat_of(b.id)).chat_id == CHAT_B
    # B's manager cannot bind A's centre to their chat by a forged button.
    from handlers.staff.chats import ChatsAction, ChatsCB

    query = manager_b.press(
        ChatsCB(action=ChatsAction.bind, centre=a.id).pack(), offer.message_id, chat_id=CHAT_B
    )
    await manager_b.wait_callback_answer(query["id"])
    assert (await h.repo.centres.chat_of(a.id)).chat_id == CHAT_A

    # Applications reach their centre's chat only.
    _, app_a = await applicant(h, 5201, "ru", course_a.id, name="Айгерим Ержанова")
    _, app_b = await applicant(h, 5202, "kk", course_b.id, name="Бекзат Садыров")
    assert posts(group_a, app_a.id) and not posts(group_a, app_b.id)
    assert posts(group_b, app_b.id) and not posts(group_b, app_a.id)
    assert not posts(h.staff_group, app_a.id) and not posts(h.staff_group, app_b.id)

    # Lists: each manager sees their centre's application only; the admin sees both.
    async def listed(chat: Chat) -> str:
        await open_menu(chat)
        await chat.press_key("staff-section-applications")
        await chat.press(chat.label("staff-btn-show", count=1 if chat is not admin else 2))
        return chat.user.last_bot_message().content

    text_a = await listed(alma)
    assert "Айгерим" in text_a and "Бекзат" not in text_a
    text_b = await listed(bakyt)
    assert "Бекзат" in text_b and "Айгерим" not in text_b
    text_admin = await listed(admin)
    assert "Айгерим" in text_admin and "Бекзат" in text_admin

    # B's manager pressing Approve under A's post (forwarded to them, say) gets nothing.
    post_a = next(m for m in group_a.bot_messages() if f"№ {app_a.id}" in m.content)
    label = tr.plain("staff-btn-accept")
    group_a.add_member(manager_b)
    query = manager_b.press(post_a.callback_data(label) or "", post_a.message_id, chat_id=CHAT_A)
    answer = await manager_b.wait_callback_answer(query["id"])
    assert answer.text == bakyt.label("error-stale-button")
    assert (await h.repo.applications.get(app_a.id)).status == "pending"
    # A's manager approves it right in A's chat.
    query = manager_a.press(post_a.callback_data(label) or "", post_a.message_id, chat_id=CHAT_A)
    await manager_a.wait_callback_answer(query["id"])
    assert (await h.repo.applications.get(app_a.id)).status == "accepted"

    # The bot removed from A's group: A falls back to the programme's staff chat.
    group_a.set_bot_status("left", by=manager_a)
    await h.wait_handled(
        lambda u: u.my_chat_member is not None and u.my_chat_member.new_chat_member.status == "left"
    )
    assert await h.repo.centres.chat_of(a.id) is None
    _, app_a2 = await applicant(h, 5203, "ru", course_a.id)
    assert posts(h.staff_group, app_a2.id)
    assert STAFF_CHAT_ID != CHAT_A
    assert [r for r in refused_requests(h) if r.method != "answerCallbackQuery"] == []
