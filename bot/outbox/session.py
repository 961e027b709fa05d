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
        body = {
            key: prepared
            for key, value in method.model_dump(warnings=False).items()
            if (prepared := self.prepare_value(value, bot=bot, files=files, _dumps_json=False))
            is not None
        }
        if files:
            return super().build_form_data(bot, method)
        # aiohttp takes any payload where aiogram passes its form.
        return JsonPayload(body, dumps=self.json_dumps)  # type: ignore[return-value]
