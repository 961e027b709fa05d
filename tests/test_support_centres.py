"""Talk to a person across centres: a question goes to its own centre's staff chat, and
staff of another centre can neither read nor answer it (inbox, card buttons, replies,
search, person card)."""

from __future__ import annotations

from sandbox.harness import ADMIN_ID, STAFF_CHAT_ID, BotHarness
from tests.e2e import Chat, plain
from tests.support_helpers import ask, card_of, in_chat, in_staff_chat, seq
from tests.test_staff_support import applicant, h, open_menu, refused_requests

__all__ = ["h"]

CHAT_B = -100_888


async def test_staff_of_another_centre_cannot_read_or_answer(h: BotHarness) -> None:
    centres = await h.repo.catalogue.centres()
    a, b = centres[0], centres[1]
    course_a = (await h.repo.catalogue.courses(a.id))[0]
    course_b = (await h.repo.catalogue.courses(b.id))[0]
    staff_b = h.user(8801, first_name="Bakyt", language_code="en")
    staff_b.send_command("start")
    await staff_b.wait_reply()
    await h.repo.users.set_locale(staff_b.id, "en")
    await h.repo.staff.grant(ADMIN_ID, staff_b.id, b.id, "staff")
    # B has its own staff chat; A has none, so A's questions go to STAFF_CHAT_ID, where
    # B's staff member also sits (the programme-wide chat).
    group_b = h.server.add_group_chat(CHAT_B, "Bishkek staff", members=[staff_b])
    await h.repo.centres.bind_chat(ADMIN_ID, b.id, CHAT_B, "Bishkek staff")
    h.staff_group.add_member(staff_b)

    citizen_b, _ = await applicant(h, 8802, "ky", course_b.id, name="Асанов Бакыт", post=False)
    citizen_a, app_a = await applicant(
        h, 8803, "ru", course_a.id, name="Ержанова Айгерим", post=False
    )
    mark = seq(h)
    await ask(Chat(h, citizen_b, "ky"), "Суроо B")
    card_b = await in_chat(h, CHAT_B, lambda m: "Вопрос №" in m.content, after=mark)
    await ask(Chat(h, citizen_a, "ru"), "Вопрос A")
    [(conversation_a, _)] = await h.repo.conversations.for_user(citizen_a.id)
    card_a = await card_of(h, conversation_a.id)
    assert conversation_a.staff_chat_id == STAFF_CHAT_ID
    assert not [m for m in group_b.bot_messages() if "Вопрос A" in m.content]

    # B's staff answer B's question in B's chat.
    staff_b.send_text("Жооп B", chat_id=CHAT_B, reply_to=card_b.message_id)
    await Chat(h, citizen_b, "ky").expect("Жооп B")

    # A's question: a reply is refused, saying why; nothing reaches the citizen.
    en = h.app.translator.bind("en")
    mark = seq(h)
    staff_b.send_text("Answer from B", chat_id=STAFF_CHAT_ID, reply_to=card_a.message_id)
    refusal = await in_staff_chat(h, lambda m: m.content.startswith("⛔"), after=mark)
    assert refusal.content == plain(en("support-not-yours"))
    assert not [m for m in citizen_a.bot_messages() if "Answer from B" in m.content]
    # Its buttons are refused too.
    ru = h.app.translator.bind("ru")
    for label in (ru.plain("support-btn-close"), ru.plain("support-btn-person")):
        query = staff_b.press_button(label, chat_id=STAFF_CHAT_ID, message_id=card_a.message_id)
        answer = await staff_b.wait_callback_answer(query["id"])
        assert answer.show_alert and answer.text == en.plain("error-stale-button"), label
    assert (await h.repo.conversations.get(conversation_a.id)).is_open

    # The inbox of B's staff lists B's question only; search does not find A's person.
    chat = Chat(h, staff_b, "en")
    await open_menu(chat)
    await chat.press_key("support-section-inbox")
    inbox = await chat.expect(chat.text("support-inbox", count=1))
    assert "Асанов" in inbox.buttons()[0] and not any("Ержанова" in b for b in inbox.buttons())
    await chat.press_key("support-btn-find")
    chat.say("Ержанова")
    await chat.expect_key("support-find-none")
    chat.say(f"№ {app_a.id}")
    await chat.expect_key("support-find-none")
    assert refused_requests(h) == []
