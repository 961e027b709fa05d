"""The rules of talking to a person: the flood limit is said, never silent; a citizen
without an application picks a centre by region and sees its FAQ first; an answer to a
person who blocked the bot is reported; the inbox and the digest; erasure removes the
conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.i18n import pick_text
from db.models import Conversation, ConversationMessage, Delivery
from sandbox.harness import ADMIN_ID, STAFF_CHAT_ID, BotHarness
from tests.e2e import Chat, plain
from tests.support_helpers import ask, card_of, in_staff_chat, seq
from tests.test_e2e_signup import start_and_choose_language
from tests.test_staff_support import NOW, applicant, first_course, open_menu, refused_requests


@pytest.fixture
async def h(tmp_path: Path, template_db: Path) -> AsyncIterator[BotHarness]:
    env = {"SUPPORT_MESSAGES_PER_HOUR": "3"}
    clock = ManualClock(NOW)
    async with BotHarness(tmp_path, template=template_db, clock=clock, env=env) as harness:
        yield harness


async def test_flood_limit_is_answered_and_lifts_after_the_hour(h: BotHarness) -> None:
    course, _ = await first_course(h)
    user, _app = await applicant(h, 8101, "ky", course.id, post=False)
    chat = Chat(h, user, "ky")
    await ask(chat, "Суроо 1")
    for n in (2, 3):
        chat.say(f"Суроо {n}")
        await chat.expect(chat.text("support-added", centre="x")[:10])
    chat.say("Суроо 4")
    # NOW is 06:00 UTC: 11:00 in Taraz (UTC+5); the first message leaves the hour at 12:00.
    said = await chat.expect(chat.text("support-flood", when="x")[:20])
    assert "12:00" in said.content
    [(_, count)] = await h.repo.conversations.for_user(user.id)
    assert count == 3  # the fourth is not taken, and the person was told so
    assert h.clock is not None and isinstance(h.clock, ManualClock)
    h.clock.advance(timedelta(hours=1, minutes=1))
    chat.say("Суроо 4")
    await chat.expect(chat.text("support-added", centre="x")[:10])
    assert (await h.repo.conversations.for_user(user.id))[0][1] == 4
    assert refused_requests(h) == []


async def test_no_application_picks_a_centre_by_region_and_reads_its_faq(h: BotHarness) -> None:
    centre = (await h.repo.catalogue.centres())[0]
    region = await h.repo.catalogue.region(centre.region_id)
    await h.repo.conversations.replace_faq(
        centre.id,
        [
            (
                {"ru": "Курсы платные?", "en": "Are the courses paid?"},
                {"ru": "Нет, бесплатно.", "en": "No, free of charge."},
            )
        ],
    )
    user = h.user(8201, language_code="kk")
    chat = Chat(h, user, "kk")
    await start_and_choose_language(chat, "kk")
    user.send_photo(caption="Құжатым")
    await chat.expect(chat.text("support-ask-where"))
    await chat.press(pick_text(region.name, "kk"))
    await chat.press(f"{pick_text(centre.name, 'kk')} ({pick_text(centre.city, 'kk')})"[:64])
    offer = await chat.expect(chat.text("support-faq-intro"))
    # kk has no FAQ text: it falls back to Russian.
    await chat.press("❓ Курсы платные?")
    await chat.expect("Нет, бесплатно.")
    mark = seq(h)
    await chat.press_key("support-btn-still-ask")
    await chat.expect(chat.text("support-sent", centre="x", hours="y")[-20:])
    photo = await in_staff_chat(h, lambda m: m.kind == "photo", after=mark)
    assert photo.caption == "Құжатым"
    [(conversation, _)] = await h.repo.conversations.for_user(user.id)
    assert conversation.centre_id == centre.id
    assert offer.message_id
    assert refused_requests(h) == []


async def test_answer_to_a_person_who_blocked_the_bot_is_reported(h: BotHarness) -> None:
    course, _ = await first_course(h)
    admin = h.admin("en")
    en = h.app.translator.bind("en")
    user, app = await applicant(h, 8301, "en", course.id, post=False)
    chat = Chat(h, user, "en")
    await ask(chat, "Hello")
    [(conversation, _)] = await h.repo.conversations.for_user(user.id)
    card = await card_of(h, conversation.id)
    user.block()
    mark = seq(h)
    admin.send_text("Hi there", chat_id=STAFF_CHAT_ID, reply_to=card.message_id)
    # Queued at once; the outbox meets the block (403) and the staff member is told.
    told = await in_staff_chat(
        h, lambda m: "⚠️" in m.content and app.full_name in m.content, after=mark, timeout=10
    )
    assert told.content == plain(en("support-reply-blocked", name=app.full_name))
    assert not (await h.repo.users.get(user.id)).is_active
    # Known blocked now: the next answer is refused at once, saying why.
    mark = seq(h)
    admin.send_text("Hello?", chat_id=STAFF_CHAT_ID, reply_to=card.message_id)
    again = await in_staff_chat(h, lambda m: "⚠️" in m.content, after=mark)
    assert again.content == plain(en("support-reply-blocked", name=app.full_name))


async def test_inbox_oldest_unanswered_first_and_the_digest(h: BotHarness) -> None:
    course, _ = await first_course(h)
    assert isinstance(h.clock, ManualClock)
    early, _ = await applicant(h, 8401, "ru", course.id, name="Ранний Асан", post=False)
    late, _ = await applicant(h, 8402, "ru", course.id, name="Поздний Бек", post=False)
    answered, _ = await applicant(h, 8403, "ru", course.id, name="Отвеченный Ким", post=False)
    await ask(Chat(h, answered, "ru"), "Вопрос 0")
    h.clock.advance(timedelta(minutes=5))
    await ask(Chat(h, early, "ru"), "Вопрос 1")
    h.clock.advance(timedelta(minutes=5))
    await ask(Chat(h, late, "ru"), "Вопрос 2")
    [(done, _)] = await h.repo.conversations.for_user(answered.id)
    admin = h.admin("en")
    admin.send_text("Ответ", chat_id=STAFF_CHAT_ID, reply_to=(await card_of(h, done.id)).message_id)
    await Chat(h, answered, "ru").expect("Ответ")

    chat = Chat(h, admin, "en")
    await open_menu(chat)
    await chat.press_key("support-section-inbox")
    inbox = await chat.expect(chat.text("support-inbox", count=3))
    labels = inbox.buttons()
    assert ["Ранний" in labels[0], "Поздний" in labels[1], "Отвеченный" in labels[2]] == [True] * 3
    assert labels[0].startswith("⏳") and labels[2].startswith("✅")
    # Open one: what was said, with Reply here in the private chat (a reply prompt).
    await chat.press(labels[0])
    await chat.expect("Вопрос 1")
    await chat.press_key("support-btn-reply")
    prompt = await chat.expect(chat.text("support-reply-prompt", id=1, name="x")[:10])
    admin.send_text("Ответ из лички", reply_to=prompt.message_id)
    await Chat(h, early, "ru").expect("Ответ из лички")
    await chat.expect(chat.text("support-answer-queued", name="x")[:4])

    # A day and a half later the digest names the one still waiting, not the answered.
    h.clock.advance(timedelta(hours=36))
    service = h.app.dispatcher["reminders"]
    mark = seq(h)
    assert await service.send_digest(course.centre_id)
    digest = await in_staff_chat(h, lambda m: "Поздний" in m.content, after=mark)
    assert "Ранний" not in digest.content and "Отвеченный" not in digest.content
    ru = h.app.translator.bind("ru")
    assert plain(ru("support-digest-header", count=1)) in digest.content
    assert refused_requests(h) == []


async def test_my_data_shows_the_conversation_and_erasure_removes_it(h: BotHarness) -> None:
    course, _ = await first_course(h)
    admin = h.admin("en")
    user, _app = await applicant(h, 8501, "ru", course.id, post=False)
    chat = Chat(h, user, "ru")
    await ask(chat, "Мой номер +77015554433, перезвоните")
    [(conversation, _)] = await h.repo.conversations.for_user(user.id)
    admin.send_text(
        "Перезвоним", chat_id=STAFF_CHAT_ID, reply_to=(await card_of(h, conversation.id)).message_id
    )
    await chat.expect("Перезвоним")
    chat.say(chat.label("menu-my-data"))
    shown = await chat.expect(chat.text("my-data-header"))
    assert chat.text("my-data-conversations", count=1) in shown.content
    await chat.press_key("my-erase-button")
    await chat.press_key("my-erase-yes")
    await chat.expect_key("my-erased")
    async with h.app.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Conversation)) == 0
        assert await s.scalar(select(func.count()).select_from(ConversationMessage)) == 0
        assert (
            await s.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.user_id == user.id)
            )
            == 0
        )
    assert ADMIN_ID


async def test_uncopyable_media_gets_a_note_and_answers_survive_a_429(h: BotHarness) -> None:
    course, _ = await first_course(h)
    admin = h.admin("en")
    ru = h.app.translator.bind("ru")  # the staff chat's language
    user, _app = await applicant(h, 8601, "en", course.id, post=False)
    chat = Chat(h, user, "en")
    await ask(chat, "Here is my diploma")
    [(conversation, _)] = await h.repo.conversations.for_user(user.id)
    # Telegram refuses to copy a message (as for some kinds of media): staff get a clear
    # note in its place, under the card, and can answer by replying to the note.
    h.server.inject(
        "copyMessage",
        chat_id=STAFF_CHAT_ID,
        status=400,
        description="Bad Request: message can't be copied",
    )
    mark = seq(h)
    user.send_sticker("🎓")
    await chat.expect(chat.text("support-added", centre="x")[:10])
    note = await in_staff_chat(h, lambda m: m.content.startswith("⚠️"), after=mark)
    assert note.content == plain(ru("support-not-copied", kind="sticker"))
    assert note.reply_to_message_id == (await card_of(h, conversation.id)).message_id
    # The answer meets a 429 first: the outbox waits and delivers it, once.
    h.server.inject("sendMessage", chat_id=user.id, status=429, retry_after=1)
    admin.send_text("Please send it as a photo", chat_id=STAFF_CHAT_ID, reply_to=note.message_id)
    await chat.expect("Please send it as a photo", timeout=10)
    copies = [m for m in user.bot_messages() if "Please send it as a photo" in m.content]
    assert len(copies) == 1
    limited = [
        r
        for r in h.server.requests
        if r.method == "sendMessage" and r.response_status == 429 and r.params.get("chat_id")
    ]
    assert len(limited) == 1  # the 429 did happen, and was waited out
    refused_copies = [
        r for r in h.server.requests if r.method == "copyMessage" and r.response_status == 400
    ]
    assert len(refused_copies) == 1


async def test_closed_conversations_are_forgotten_after_the_keep_period(h: BotHarness) -> None:
    course, _ = await first_course(h)
    assert isinstance(h.clock, ManualClock) and h.process is not None
    closed_user, _ = await applicant(h, 8901, "ru", course.id, post=False)
    open_user, _ = await applicant(h, 8902, "ru", course.id, post=False)
    await ask(Chat(h, closed_user, "ru"), "Старый вопрос")
    await ask(Chat(h, open_user, "ru"), "Открытый вопрос")
    [(closed, _)] = await h.repo.conversations.for_user(closed_user.id)
    assert await h.repo.conversations.close(closed.id, ADMIN_ID, h.clock.now())
    expiry = h.process.form_expiry
    assert expiry is not None
    h.clock.advance(timedelta(days=364))
    await expiry.purge()
    assert await h.repo.conversations.get(closed.id) is not None  # not yet
    h.clock.advance(timedelta(days=2))
    await expiry.purge()
    assert await h.repo.conversations.get(closed.id) is None
    assert await h.repo.conversations.messages(closed.id) == []
    assert len(await h.repo.conversations.for_user(open_user.id)) == 1  # open ones stay
