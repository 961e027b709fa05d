"""Helpers for end-to-end tests: a person's chat with the real bot over the fake API."""

from __future__ import annotations

from typing import Any

from sandbox.harness import BotHarness
from sandbox.telegram import ChatMessage, EventKind, FakeUser, TelegramSimulator, parse_html
from sandbox.telegram.models import Event

REPLY_KINDS = frozenset({EventKind.MESSAGE_SENT, EventKind.MESSAGE_EDITED})


def plain(html: str) -> str:
    """What the user sees of an HTML message: the text without tags."""
    return parse_html(html).text


class Chat:
    """One user's private chat; waits on the fake server's events, never on the clock."""

    def __init__(self, harness: BotHarness, user: FakeUser, locale: str) -> None:
        self.h = harness
        self.user = user
        self.locale = locale

    @property
    def sim(self) -> TelegramSimulator:
        return self.h.server.sim

    def text(self, key: str, **params: Any) -> str:
        """The plain text of a translation key in this chat's language."""
        return plain(self.h.app.translator.get(self.locale, key, **params))

    def label(self, key: str, **params: Any) -> str:
        return self.h.app.translator.plain(self.locale, key, **params)

    async def expect(
        self,
        contains: str,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors the fake API's helpers
        button: bool = False,
    ) -> ChatMessage:
        """The bot's next message (or edit) after the user's last action containing text
        (or, with ``button``, showing an inline button with that label)."""
        chat = self.sim.chat(self.user.id)
        point = chat.last_user_seq
        chat_id = self.user.id

        def matches(event: Event) -> bool:
            return (
                event.chat_id == chat_id
                and event.kind in REPLY_KINDS
                and event.seq > point
                and event.message is not None
                and (
                    contains in event.message.buttons()
                    if button
                    else contains in event.message.content
                )
            )

        try:
            event = await self.sim.wait_event(matches, timeout, past=chat.bot_events)
        except TimeoutError:
            recent = [m.content[:80] for m in self.user.bot_messages()[-4:]]
            raise AssertionError(f"bot never said {contains!r}; recent: {recent}") from None
        assert event.message is not None
        return event.message

    async def expect_key(self, key: str, **params: Any) -> ChatMessage:
        return await self.expect(self.text(key, **params))

    async def press(self, label: str) -> str:
        """Press an inline button; returns the callback query id (answered, checked)."""
        query = self.user.press_button(label)
        answer = await self.user.wait_callback_answer(query["id"])
        assert answer is not None
        return str(query["id"])

    async def press_key(self, key: str, **params: Any) -> str:
        return await self.press(self.label(key, **params))

    def tap(self, label: str) -> None:
        """Tap a reply-keyboard button (it must be shown)."""
        self.user.press_reply_button(label)

    def tap_key(self, key: str) -> None:
        self.tap(self.label(key))

    def say(self, text: str) -> None:
        self.user.send_text(text)
