"""Wiring into the bot process: staff answers are an outbox delivery kind."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.support.delivery import KIND, ReplyOutcomes, render_reply

if TYPE_CHECKING:
    from bot.factory import App
    from bot.runner import BotProcess


def start_support(process: BotProcess, app: App) -> None:
    """Teach the process's outbox to render answers (``reply`` rows) and to report the
    ones it could not deliver to the staff member who wrote them."""
    outbox, bot = process.outbox, process.bot
    if outbox is None or bot is None:
        return
    outbox.register_renderer(KIND, render_reply)
    outbox.outcome_listeners.append(ReplyOutcomes(bot, app.repo, app.translator, app.settings))
