"""The routers as a whole: no handler or filter that aiogram would run in a worker thread.

aiogram runs a sync callable (a handler, a magic ``F`` filter, a bare ``State`` or
``StatesGroup`` used as a filter) through ``asyncio.to_thread`` on every update it is
checked for: a thread hop on the hot path of every message. Every one must be async.
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, User

from bot.routing import CallbackPrefixes, FeatureRouter
from handlers import setup_routers


def sync_callables(router: Router) -> list[str]:
    """Every non-awaitable handler or filter below ``router``, as readable lines."""
    found: list[str] = []
    for sub in router.chain_tail:  # the router itself and every router below it
        for event, observer in sub.observers.items():
            for obj in observer._handler.filters or []:
                if not obj.awaitable:
                    found.append(f"{sub.name} {event} router filter {obj.callback!r}")
            for handler in observer.handlers:
                name = getattr(handler.callback, "__qualname__", repr(handler.callback))
                if not handler.awaitable:
                    found.append(f"{sub.name} {event} handler {name}")
                for obj in handler.filters or []:
                    if not obj.awaitable:
                        found.append(f"{sub.name} {event} {name} filter {obj.callback!r}"[:200])
    return found


def test_the_check_sees_a_sync_filter() -> None:
    router = Router(name="probe")

    @router.message(F.text == "x")
    async def probe(_: object) -> None:
        return None

    assert len(sync_callables(router)) == 1


def test_no_handler_or_filter_runs_in_a_thread() -> None:
    root = setup_routers()
    handlers = sum(
        len(observer.handlers) for sub in root.chain_tail for observer in sub.observers.values()
    )
    assert handlers > 100  # every feature router was walked
    assert sync_callables(root) == []


async def _never(_: object) -> bool:
    return False


def test_a_feature_split_over_modules_is_one_router_with_its_filters() -> None:
    """``FeatureRouter.include``: the parts' handlers, in the order given, on the feature's
    one Router, behind the feature's filters (never a Router of their own)."""
    first, second = FeatureRouter("part.first"), FeatureRouter("part.second")

    @second.message()
    async def b(_: object) -> None:
        return None

    @first.message()
    async def a(_: object) -> None:
        return None

    feature = FeatureRouter("feature")
    feature.message.filter(_never)
    feature.include(first, second)

    @feature.message()
    async def c(_: object) -> None:
        return None

    built = feature.build()
    assert built.sub_routers == []
    assert [h.callback for h in built.message.handlers] == [a, b, c]
    assert [f.callback for f in built.message._handler.filters or []] == [_never]
    assert feature.build() is not built  # still a recipe: one Router per build


def test_split_features_keep_their_filters() -> None:
    """The split packages' routers still check the chat and the role first."""
    from handlers import broadcast, signup
    from handlers.staff import schedule

    def filters(recipe: FeatureRouter) -> list[str]:
        built = recipe.build()
        return [type(f.callback).__name__ for f in built.callback_query._handler.filters or []]

    prefixes = "CallbackPrefixes"
    assert filters(broadcast.router) == ["BroadcastTraffic", "PrivateChat", "RoleFilter", prefixes]
    assert filters(schedule.router) == ["StaffTraffic", "RoleFilter", "StaffChats", prefixes]
    assert filters(signup.router) == ["PrivateChat", prefixes]
    assert len(broadcast.router.build().callback_query.handlers) > 10


class _PickCB(CallbackData, prefix="pk"):
    n: int


class _PickMoreCB(CallbackData, prefix="pkm", sep="|"):
    n: int


def _press(data: str | None) -> CallbackQuery:
    user = User(id=1, is_bot=False, first_name="Aida")
    return CallbackQuery(id="1", from_user=user, chat_instance="c", data=data)


async def test_a_router_taking_only_callback_data_turns_other_presses_away_at_once() -> None:
    """A feature whose every button handler takes its own CallbackData gets one check of
    the prefixes in front of them; a feature with a handler for any press does not."""
    recipe = FeatureRouter("probe")

    @recipe.callback_query(_PickCB.filter(F.n > 1))
    async def pick(_: object) -> None:
        return None

    @recipe.callback_query(_PickMoreCB.filter())
    async def pick_more(_: object) -> None:
        return None

    [check] = [f.callback for f in recipe.build().callback_query._handler.filters or []]
    assert isinstance(check, CallbackPrefixes)
    assert await check(_press("pk:1"))  # the handler's own rule still decides on n
    assert await check(_press("pkm|3"))
    for foreign in ("pkm:3", "p:1", "pk|1", "sm:x", "", None):
        assert not await check(_press(foreign)), foreign

    @recipe.callback_query()
    async def anything(_: object) -> None:
        return None

    assert not recipe.build().callback_query._handler.filters


async def test_the_root_offers_an_update_only_to_the_features_that_may_take_it() -> None:
    """RootRouter passes over a feature with no handler for that kind of update, or whose
    press handlers all take other CallbackData; the handler that runs is aiogram's."""
    from datetime import UTC, datetime

    from aiogram import Bot, Dispatcher
    from aiogram.types import Chat, Message, Update

    from bot.routing import ANY, RootRouter

    seen: list[str] = []
    picks, texts, presses, watched = (FeatureRouter(n) for n in ("a", "b", "c", "d"))

    @picks.callback_query(_PickCB.filter())
    async def on_pick(_: object) -> None:
        seen.append("a")

    @texts.message()
    async def on_text(_: object) -> None:
        seen.append("b")

    @presses.callback_query()
    async def on_press(_: object) -> None:
        seen.append("c")

    async def outer(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        seen.append("d saw it")
        return await handler(event, data)

    watched.callback_query.outer_middleware(outer)
    root = RootRouter(name="root")
    root.include_routers(*(r.build() for r in (watched, picks, texts, presses)))
    reach = {r.name: how for r, how in root._plan("callback_query") or []}
    assert reach["d"] == ANY and reach["b"] is None and reach["c"] == ANY
    assert isinstance(reach["a"], CallbackPrefixes)
    assert [r.name for r, how in root._plan("message") or [] if how is not None] == ["b"]
    assert root._plan("my_chat_member") is None  # other kinds: aiogram's own way

    dispatcher = Dispatcher()
    dispatcher.include_router(root)
    bot = Bot("1:x")
    chat = Chat(id=1, type="private")
    text = Message(message_id=1, date=datetime.now(UTC), chat=chat, text="hi")
    for number, update in enumerate(
        (
            Update(update_id=1, callback_query=_press("pk:5")),
            Update(update_id=2, callback_query=_press("zz:1")),
            Update(update_id=3, message=text),
        )
    ):
        await dispatcher.feed_update(bot, update.model_copy(update={"update_id": number}))
    assert seen == ["d saw it", "a", "d saw it", "c", "b"]
    await bot.session.close()
