"""Builds every part once and wires them together; nothing is built at import time."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.methods import TelegramMethod

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.fsm_storage import SQLStorage
from bot.i18n import Translator
from bot.middlewares import (
    CallbackAnswerMiddleware,
    ThrottlingMiddleware,
    UnitOfWorkMiddleware,
    UserContextMiddleware,
)
from bot.outbox import OutboxSession
from db.database import Database
from db.repo import Repos
from handlers import setup_routers

log = logging.getLogger(__name__)


@dataclass(slots=True)
class App:
    settings: Settings
    db: Database
    repo: Repos
    translator: Translator
    storage: BaseStorage
    dispatcher: Dispatcher
    clock: Clock
    # Admins this start-up demoted because ADMIN_IDS no longer lists them: the process
    # revokes the rest of their reach (staff chats, forms, announcements) once it runs.
    demoted_admins: tuple[int, ...] = ()

    async def close(self) -> None:
        # The storage was closed by the dispatcher's shutdown if polling ran; closing a
        # closed storage is harmless for both SQLStorage and RedisStorage.
        await self.storage.close()
        await self.db.dispose()


def pin_response_models() -> list[type]:
    """Keep pydantic's ``Response[T]`` models of every Bot API method alive.

    aiogram parses each answer with ``Response[method.__returning__]``; pydantic caches
    such parametrised generics in a weak-valued dictionary, so under load the garbage
    collector drops them and each response rebuilds a model class (about a tenth of the
    bot's CPU in the dispatch benchmark). Holding them keeps the cache warm.
    """
    from aiogram import methods
    from aiogram.methods.base import Response

    used = (
        methods.GetUpdates,
        methods.SendMessage,
        methods.EditMessageText,
        methods.EditMessageReplyMarkup,
        methods.AnswerCallbackQuery,
        methods.DeleteMessage,
        methods.SendVenue,
        methods.SendDocument,
        methods.SendPhoto,
        methods.CopyMessage,
        methods.SendChatAction,
        methods.GetMe,
    )
    generic: Any = Response
    return [generic[m.__returning__] for m in used]


# The young generation is collected after this many new container objects (Python's
# default is 700): an update allocates thousands (pydantic models of the update and
# of every answer, middleware chains), nearly all freed at once by reference counting.
# bench/signup.py at 300 citizens: collection took 0.16-0.22 ms of an update's CPU at
# 10,000 and 0.02-0.04 ms at 50,000.
GC_YOUNG_THRESHOLD = 50_000


def settle_heap() -> None:
    """Once the process has started: keep the garbage collector off what lives as long as
    the process (translations, routers, pydantic and SQLAlchemy models, the catalogue
    snapshot built so far), and collect young objects less often.

    Measured by bench/signup.py (the "GC ms" column): the collector took about a fifth
    of the CPU of an update, mostly re-scanning those long-lived objects. Objects
    created later are collected as usual. Not for tests, which build and drop many
    apps in one process (frozen objects are never collected).
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def build_bot(settings: Settings, token: str | None = None, db: Database | None = None) -> Bot:
    """The Bot for replies. With ``db``, every request first writes what the update being
    handled has collected (``Database.unit_of_work``): nothing is shown to a user before
    it is saved. Requests without a file are posted as JSON (``OutboxSession``): cheaper
    to build than multipart form data, on every reply."""
    session = OutboxSession(api=TelegramAPIServer.from_base(settings.bot_api_url))
    if db is not None:
        session.middleware(SaveBeforeRequest(db))
    return Bot(
        token=token or settings.bot_token or "",
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


class SaveBeforeRequest(BaseRequestMiddleware):
    """Flushes the update's unit of work before each Bot API request it makes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(
        self, make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
    ) -> Any:
        await self.db.flush()
        return await make_request(bot, method)


def build_outbox_bot(settings: Settings, *, connections: int) -> Bot:
    """The outbox's own Bot: its own HTTP session and connection pool, so bulk sends never
    queue in front of replies to users; JSON requests (cheaper than multipart)."""
    session = OutboxSession(
        api=TelegramAPIServer.from_base(settings.bot_api_url), limit=connections
    )
    return Bot(
        token=settings.bot_token or "",
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def build_storage(settings: Settings, db: Database) -> BaseStorage:
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        # Form state (a half-filled form holds a name and a phone) expires by itself.
        ttl = settings.form_state_ttl
        return RedisStorage.from_url(settings.redis_url, state_ttl=ttl, data_ttl=ttl)
    # Long polling: one consumer per chat, so the state can be cached in this process.
    return SQLStorage(db, cache=not settings.webhook_mode)


def build_isolation(storage: BaseStorage) -> BaseEventIsolation:
    """One update at a time per chat and user, so a fast double tap cannot race the form.

    With Redis the lock is shared by every worker and uses the storage's own client
    (aiogram's RedisEventIsolation.close() does not close a client of its own).
    """
    from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

    if isinstance(storage, RedisStorage):
        return RedisEventIsolation(redis=storage.redis)
    return SimpleEventIsolation()


def build_dispatcher(
    settings: Settings,
    db: Database,
    translator: Translator,
    storage: BaseStorage | None = None,
    clock: Clock | None = None,
) -> App:
    clock = clock or SystemClock()
    # Long polling without Redis: this process alone consumes every chat's updates.
    single_consumer = not settings.webhook_mode and not settings.redis_url
    repo = Repos.create(db, now=clock.now, cache=single_consumer)
    storage = storage or build_storage(settings, db)
    dp = Dispatcher(
        storage=storage,
        events_isolation=build_isolation(storage),
        settings=settings,
        db=db,
        repo=repo,
        translator=translator,
        clock=clock,
    )
    if isinstance(storage, SQLStorage):
        dp.update.outer_middleware(UnitOfWorkMiddleware(storage, repo))
    dp.update.outer_middleware(UserContextMiddleware(repo, translator))
    if settings.throttle_rate > 0:
        throttling = ThrottlingMiddleware(rate=settings.throttle_rate)
        dp.message.middleware(throttling)
        dp.callback_query.middleware(throttling)
    dp.callback_query.middleware(CallbackAnswerMiddleware())
    dp.include_router(setup_routers())
    return App(settings, db, repo, translator, storage, dp, clock)


async def create_app(
    settings: Settings, storage: BaseStorage | None = None, *, clock: Clock | None = None
) -> App:
    """Open the database (migrating it) and build the dispatcher."""
    db = Database(settings.database_url)
    await db.migrate()
    translator = Translator(default_locale=settings.default_locale)
    app = build_dispatcher(settings, db, translator, storage, clock)
    await app.repo.staff.ensure_admins(settings.admin_ids)
    app.demoted_admins = await app.repo.staff.demote_unlisted_admins(settings.admin_ids)
    for user_id in app.demoted_admins:
        log.warning("user %s is no longer in ADMIN_IDS: their admin role is removed", user_id)
    return app
