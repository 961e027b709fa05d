"""The sandbox shows talking to a person: a citizen persona asks, the coordinator answers
by replying to the card in the staff chat (the page's ↩ Reply sends ``reply_to``)."""

from __future__ import annotations

from typing import Any

from sandbox.web import STAFF_CHAT_ID
from sandbox.web.personas import OLGA
from tests.test_sandbox_api import Client, client, t

__all__ = ["client"]


async def press(client: Client, chat: str, event: dict[str, Any], label: str) -> None:
    buttons = [b for row in event["message"]["inline_keyboard"] for b in row]
    matching = [b for b in buttons if b["text"] == label]
    assert len(matching) == 1, (label, [b["text"] for b in buttons])
    [button] = matching
    await client.post(
        f"/api/chats/{chat}/callbacks",
        {"message_id": event["message"]["id"], "data": button["callback_data"]},
    )


async def test_a_citizen_asks_and_the_coordinator_answers(client: Client) -> None:
    await client.post("/api/chats/olga/commands", {"command": "start"})
    picker = await client.bot_says(OLGA.user_id, "Choose your language")
    await press(client, "olga", picker, "✓ Русский")
    await client.bot_says(OLGA.user_id, t(client, "ru", "start-welcome")[:15])

    await client.post("/api/chats/olga/messages", {"text": "Когда начинается курс?"})
    regions = await client.bot_says(OLGA.user_id, t(client, "ru", "support-ask-where"))
    first_region = regions["message"]["inline_keyboard"][0][0]["text"]
    await press(client, "olga", regions, first_region)
    centres = await client.event(
        lambda e: (
            e["type"] == "message"
            and e["chat_id"] == OLGA.user_id
            and e["edited"]
            and t(client, "ru", "support-pick-centre", region=first_region) in e["message"]["html"]
        )
    )
    await press(client, "olga", centres, centres["message"]["inline_keyboard"][0][0]["text"])
    offer = await client.event(
        lambda e: (
            e["type"] == "message"
            and e["chat_id"] == OLGA.user_id
            and t(client, "ru", "support-btn-send")
            in [b["text"] for row in e["message"]["inline_keyboard"] for b in row]
        )
    )
    await press(client, "olga", offer, t(client, "ru", "support-btn-send"))

    # The card and the question arrive in the staff chat; the coordinator replies to it.
    card = await client.bot_says(STAFF_CHAT_ID, "Вопрос №")
    await client.bot_says(STAFF_CHAT_ID, "Когда начинается курс?")
    await client.post(
        "/api/chats/staff/messages",
        {"text": "7 декабря, в 18:30", "reply_to": card["message"]["id"]},
    )
    answer = await client.bot_says(OLGA.user_id, "7 декабря, в 18:30")
    assert "Ответ от" in answer["message"]["html"]
    # The card now says who answered.
    answered = await client.event(
        lambda e: (
            e["type"] == "message"
            and e["chat_id"] == STAFF_CHAT_ID
            and e["edited"]
            and "Dana" in e["message"]["html"]
        )
    )
    assert answered["message"]["id"] == card["message"]["id"]
    # A reply to a message that is not in the chat is refused, saying why.
    async with client.http.post(
        client.url + "/api/chats/staff/messages", json={"text": "x", "reply_to": 99999}
    ) as response:
        assert response.status == 400
        assert "not in this chat" in (await response.json())["error"]
