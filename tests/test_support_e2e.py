"""Talk to a person, end to end over the fake Bot API: a question in each language reaches
the staff chat as a card; staff answer by replying (text, photo, voice) and the citizen
gets it marked as from the centre; follow-ups attach; close and reopen."""

from __future__ import annotations

from typing import Any

from bot.i18n import pick_text
from sandbox.harness import ADMIN_ID, STAFF_CHAT_ID, BotHarness
from tests.e2e import Chat, plain
from tests.support_helpers import ask, card_of, in_chat, in_staff_chat, seq
from tests.test_staff_support import applicant, first_course, h, refused_requests

__all__ = ["h"]

QUESTIONS = {
    "kk": "Сәлеметсіз бе! Курс қашан басталады? Маған қоңырау шалыңызшы",
    "ky": "Саламатсызбы! Курс качан башталат?",
    "ru": "Здравствуйте! Когда начинается курс?",
    "en": "Hello! When does the course start?",
}


async def test_questions_reach_staff_and_answers_come_back(h: BotHarness) -> None:
    course, _ = await first_course(h)
    centre = await h.repo.catalogue.centre(course.centre_id)
    admin = h.admin("en")
    en = h.app.translator.bind("en")
    conversations = {}
    for n, (locale, question) in enumerate(QUESTIONS.items()):
        user, app = await applicant(h, 7700 + n, locale, course.id, post=False)
        chat = Chat(h, user, locale)
        mark = seq(h)
        sent = await ask(chat, question)
        assert pick_text(centre.name, locale) in sent.content
        # The card: the person, their language, their applications; the message copied
        # under it as a Telegram reply.
        card = await in_staff_chat(h, lambda m: "Вопрос №" in m.content, after=mark)
        assert app.full_name in card.content and f"№ {app.id}" in card.content
        copy = await in_staff_chat(h, lambda m: m.text == question, after=mark)  # noqa: B023
        assert copy.reply_to_message_id == card.message_id
        assert card.buttons()[:2] == ["✍️ Ответить", "🔒 Закрыть"]
        [conversation] = [c for c, _ in await h.repo.conversations.for_user(user.id)]
        assert conversation.waiting_since is not None
        conversations[locale] = (chat, conversation, card)

    # Staff answer by replying to the card: the citizen gets it, marked as from the centre.
    for locale, (chat, conversation, card) in conversations.items():
        admin.send_text(
            f"Курс начинается 7 декабря ({locale})", chat_id=STAFF_CHAT_ID, reply_to=card.message_id
        )
        got = await chat.expect(f"7 декабря ({locale})")
        assert (
            plain(chat.text("support-reply-header", centre=pick_text(centre.name, locale)))
            in got.content
        )
        done = await h.repo.conversations.get(conversation.id)
        assert done.answered_by == ADMIN_ID and done.waiting_since is None
    redrawn = await in_staff_chat(h, lambda m: "Admin" in m.content and "✅" in m.content)
    assert redrawn.message_id == conversations["en"][2].message_id or redrawn.edit_count > 0

    # A photo and a voice message back, as replies to the citizen's copied message.
    chat, conversation, card = conversations["en"]
    copy = await in_staff_chat(h, lambda m: m.text == QUESTIONS["en"])
    admin.send_photo(caption="The timetable", chat_id=STAFF_CHAT_ID, reply_to=copy.message_id)
    photo = await chat.expect("The timetable")
    assert photo.kind == "photo"
    assert plain(en("support-reply-header", centre=pick_text(centre.name, "en"))) in photo.content
    header = plain(en("support-reply-header", centre=pick_text(centre.name, "en")))
    mark = seq(h)
    admin.send_voice(chat_id=STAFF_CHAT_ID, reply_to=card.message_id)
    voice = await in_chat(h, chat.user.id, lambda m: m.kind == "voice", after=mark)
    assert voice.content == header

    # A reply to the bot's "sent" confirmation answers the same conversation.
    await in_staff_chat(h, lambda m: m.content.startswith("✅ Sent to"), after=mark)
    [*_, ack] = [m for m in h.staff_group.bot_messages() if m.content.startswith("✅ Sent to")]
    admin.send_text("One more thing", chat_id=STAFF_CHAT_ID, reply_to=ack.message_id)
    await chat.expect("One more thing")

    # A follow-up (a voice note) attaches to the open conversation, no questions asked.
    mark = seq(h)
    chat.user.send_voice()
    await chat.expect_key("support-added", centre=pick_text(centre.name, "en"))
    follow = await in_staff_chat(h, lambda m: m.kind == "voice", after=mark)
    assert follow.reply_to_message_id == card.message_id
    assert len(await h.repo.conversations.for_user(chat.user.id)) == 1
    messages = await h.repo.conversations.messages(conversation.id)
    assert [m.direction for m in messages] == ["in", "out", "out", "out", "out", "in"]
    assert refused_requests(h) == []


async def test_close_reopen_and_a_closed_question_refuses_answers(h: BotHarness) -> None:
    course, _ = await first_course(h)
    admin = h.admin("en")
    en = h.app.translator.bind("en")
    ru = h.app.translator.bind("ru")  # the staff chat's language (DEFAULT_LOCALE)

    async def press(label: str) -> Any:
        query = admin.press_button(label, chat_id=STAFF_CHAT_ID, message_id=card.message_id)
        return await admin.wait_callback_answer(query["id"])

    user, _app = await applicant(h, 7801, "ru", course.id, post=False)
    chat = Chat(h, user, "ru")
    await ask(chat, "Можно ли прийти с ребёнком?")
    [conversation] = [c for c, _ in await h.repo.conversations.for_user(user.id)]
    card = await card_of(h, conversation.id)

    answer = await press(ru.plain("support-btn-close"))
    assert answer.text == en.plain("support-closed-toast")
    await chat.expect(chat.text("support-closed-notice", centre="x")[:6])
    closed = await card_of(h, conversation.id)
    assert ru.plain("support-btn-reopen") in closed.buttons()
    assert "Admin" in closed.content

    # An answer to a closed question is refused, with the way to reopen it.
    mark = seq(h)
    admin.send_text("Да, можно", chat_id=STAFF_CHAT_ID, reply_to=card.message_id)
    refusal = await in_staff_chat(
        h, lambda m: m.content == plain(en("support-answer-closed")), after=mark
    )
    assert refusal.buttons() == [en.plain("support-btn-reopen")]
    assert not [m for m in user.bot_messages() if "Да, можно" in m.content]

    # Reopen from the refusal itself.
    query = admin.press_button(
        en.plain("support-btn-reopen"), chat_id=STAFF_CHAT_ID, message_id=refusal.message_id
    )
    answer = await admin.wait_callback_answer(query["id"])
    assert answer.text == en.plain("support-reopened-toast")
    assert (await h.repo.conversations.get(conversation.id)).is_open
    admin.send_text("Да, можно", chat_id=STAFF_CHAT_ID, reply_to=card.message_id)
    await chat.expect("Да, можно")

    # The citizen writes after a close: a new conversation (one open per centre).
    await press(ru.plain("support-btn-close"))
    await ask(chat, "Ещё вопрос")
    assert [c.is_open for c, _ in await h.repo.conversations.for_user(user.id)] == [True, False]
    # Reopening the old one now would make two open ones: refused, saying why.
    refused = await press(ru.plain("support-btn-reopen"))
    assert refused.show_alert and refused.text == en.plain("support-reopen-refused")
    assert refused_requests(h) == []
