"""Router recipes: handlers register at import time, a fresh Router is built per Dispatcher.

An aiogram Router can be attached to one parent only, so a module-level Router cannot
serve a restarted bot, two bot processes in one test, or the sandbox next to the tests.
``FeatureRouter`` records the same decorator calls and replays them in ``build()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from aiogram import Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.types import CallbackQuery, TelegramObject

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


class _Observer:
    def __init__(self, recipe: FeatureRouter, name: str) -> None:
        self._recipe = recipe
        self._name = name

    def __call__(self, *filters: Any, **kwargs: Any) -> Callable[[HandlerT], HandlerT]:
        def decorator(callback: HandlerT) -> HandlerT:
            self._recipe._ops.append(("register", self._name, (callback, *filters), kwargs))
            return callback

        return decorator

    def filter(self, *filters: Any) -> None:
        self._recipe._ops.append(("filter", self._name, filters, {}))

    def middleware(self, middleware: Any) -> None:
        self._recipe._ops.append(("middleware", self._name, (middleware,), {}))

    def outer_middleware(self, middleware: Any) -> None:
        self._recipe._ops.append(("outer_middleware", self._name, (middleware,), {}))


class FeatureRouter:
    """Use like an aiogram Router (``@router.message(...)``); call ``build()`` per bot."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._ops: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = []
        self.message = _Observer(self, "message")
        self.edited_message = _Observer(self, "edited_message")
        self.callback_query = _Observer(self, "callback_query")
        self.my_chat_member = _Observer(self, "my_chat_member")
        self.chat_member = _Observer(self, "chat_member")
        self.errors = _Observer(self, "errors")

    def include(self, *parts: FeatureRouter) -> None:
        """Replay ``parts``' handlers on this router, after what it has recorded so far.

        For a feature split over several modules: the package's router holds the
        feature's filters and includes its modules' routers in the order their handlers
        must be tried, so the feature is still one aiogram Router (its filters run once).
        """
        self._ops.extend(("include", "", (part,), {}) for part in parts)

    def build(self) -> Router:
        router = Router(name=self.name)
        self._replay(router)
        prefixes = CallbackPrefixes.of(router)
        if prefixes is not None:
            router.callback_query.filter(prefixes)
        return router

    def _replay(self, router: Router) -> None:
        for op, observer_name, args, kwargs in self._ops:
            if op == "include":
                args[0]._replay(router)
                continue
            observer = getattr(router, observer_name)
            getattr(observer, op)(*args, **kwargs)


class Gate:
    """Feature routers behind one check that every one of them makes anyway.

    aiogram offers each update to every router in turn (a router costs its middleware
    chain, its own filters and its handlers' filters, even when it rejects the update).
    If each feature in ``parts`` rejects a message or a callback unless ``check`` passes
    (e.g. ``RoleFilter()``: the staff features), the gate runs ``check`` once and the
    parts are not visited at all for the rest (citizens). Other update kinds pass the
    gate unfiltered. The parts keep their own filters and their order.
    """

    def __init__(self, name: str, *parts: FeatureRouter, check: Any) -> None:
        self.name = name
        self.parts = parts
        self.check = check

    def build(self) -> Router:
        router = Router(name=self.name)
        router.message.filter(self.check)
        router.callback_query.filter(self.check)
        router.include_routers(*(part.build() for part in self.parts))
        return router


