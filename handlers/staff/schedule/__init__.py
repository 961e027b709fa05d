"""Class sessions of a group: add, move, cancel, or import a term's timetable from a file.

Times are typed in the local time of the group's centre and stored in UTC. Accepted
trainees of the group are told of every change (bot.notify.notify_schedule_change).

The package, by concern: ``parsing`` (typed times), ``views`` (lists, a class, shared
checks), and the handlers in the order they are tried — ``browse``, ``changes`` (add,
move, cancel), ``timetable`` (template and import), ``fallbacks`` (wrong kind of answer).
"""

from __future__ import annotations

from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from handlers.staff.common import StaffChats, StaffTraffic
from handlers.staff.schedule import browse, changes, fallbacks, timetable

__all__ = ["router"]

# The feature's one router: its filters, then the modules' handlers in the order they
# are tried. The modules' own routers carry no filters: include them only here.
router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(), StaffChats())
router.callback_query.filter(StaffTraffic(), RoleFilter(), StaffChats())
router.include(browse.router, changes.router, timetable.router, fallbacks.router)
