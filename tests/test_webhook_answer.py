"""Webhook mode: a button press's answerCallbackQuery rides on the HTTP response to
Telegram (one Bot API request fewer per press), and is never lost or reordered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.i18n import LANGUAGE_NAMES, pick_text
from bot.middlewares import CallbackAnswerMiddleware
from bot.telegram_utils import answer_first, show
from bot.webhook import WebhookHandler
from sandbox.harness import BotHarness
from sandbox.telegram import FakeBotAPI
from tests.e2e import Chat
from tests.test_e2e_signup import taraz

SECRET = "webhook-answer-secret"
TOKEN = "123456789:WEBHOOK-answer"


@asynccontextmanager
async def webhook(
    dispatcher: Dispatcher, bot: Bot
) -> AsyncIterator[tuple[TestClient[Any, Any], WebhookHandler]]:
    handler = WebhookHandler(dispatcher, bot, SECRET, hold=30)
    app = web.Application()
    app.router.add_post("/webhook", handler.handle)
    async with TestClient(TestServer(app)) as client:
        yield client, handler
        await asyncio.gather(*handler.tasks)


async def post(client: TestClient[Any, Any], update: dict[str, Any]) -> dict[str, Any]:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with client.post("/webhook", json=update, headers=headers) as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


def update(n: int, **event: Any) -> dict[str, Any]:
    return {"update_id": 900_000 + n, **event}


async def test_a_signup_button_is_answered_in_the_webhook_response(harness: BotHarness) -> None:
    h = harness
    centre, course = await taraz(h)
    user = h.user(9401, language_code="en")
    chat = Chat(h, user, "en")
    user.send_command("start", f"c_{course.code}")
    await chat.expect("Choose your language")
    await chat.press(f"✓ {LANGUAGE_NAMES['en']}")
    await chat.press_key("course-signup")
    await chat.press_key("signup-consent-agree")
    await chat.expect(chat.text("signup-ask-phone")[:20])
    chat.say("0555 123 456")
    await chat.expect(chat.text("signup-ask-name")[:20])
    chat.say("Serikova Aida")
    question = await chat.expect(chat.text("signup-ask-district", region="")[:15])
    district = pick_text((await h.repo.catalogue.districts(centre.region_id))[0].name, "en")
    data = question.callback_data(district)
    assert data is not None

    assert h.process is not None and h.process.bot is not None
    # Telegram posts the press to the webhook (not through the fake server's queue, which
    # the harness's polling reads).
    sender = {"id": user.id, "is_bot": False, "first_name": user.first_name}
    query = {"id": "webhook-q-1", "from": sender, "chat_instance": "1", "data": data}
    query["message"] = dict(question.raw)
    async with webhook(h.app.dispatcher, h.process.bot) as (client, _):
        h.server.clear_requests()
        body = await post(client, update(1, callback_query=query))
    # The answer is the response; the only request is the edit into the next question.
    assert body == {"method": "answerCallbackQuery", "callback_query_id": "webhook-q-1"}
    calls = [r.method for r in h.server.requests if r.method != "getUpdates"]
    assert calls == ["editMessageText"], calls
    [edited] = [m for m in user.bot_messages() if m.message_id == question.message_id]
    assert chat.text("signup-ask-group")[:15] in edited.content


async def test_a_held_answer_is_never_lost_or_late() -> None:
    release = asyncio.Event()
    router = Router()

    @router.callback_query(F.data == "quiet")
    async def quiet(callback: CallbackQuery) -> None:
        await show(callback, "next question")

    @router.callback_query(F.data == "early")
    async def early(callback: CallbackQuery, callback_answer: CallbackAnswer) -> None:
        await answer_first(callback, callback_answer)  # the spinner stops before the slow part
        await show(callback, "saved")

    @router.callback_query(F.data == "slow")
    async def slow(callback: CallbackQuery) -> None:
        await release.wait()

    @router.message()
    async def text(message: Message) -> None:
        await release.wait()
        await message.answer("late reply")

    dispatcher = Dispatcher()
    dispatcher.callback_query.middleware(CallbackAnswerMiddleware())
    dispatcher.include_router(router)

    async with FakeBotAPI(token=TOKEN) as server:
        user = server.add_user(9501, "Aida", "en")
        bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(server.api_base)))
        row = [InlineKeyboardButton(text=d, callback_data=d) for d in ("quiet", "early", "slow")]
        shown = await bot.send_message(
            user.id, "question", reply_markup=InlineKeyboardMarkup(inline_keyboard=[row])
        )

        def press(data: str) -> dict[str, Any]:
            # A real query of the fake server (nothing polls it here: the bot under test
            # gets it only through the webhook).
            return update(len(data), callback_query=user.press(data, shown.message_id))

        try:
            async with webhook(dispatcher, bot) as (client, handler):
                # Answered last: in the response, no request.
                quiet_press = press("quiet")
                query_id = quiet_press["callback_query"]["id"]
                body = await post(client, quiet_press)
                assert body == {"method": "answerCallbackQuery", "callback_query_id": query_id}
                assert server.requests_for("answerCallbackQuery") == []

                # Answered first: sent at once, before the update's next request.
                early_press = press("early")
                assert await post(client, early_press) == {}
                calls = [r.method for r in server.requests][-2:]
                assert calls == ["answerCallbackQuery", "editMessageText"], calls

                # Not handled within the hold: acknowledged without it; the answer is sent
                # as a request when it comes.
                handler.hold = 0.01
                slow_press = press("slow")
                assert await post(client, slow_press) == {}
                # A message is acknowledged at once, whatever its handler still does.
                sent = user.send_text("hello")
                assert await post(client, update(100, message=sent)) == {}
                release.set()
            answers = server.requests_for("answerCallbackQuery")
            assert [r.params["callback_query_id"] for r in answers] == [
                early_press["callback_query"]["id"],
                slow_press["callback_query"]["id"],
            ]
            assert all(r.ok for r in answers)
            last = server.requests_for("sendMessage", chat_id=user.id)[-1]
            assert last.params["text"] == "late reply"
        finally:
            await bot.session.close()
