"""The webhook endpoint: aiogram's handler, hardened against what the internet sends.

A request with a wrong secret (a non-ASCII one included: ``secrets.compare_digest``
refuses non-ASCII strings with a TypeError) gets 401, a body that is not a Telegram
update gets 400, both with one WARNING line and no traceback; only Telegram's own
requests reach the dispatcher.

**The answer to a button press rides on the HTTP response.** Telegram lets the response
to a webhook request carry one Bot API call. For a callback query the response waits
(at most ``hold`` seconds) for the update to be handled, and the update's
answerCallbackQuery, if it was the update's last request, goes in it: one request
fewer per button press. A message is acknowledged at once, as before (its replies need
their results: message ids). The answer is only held, never lost or reordered:

- another request of the same update sends the held answer first (an early answer,
  ``answer_first``, still stops the spinner before the slow part);
- if the update is not handled within ``hold`` seconds, the response goes without it
  and the answer is sent as a request when it comes;
- on shutdown, held responses go out as their updates finish (``drain_webhook`` waits
  for those updates, then ``runner.cleanup`` for the responses), so every update is
  still acknowledged only after nothing more than its answer is left to do.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from contextvars import ContextVar
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from pydantic import ValidationError

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HOLD_SECONDS = 1.0


class HeldAnswer:
    """The answerCallbackQuery of the update being handled, kept for the HTTP response
    while that response is still open."""

    __slots__ = ("method", "open")

    def __init__(self) -> None:
        self.method: AnswerCallbackQuery | None = None
        self.open = True

    def take(self) -> AnswerCallbackQuery | None:
        """The answer held so far, if any (it is the caller's to send now)."""
        method, self.method = self.method, None
        return method

    def close(self) -> AnswerCallbackQuery | None:
        """No more holding: ``take``, and later answers are sent as requests."""
        self.open = False
        return self.take()


_held: ContextVar[HeldAnswer | None] = ContextVar("held_answer", default=None)


class HoldAnswer(BaseRequestMiddleware):
    """Keeps the update's answerCallbackQuery for the webhook response (see the module's
    docstring); any other request of the update sends a held answer first. Registered
    after ``SaveBeforeRequest``: the update's writes are saved before it is held."""

    async def __call__(
        self, make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
    ) -> Any:
        held = _held.get()
        if held is None:
            return await make_request(bot, method)
        early = held.take()
        if early is not None:  # something follows the answer: the answer goes first
            await make_request(bot, early)
        if held.open and isinstance(method, AnswerCallbackQuery):
            held.method = method
            return True
        return await make_request(bot, method)


class WebhookHandler(SimpleRequestHandler):
    """``SimpleRequestHandler`` (updates handled in the background, Telegram answered at
    once; a button press's answer in the response) that answers 401 / 400 instead of
    failing with 500 on hostile requests."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        secret_token: str | None,
        *,
        hold: float = HOLD_SECONDS,
    ) -> None:
        super().__init__(dispatcher=dispatcher, bot=bot, secret_token=secret_token)
        # Updates acknowledged (or being answered) and being handled (a graceful stop
        # waits for them).
        self.tasks: set[asyncio.Task[None]] = set()
        self.hold = hold
        if hold > 0:
            bot.session.middleware(HoldAnswer())

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
        if update.callback_query is None or self.hold <= 0:
            self._start(bot, update)
            return web.json_response({}, dumps=bot.session.json_dumps)
        held = HeldAnswer()
        token = _held.set(held)
        try:
            task = self._start(bot, update)  # the task's context carries ``held``
        finally:
            _held.reset(token)
        try:
            await asyncio.wait({task}, timeout=self.hold)  # never raises the task's error
        except asyncio.CancelledError:
            late = held.close()
            if late is not None:  # the connection went: send it as a request
                self._start_call(bot, late)
            raise
        method = held.close()
        if method is None:
            return web.json_response({}, dumps=bot.session.json_dumps)
        return web.json_response(_as_response(bot, method), dumps=bot.session.json_dumps)

    def _start(self, bot: Bot, update: Update) -> asyncio.Task[None]:
        task = asyncio.create_task(self._feed(bot, update))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def _start_call(self, bot: Bot, method: TelegramMethod[Any]) -> None:
        task = asyncio.create_task(self._call(bot, method))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _call(self, bot: Bot, method: TelegramMethod[Any]) -> None:
        await self.dispatcher.silent_call_request(bot=bot, result=method)

    async def _feed(self, bot: Bot, update: Update) -> None:
        result: Any = await self.dispatcher.feed_update(bot, update, **self.data)
        if isinstance(result, TelegramMethod):
            await self.dispatcher.silent_call_request(bot=bot, result=result)


def _as_response(bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any]:
    """A Bot API call as the body of a webhook response (JSON: ``method`` and its
    parameters, as Telegram accepts it; an answerCallbackQuery carries no file)."""
    body: dict[str, Any] = {"method": method.__api_method__}
    for key, value in method.model_dump(warnings=False).items():
        prepared = bot.session.prepare_value(value, bot=bot, files={}, _dumps_json=False)
        if prepared is not None:
            body[key] = prepared
    return body
