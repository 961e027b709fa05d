"""The outbox sender: every bulk message goes out through here (DESIGN rules 2 and 3).

Announcements, schedule notices and class reminders are ``deliveries`` rows first. The
``Outbox`` of every bot process claims due rows in batches (claims are safe across
processes), sends them and writes what happened:

* up to ``concurrency`` requests in flight, started no faster than ``rate`` per second
  (a pacer with evenly spaced slots) and no sooner than ``per_chat_interval`` after the
  start and the answer of the chat's previous one. With 50 ms per request a one-at-a-time
  sender tops out at 20 messages a second; this one keeps the configured rate whatever
  the latency, up to its concurrency;
* 429 → every worker pauses for ``retry_after``; the row is sent again later (not an
  attempt). 403 → the row is ``blocked`` and the user inactive (a my_chat_member unblock
  makes them active again). 400 → that row ``failed`` with the error kept. 5xx, timeouts
  and network errors → retried with exponential back-off, then ``failed``;
* outcomes are written by one committer task in as few transactions as possible (group
  commit); a slot is freed only once its row's outcome is committed, so after a crash at
  most ``concurrency`` messages can have gone out without being marked: the only ones that
  may be sent twice. No transaction is ever open during a Telegram request;
* it runs on its own ``Bot`` (own HTTP session and connection pool), so replies to users
  never queue behind a broadcast.

What to send is decided at send time by a renderer for the payload's ``type``: ``copy``
(copyMessage of a staff member's message), ``text`` (a translation key rendered in the
recipient's language) or any type registered with ``register_renderer``.
"""

from bot.outbox.commit import OutboxStats, OutcomeListener
from bot.outbox.pacing import Pacer, SharedPacing, Window
from bot.outbox.render import (
    Rendered,
    Renderer,
    register_renderer,
    render_buttons,
    render_copy,
    render_param,
    render_params,
    render_text,
)
from bot.outbox.sender import (
    RETRYABLE,
    WINDOW_CEILING,
    Outbox,
    default_concurrency,
)
from bot.outbox.session import OutboxSession

__all__ = [
    "RETRYABLE",
    "WINDOW_CEILING",
    "Outbox",
    "OutboxSession",
    "OutboxStats",
    "OutcomeListener",
    "Pacer",
    "Rendered",
    "Renderer",
    "SharedPacing",
    "Window",
    "default_concurrency",
    "register_renderer",
    "render_buttons",
    "render_copy",
    "render_param",
    "render_params",
    "render_text",
]
