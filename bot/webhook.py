"""The webhook endpoint: aiogram's handler, hardened against what the internet sends.

A request with a wrong secret (a non-ASCII one included: ``secrets.compare_digest``
refuses non-ASCII strings with a TypeError) gets 401, a body that is not a Telegram
update gets 400, both with one WARNING line and no traceback; only Telegram's own
requests reach the dispatcher.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from pydantic import ValidationError

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookHandler(SimpleRequestHandler):
    """``SimpleRequestHandler`` (updates handled in the background, Telegram answered at
    once) that answers 401 / 400 instead of failing with 500 on hostile requests."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, secret_token: str | None) -> None:
        super().__init__(dispatcher=dispatcher, bot=bot, secret_token=secret_token)
        # Updates acknowledged and being handled (a graceful stop waits for them).
        self.tasks: set[asyncio.Task[None]] = set()

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        if not self.secret_token:
            return True
        given = telegram_secret_token.encode("utf-8", "surrogateescape")
        return secrets.compare_digest(given, self.secret_token.encode())

    async def handle(self, request: web.Request) -> web.Response:
        bot = await self.resolve_bot(request)
        if not self.verify_secret(request.headers.get(SECRET_HEADER, ""), bot):
            log.warning("webhook request from %s refused: wrong secret (401)", request.remote)
            return web.Response(text="Unauthorized", status=401)
        try:
            body = await request.json(loads=bot.session.json_loads)
            update = Update.model_validate(body, context={"bot": bot})
        except (ValueError, UnicodeDecodeError, ValidationError) as exc:
            # ValidationError is a ValueError; listed for the reader.
            log.warning(
                "webhook request from %s refused: not a Telegram update (%s, 400)",
                request.remote,
                type(exc).__name__,
            )
            return web.Response(text="Bad Request", status=400)
        task = asyncio.create_task(self._feed(bot, update))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return web.json_response({}, dumps=bot.session.json_dumps)

    async def _feed(self, bot: Bot, update: Update) -> None:
        result: Any = await self.dispatcher.feed_update(bot, update, **self.data)
        if isinstance(result, TelegramMethod):
            await self.dispatcher.silent_call_request(bot=bot, result=result)
