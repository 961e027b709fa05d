"""Talk to a person is staff-only on every path: forged buttons, a forged search form
and a reply to a card by someone who is not staff reach nothing."""

from __future__ import annotations

from aiogram.fsm.storage.base import StorageKey

from bot.roles import RoleFilter
from bot.support.cards import ConvAction, ConvCB, PersonAction, PersonCB
from handlers import support
from handlers.support.people import PeopleForm
from sandbox.harness import STAFF_CHAT_ID, BotHarness
from tests.e2e import Chat
from tests.support_helpers import ask, card_of, in_staff_chat, seq
from tests.test_e2e_signup import start_and_choose_language
from tests.test_staff_support import applicant, first_course, h, refused_requests

__all__ = ["h"]


def test_staff_side_routers_check_the_role() -> None:
    for recipe in support.staff:
        router = recipe.build()
        filters = [f.callback for f in router.callback_query._handler.filters or []]
        assert any(isinstance(f, RoleFilter) for f in filters), router.name


async def test_forged_buttons_forms_and_replies_reach_nothing(h: BotHarness) -> None:
    course, groups = await first_course(h)
    citizen, _app = await applicant(h, 8701, "ru", course.id, post=False)
    await ask(Chat(h, citizen, "ru"), "Вопрос")
    [(conversation, _)] = await h.repo.conversations.for_user(citizen.id)
    card = await card_of(h, conversation.id)

    intruder = h.user(8766, first_name="Intruder", language_code="en")
    h.staff_group.add_member(intruder)
    chat = Chat(h, intruder, "en")
    await start_and_choose_language(chat, "en")
    first = intruder.bot_messages()[-1]
    stale = chat.label("error-stale-button")
    forged = [
        *(ConvCB(action=a, id=conversation.id).pack() for a in ConvAction),
        *(PersonCB(action=a, id=citizen.id).pack() for a in PersonAction),
        PersonCB(action=PersonAction.members, id=groups[0].id).pack(),
    ]
    for data in forged:
        for chat_id, message_id in ((None, first.message_id), (STAFF_CHAT_ID, card.message_id)):
            query = intruder.press(data, message_id, chat_id=chat_id)
            answer = await intruder.wait_callback_answer(query["id"])
            assert (answer.text, answer.show_alert) == (stale, True), data

    # A forged search form: the text is not searched.
    key = StorageKey(bot_id=h.server.sim.bot_id, chat_id=intruder.id, user_id=intruder.id)
    await h.app.storage.set_state(key, PeopleForm.query)
    intruder.send_text("Вопрос")
    reply = await intruder.wait_reply()
    assert reply.content == chat.text("fallback-unknown")
    await h.app.storage.set_state(key, None)

    # A reply to the card by someone who is not staff: refused, nothing delivered.
    mark = seq(h)
    intruder.send_text("I answer instead", chat_id=STAFF_CHAT_ID, reply_to=card.message_id)
    refusal = await in_staff_chat(h, lambda m: m.content.startswith("⛔"), after=mark)
    assert refusal.content == chat.text("support-staff-only")
    assert not [m for m in citizen.bot_messages() if "I answer instead" in m.content]
    fresh = await h.repo.conversations.get(conversation.id)
    assert fresh is not None and fresh.answered_by is None
    assert refused_requests(h) == []
