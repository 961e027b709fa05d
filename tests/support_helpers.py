"""Shared pieces of the talk-to-a-person tests (no tests in here)."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.harness import STAFF_CHAT_ID, BotHarness
from sandbox.telegram import ChatMessage
from sandbox.telegram.models import Event
from tests.e2e import REPLY_KINDS, Chat


async def in_staff_chat(
    h: BotHarness,
    test: Callable[[ChatMessage], bool],
    *,
    after: int = 0,
    timeout: float = 5.0,  # noqa: ASYNC109
) -> ChatMessage:
    """The first bot message (or edit) in the staff chat after event ``after`` passing
    ``test``."""
    return await in_chat(h, STAFF_CHAT_ID, test, after=after, timeout=timeout)


async def in_chat(
    h: BotHarness,
    chat_id: int,
    test: Callable[[ChatMessage], bool],
    *,
    after: int = 0,
    timeout: float = 5.0,  # noqa: ASYNC109
) -> ChatMessage:
    """The first bot message (or edit) in a chat after event ``after`` passing ``test``."""
    sim = h.server.sim
    chat = sim.chat(chat_id)

    def matches(event: Event) -> bool:
        return (
            event.chat_id == chat_id
            and event.kind in REPLY_KINDS
            and event.seq > after
            and event.message is not None
            and test(event.message)
        )

    try:
        event = await sim.wait_event(matches, timeout, past=chat.bot_events)
    except TimeoutError:
        recent = (
            [m.content[:80] for m in chat.bot_messages()[-4:]]
            if hasattr(chat, "bot_messages")
            else []
        )
        raise AssertionError(f"chat {chat_id} never got it; recent: {recent}") from None
    assert event.message is not None
    return event.message


def seq(h: BotHarness) -> int:
    """The fake server's latest event number (wait for what happens after it)."""
    return h.server.sim.next_seq()


async def ask(chat: Chat, text: str) -> ChatMessage:
    """A citizen with an application writes; the bot offers to pass it on; they send."""
    chat.say(text)
    await chat.expect(chat.text("support-offer", centre="x", hours="y")[-20:])
    await chat.press_key("support-btn-send")
    return await chat.expect(chat.text("support-sent", centre="x", hours="y")[-20:])


async def card_of(h: BotHarness, conversation_id: int) -> ChatMessage:
    conversation = await h.repo.conversations.get(conversation_id)
    assert conversation is not None and conversation.card_message_id is not None
    found = h.server.sim.find_message(
        h.server.sim.chat(STAFF_CHAT_ID), conversation.card_message_id
    )
    assert found is not None
    return found.snapshot()


__all__ = ["ask", "card_of", "in_chat", "in_staff_chat", "seq"]
