"""Wiring into the bot process: start and stop the process's service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.reminders.service import ReminderService

if TYPE_CHECKING:
    from bot.factory import App
    from bot.runner import BotProcess


async def start_reminders(process: BotProcess, app: App) -> ReminderService:
    """Build and start the process's service over its outbox and scheduler (None where
    SCHEDULER_ENABLED=false) and inject it as ``reminders``; stopped by ``stop_reminders``.
    ``BotProcess._start_services`` calls this after the outbox and the scheduler exist."""
    service = ReminderService(
        app.repo,
        app.translator,
        app.settings,
        clock=app.clock,
        bot=process.bot,
        outbox=process.outbox,
        scheduler=process.scheduler,
    )
    app.dispatcher["reminders"] = service
    await service.start()
    return service


async def stop_reminders(app: App | None) -> None:
    """``BotProcess._stop_services``: forget the process's service."""
    service = app.dispatcher.get("reminders") if app is not None else None
    if isinstance(service, ReminderService):
        await service.stop()
