"""Broadcasts: an announcement from staff to many citizens, now or at a set time.

The wizard (staff only, private chat): /broadcast or the staff menu's 📣 section → send
the message (text with formatting, photo, video, document, with a caption) → choose the
audience (everyone active, or by language, course, group, district and application
status, combinable; the count is shown; centre staff reach people who applied to their
centres, plus whatever a programme admin allows per centre: handlers/staff/team_reach.py)
→ a preview (sent to the staff member exactly as recipients will see it) → send now, or
schedule for a time typed or picked in the centre's time zone. Scheduled announcements
can be listed and cancelled.

The content is frozen when the staff member sends it (``bot/broadcast_content.py``: text
and entities, or file id and caption, kept in the form and then in ``broadcasts.content``):
the preview is that content, and editing their message afterwards changes nothing that
is sent. A broadcast whose author is no longer staff is cancelled when it fires;
removing a member cancels theirs.

Sending (``service.BroadcastService``): a broadcast is a ``broadcasts`` row; when due (at
once, or by its scheduler job ``broadcast:{id}``, or at start-up if its time passed while
the bot was down) its deliveries are enqueued — the frozen content, sent as new messages
(sendMessage, sendPhoto…), dedupe keys ``broadcast:{id}:{user}`` — and the outbox sends
them. A monitor (in the process running the scheduler) edits the progress message at
most every ~2 s (delivered, not delivered, blocked, remaining, rate) with a Stop button,
and posts the final report, from which the list of recipients not reached can be
exported as CSV.

The package, by concern: ``base`` (router, callback data, states, the draft), ``views``
(the audience in words and buttons), ``times``, and the handlers in the order they are
registered — ``compose``, ``audience``, ``schedule``, ``progress`` — then ``service``.
"""

from __future__ import annotations

from bot.filters import PrivateChat
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from handlers.broadcast import audience, compose, progress, schedule
from handlers.broadcast.base import BroadcastTraffic

__all__ = ["router"]

# The feature's one router: its filters, then the modules' handlers in the order they
# are tried. The modules' own routers carry no filters: include them only here.
router = FeatureRouter(__name__)
router.message.filter(BroadcastTraffic(), PrivateChat(), RoleFilter())
router.callback_query.filter(BroadcastTraffic(), PrivateChat(), RoleFilter())
router.include(compose.router, audience.router, schedule.router, progress.router)
