"""Thin middlewares; each always returns the handler's result."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.flags import get_flag
from aiogram.types import CallbackQuery, TelegramObject, User
from aiogram.utils.callback_answer import CallbackAnswer

from bot.fsm_storage import SQLStorage
from bot.i18n import Translator
from db.repo import Repos

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UserContextMiddleware(BaseMiddleware):
    """Registers the sender on first contact and binds their locale.

    Injects ``user`` (UserDTO or None), ``locale`` and ``t`` (BoundTranslator). Outer
    middleware on the update, so filters can use ``t`` too.
    """

    def __init__(self, repo: Repos, translator: Translator) -> None:
        self.repo = repo
        self.translator = translator

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: User | None = data.get("event_from_user")
        user = None
        if tg_user is not None and not tg_user.is_bot:
            user, created = await self.repo.users.upsert_seen(
                tg_user.id,
                first_name=tg_user.first_name,
                username=tg_user.username,
                language_code=tg_user.language_code,
            )
            data["user_created"] = created
        locale = self.translator.resolve_locale(
            user.locale if user else None, tg_user.language_code if tg_user else None
        )
        data["user"] = user
        data["locale"] = locale
        data["t"] = self.translator.bind(locale)
        return await handler(event, data)


class UnitOfWorkMiddleware(BaseMiddleware):
    """One write transaction per update for what nobody reads back in it: the form state
    (set_data then set_state are one write), funnel events, the user's chosen language
    and consent are collected and written together when the handler is done
    (``SQLStorage.unit_of_work``, ``Database.unit_of_work``). Outer middleware on the
    update, inside aiogram's per-chat lock. If anything fails, the user's cached record
    is dropped too, so the next update reads what the database has."""

    def __init__(self, storage: SQLStorage, repo: Repos) -> None:
        self.storage = storage
        self.repo = repo

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        try:
            async with self.storage.unit_of_work():
                return await handler(event, data)
        except BaseException:
            tg_user: User | None = data.get("event_from_user")
            if tg_user is not None and self.repo.users.cache is not None:
                self.repo.users.cache.drop(tg_user.id)
            raise


class ThrottlingMiddleware(BaseMiddleware):
    """Drops floods from one user (token bucket), warning them once per flood.

    Handlers may set the flag ``throttling`` to a custom cost (0 to exempt).
    """

    def __init__(self, rate: float = 3.0, burst: float = 20.0, max_users: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_users = max_users
        self._buckets: dict[int, tuple[float, float, bool]] = {}

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: User | None = data.get("event_from_user")
        if tg_user is None:
            return await handler(event, data)
        cost = get_flag(data, "throttling", default=1.0)
        now = time.monotonic()
        tokens, stamp, warned = self._buckets.get(tg_user.id, (self.burst, now, False))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        if tokens < cost:
            self._buckets[tg_user.id] = (tokens, now, True)
            if not warned:
                t = data["t"]
                if isinstance(event, CallbackQuery):
                    await event.answer(t.plain("error-too-fast"))
                elif hasattr(event, "answer"):
                    await event.answer(t("error-too-fast"))
            elif isinstance(event, CallbackQuery):
                await event.answer()
            return None
        if len(self._buckets) >= self.max_users and tg_user.id not in self._buckets:
            self._buckets.clear()
        self._buckets[tg_user.id] = (tokens - cost, now, False)
        return await handler(event, data)


class CallbackAnswerMiddleware(BaseMiddleware):
    """Answers every handled callback exactly once, after the handler.

    Handlers set ``callback_answer.text`` (and ``show_alert``) for a toast, or answer
    themselves with ``callback_answer.disable()`` first. If the handler fails, the toast
    says so in the user's language.
    """

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        answer = data["callback_answer"] = CallbackAnswer(answered=False)
        try:
            return await handler(event, data)
        except Exception:
            if not answer.disabled and not answer.answered:
                answer.text = data["t"].plain("error-generic")
                answer.show_alert = True
            raise
        finally:
            if not answer.disabled and not answer.answered:
                try:
                    await event.answer(text=answer.text, show_alert=answer.show_alert)
                except Exception:
                    log.warning("answerCallbackQuery failed for update", exc_info=True)