class CallbackPrefixes(Filter):
    """A router's callback filter made of its handlers' own: passes a press whose data
    starts with the prefix of one of the CallbackData classes the router's handlers take.

    aiogram tries every handler of a router in turn, and a CallbackData filter unpacks the
    data (raising on a foreign prefix) to reject it; a press meant for a feature further
    down the tree paid that in every router before it. One set lookup per router does it."""

    def __init__(self, prefixes: dict[str, frozenset[str]]) -> None:
        self.prefixes = prefixes  # separator -> prefixes
        self._pairs = tuple(prefixes.items())

    async def __call__(self, callback: CallbackQuery) -> bool:
        return self.matches(callback.data)

    def matches(self, data: str | None) -> bool:
        if not data:
            return False
        return any(data.partition(sep)[0] in heads for sep, heads in self._pairs)

    def __or__(self, other: CallbackPrefixes) -> CallbackPrefixes:
        both = {
            sep: self.prefixes.get(sep, frozenset()) | other.prefixes.get(sep, frozenset())
            for sep in {*self.prefixes, *other.prefixes}
        }
        return CallbackPrefixes(both)

    @classmethod
    def of(cls, router: Router) -> CallbackPrefixes | None:
        """The router's prefixes, or None if any callback handler of it takes a press by
        anything else than CallbackData (then every press must reach its handlers)."""
        prefixes: dict[str, set[str]] = {}
        handlers = router.callback_query.handlers
        for handler in handlers:
            kinds = [
                f.callback.callback_data
                for f in handler.filters or ()
                if isinstance(f.callback, CallbackQueryFilter)
            ]
            if not kinds:
                return None
            for kind in kinds:
                prefixes.setdefault(kind.__separator__, set()).add(kind.__prefix__)
        if not prefixes:
            return None
        return cls({sep: frozenset(heads) for sep, heads in prefixes.items()})


# What a sub-router of ``RootRouter`` may take of one kind of update: None, nothing (it
# is skipped); ``ANY``, every such update; or the prefixes of the presses it may take.
_Reach = CallbackPrefixes | Literal["any"] | None
ANY: Literal["any"] = "any"


class RootRouter(Router):
    """The features' parent: offers a message or a button press only to the features
    that may take it.

    aiogram offers every update to every router in turn, and each visit costs (the
    router's middleware chain built, the update's data copied twice, its filters run)
    whether or not the router has a handler for that kind of update. Sampled under load,
    these visits were a tenth of an update's CPU. Worked out once from the built routers:
    a feature with no handler for messages (or presses) anywhere in it is not offered
    one, and a feature whose press handlers all take their own CallbackData (its
    ``CallbackPrefixes``) is offered only the presses with its prefixes. Any router with
    outer middlewares of that kind is always offered it, as aiogram would; so is every
    other kind of update. The result is aiogram's: only routers that would have turned
    the update away are passed over."""

    KINDS = ("message", "callback_query")

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._plans: dict[str, list[tuple[Router, _Reach]]] = {}

    async def propagate_event(self, update_type: str, event: TelegramObject, **kwargs: Any) -> Any:
        plan = self._plan(update_type)
        if plan is None:
            return await super().propagate_event(update_type, event, **kwargs)
        kwargs.update(event_router=self)
        data = getattr(event, "data", None) if update_type == "callback_query" else None
        for router, reach in plan:
            if reach is None or (isinstance(reach, CallbackPrefixes) and not reach.matches(data)):
                continue
            response = await router.propagate_event(update_type=update_type, event=event, **kwargs)
            if response is not UNHANDLED:
                return response
        return UNHANDLED

    def _plan(self, update_type: str) -> list[tuple[Router, _Reach]] | None:
        """The sub-routers with what each may take, or None to leave it to aiogram."""
        if update_type not in self.KINDS:
            return None
        plan = self._plans.get(update_type)
        if plan is None:
            own = self.observers[update_type]
            if own.handlers or own._handler.filters or len(own.outer_middleware):
                return None  # the root's own handlers and checks: aiogram's way
            plan = [(router, _reach(router, update_type)) for router in self.sub_routers]
            self._plans[update_type] = plan
        return plan


def _reach(router: Router, update_type: str) -> _Reach:
    reach: _Reach = None
    for sub in router.chain_tail:  # the router and every router below it
        observer = sub.observers[update_type]
        if len(observer.outer_middleware):
            return ANY
        if not observer.handlers:
            continue
        if update_type != "callback_query":
            return ANY
        prefixes = CallbackPrefixes.of(sub)
        if prefixes is None:
            return ANY
        reach = prefixes if reach is None else reach | prefixes  # type: ignore[operator]
    return reach
