"""A flood from one user is cut off with one polite warning; other users are unaffected."""

from __future__ import annotations

from pathlib import Path

from sandbox.harness import BotHarness
from tests.e2e import Chat


async def test_flood_is_throttled_with_one_warning(tmp_path: Path, template_db: Path) -> None:
    async with BotHarness(tmp_path, template=template_db, env={"THROTTLE_RATE": "0.01"}) as h:
        spammer = h.user(9101, language_code="en")
        chat = Chat(h, spammer, "en")
        for n in range(30):
            spammer.send_text(f"spam {n}")
        await chat.expect(chat.text("error-too-fast"))
        # Everything sent has been handled once the last message's update is through.
        await h.wait_handled(
            lambda u: u.message is not None and (u.message.text or "") == "spam 29"
        )
        texts = [m.content for m in spammer.bot_messages()]
        assert texts.count(chat.text("error-too-fast")) == 1
        # The burst (20) was answered, the rest dropped after the single warning.
        assert texts.count(chat.text("fallback-unknown")) == 20
        # Someone else is served normally at the same time.
        other = h.user(9102, language_code="en")
        other_chat = Chat(h, other, "en")
        other.send_text("hello")
        await other_chat.expect(other_chat.text("fallback-unknown"))
