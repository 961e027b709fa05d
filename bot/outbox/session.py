"""The outbox's own HTTP session."""

from __future__ import annotations

from enum import Enum
from http import HTTPStatus
from typing import Any

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import ClientDecodeError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import InlineKeyboardMarkup, InputFile
from aiohttp import FormData
from aiohttp.payload import JsonPayload
from pydantic import BaseModel, ValidationError

_PLAIN = (str, int, bool, float)


class OutboxSession(AiohttpSession):
    """aiogram's session, cheaper per request where the Bot API leaves room for it.

    - A request without a file is posted as JSON instead of multipart form data (the Bot
      API takes both; JSON is cheaper to build and to parse), built straight from the
      method's fields rather than through ``model_dump`` and ``prepare_value``.
    - A sent or edited message comes back with the inline keyboard it was sent with:
      Telegram echoes the keyboard of the request, and the request's own keyboard object
      stands in for the echo instead of parsing a model per button again.

    The outbox has its own session (and connection pool) so bulk sends never delay
    replies to users."""

    def build_form_data(self, bot: Bot, method: TelegramMethod[Any]) -> FormData:
        files: dict[str, InputFile] = {}
        body = self._fields(method, bot, files)
        if files:
            return super().build_form_data(bot, method)
        # aiohttp takes any payload where aiogram passes its form.
        return JsonPayload(body, dumps=self.json_dumps)  # type: ignore[return-value]

    def _fields(self, model: BaseModel, bot: Bot, files: dict[str, InputFile]) -> dict[str, Any]:
        """A model's fields (and extra fields) as JSON values, None left out — what
        ``model_dump`` followed by ``prepare_value`` gives, without building the dump."""
        out = {}
        for key, item in model.__dict__.items():
            if item is not None and (prepared := self._plain(item, bot, files)) is not None:
                out[key] = prepared
        extra = model.__pydantic_extra__
        if extra:
            for key, item in extra.items():
                if item is not None and (prepared := self._plain(item, bot, files)) is not None:
                    out[key] = prepared
        return out

    def _plain(self, value: Any, bot: Bot, files: dict[str, InputFile]) -> Any:
        kind = type(value)
        if kind in _PLAIN:
            return value
        if isinstance(value, BaseModel):
            return self._fields(value, bot, files)
        if kind is list or kind is tuple:
            return [
                prepared
                for item in value
                if item is not None and (prepared := self._plain(item, bot, files)) is not None
            ]
        if kind is dict:
            return {
                key: prepared
                for key, item in value.items()
                if item is not None and (prepared := self._plain(item, bot, files)) is not None
            }
        if isinstance(value, Default):
            default = bot.default[value.name]
            return None if default is None else self._plain(default, bot, files)
        if isinstance(value, Enum):
            return self._plain(value.value, bot, files)
        # Files, dates, durations, anything else: aiogram's own preparation.
        return self.prepare_value(value, bot=bot, files=files, _dumps_json=False)

    def check_response(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        status_code: int,
        content: str,
    ) -> Response[TelegramType]:
        markup = getattr(method, "reply_markup", None)
        if status_code != HTTPStatus.OK or type(markup) is not InlineKeyboardMarkup:
            return super().check_response(bot, method, status_code, content)
        try:
            data = self.json_loads(content)
        except ValueError:
            return super().check_response(bot, method, status_code, content)
        result = data.get("result") if type(data) is dict and data.get("ok") is True else None
        if type(result) is not dict or result.get("reply_markup") is None:
            return super().check_response(bot, method, status_code, content)
        result["reply_markup"] = markup
        try:
            response_type: Any = Response[method.__returning__]  # type: ignore[name-defined]
            return response_type.model_validate(data, context={"bot": bot})  # type: ignore[no-any-return]
        except ValidationError as exc:
            raise ClientDecodeError("Failed to deserialize object", exc, data) from exc

    async def close(self) -> None:
        """aiogram waits 250 ms after closing for TLS connections to shut down; a plain
        http:// Bot API (a local Bot API server, the sandbox) has none to wait for."""
        if self.api.base.startswith("https://"):
            await super().close()
        elif self._session is not None and not self._session.closed:
            await self._session.close()
