"""The reminder service of this process, and the hooks for code that changes classes.

Handlers that add, move or cancel a class (or import a timetable) call
``session_changed`` / ``catalog_changed``; they reach the running service, if any,
without importing it.
"""

from __future__ import annotations

from typing import Protocol


class ClassChangeListener(Protocol):
    """What the hooks need of the reminder service."""

    async def session_changed(self, session_id: int) -> None: ...

    async def catalog_changed(self) -> None: ...


_services: list[ClassChangeListener] = []


def register(service: ClassChangeListener) -> None:
    if service not in _services:
        _services.append(service)


def unregister(service: ClassChangeListener) -> None:
    if service in _services:
        _services.remove(service)


def current_service() -> ClassChangeListener | None:
    """The reminder service of this bot process (the latest started), if any."""
    return _services[-1] if _services else None


async def session_changed(session_id: int) -> None:
    """Hook for code that adds, moves or cancels a class (no-op without a service)."""
    service = current_service()
    if service is not None:
        await service.session_changed(session_id)


async def catalog_changed() -> None:
    """Hook after a catalogue or timetable import (no-op without a service)."""
    service = current_service()
    if service is not None:
        await service.catalog_changed()
