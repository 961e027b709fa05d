"""The outbox's own HTTP session."""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import TelegramMethod
from aiogram.types import InputFile
from aiohttp import FormData
from aiohttp.payload import JsonPayload


class OutboxSession(AiohttpSession):
    """aiogram's session posting JSON instead of multipart form data when a request has no
    file: the Bot API takes both, and JSON is cheaper to build and to parse. The outbox has
    its own session (and connection pool) so bulk sends never delay replies to users."""

    def build_form_data(self, bot: Bot, method: TelegramMethod[Any]) -> FormData:
        files: dict[str, InputFile] = {}
        body = self._plain(method.model_dump(warnings=False), bot, files)
        if files:
            return super().build_form_data(bot, method)
        # aiohttp takes any payload where aiogram passes its form.
        return JsonPayload(body, dumps=self.json_dumps)  # type: ignore[return-value]

    def _plain(self, value: Any, bot: Bot, files: dict[str, InputFile]) -> Any:
        """``prepare_value`` for a JSON body, with plain values (the bulk of a keyboard)
        passed through at once; anything else (defaults, files, enums, dates, models) is
        left to ``prepare_value``. Keys whose value prepares to None are left out."""
        kind = type(value)
        if kind is str or kind is int or kind is bool or kind is float:
            return value
        if kind is dict:
            out = {}
            for key, item in value.items():
                prepared = None if item is None else self._plain(item, bot, files)
                if prepared is not None:
                    out[key] = prepared
            return out
        if kind is list:
            return [
                prepared
                for item in value
                if item is not None and (prepared := self._plain(item, bot, files)) is not None
            ]
        return self.prepare_value(value, bot=bot, files=files, _dumps_json=False)

    async def close(self) -> None:
        """aiogram waits 250 ms after closing for TLS connections to shut down; a plain
        http:// Bot API (a local Bot API server, the sandbox) has none to wait for."""
        if self.api.base.startswith("https://"):
            await super().close()
        elif self._session is not None and not self._session.closed:
            await self._session.close()
