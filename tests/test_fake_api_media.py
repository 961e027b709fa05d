"""The fake Bot API's users send voice notes and videos, reply to a message with media,
and the bot copies media with a new caption, as Telegram does (issue 12 needs all of it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot

from sandbox.telegram import FakeBotAPI
from tests.test_fake_api import TOKEN, make_bot

USER_ID = 1001
STAFF = -1001234567890


@pytest.fixture
async def server() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeBotAPI) -> AsyncIterator[Bot]:
    client = make_bot(server)
    try:
        yield client
    finally:
        await client.session.close()


async def test_voice_video_and_media_replies(server: FakeBotAPI, bot: Bot) -> None:
    user = server.add_user(USER_ID)
    staff = server.add_group_chat(STAFF, "Staff")
    staff.add_member(user)
    voice = user.send_voice(duration=7)
    video = user.send_video(caption="my document")
    assert voice["voice"]["duration"] == 7 and voice["voice"]["mime_type"] == "audio/ogg"
    assert video["video"]["duration"] == 5 and video["caption"] == "my document"
    updates = server.pending_updates
    assert [u["message"].get("voice") is not None for u in updates[-2:]] == [True, False]

    card = await bot.send_message(STAFF, "a card")
    # Replies with media carry reply_to_message in the update, as text replies do.
    photo = user.send_photo(caption="see this", chat_id=STAFF, reply_to=card.message_id)
    spoken = user.send_voice(chat_id=STAFF, reply_to=card.message_id)
    filmed = user.send_video(chat_id=STAFF, reply_to=card.message_id)
    for sent in (photo, spoken, filmed):
        assert sent["reply_to_message"]["message_id"] == card.message_id

    # copyMessage keeps the kind; a new caption replaces the old one (HTML parsed).
    copied = await bot.copy_message(
        USER_ID, STAFF, spoken["message_id"], caption="<b>Centre</b> answers", parse_mode="HTML"
    )
    copy = next(m for m in user.messages() if m.message_id == copied.message_id)
    assert copy.kind == "voice" and copy.caption == "Centre answers"
    copied = await bot.copy_message(USER_ID, USER_ID, video["message_id"])
    copy = next(m for m in user.messages() if m.message_id == copied.message_id)
    assert copy.kind == "video" and copy.caption == "my document"
