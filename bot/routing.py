"""Router recipes: handlers register at import time, a fresh Router is built per Dispatcher.

An aiogram Router can be attached to one parent only, so a module-level Router cannot
serve a restarted bot, two bot processes in one test, or the sandbox next to the tests.
``FeatureRouter`` records the same decorator calls and replays them in ``build()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiogram import Router
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.types import CallbackQuery

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
        self._prefixes = tuple(prefixes.items())  # separator -> prefixes

    async def __call__(self, callback: CallbackQuery) -> bool:
        data = callback.data
        if not data:
            return False
        return any(data.partition(sep)[0] in heads for sep, heads in self._prefixes)

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
