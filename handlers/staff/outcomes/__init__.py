"""The staff's outcomes section: trainee progress by group (attendance, flags, drop-outs,
the completion roster), certificates, the programme report and the attendance journal.

Every handler checks the role (``RoleFilter`` on the router, which injects the
``StaffScope``) and the centre of the row a button or form names
(``handlers/staff/scope.py``): a trainee, group or centre outside the scope is answered
like a stale button.
"""

from __future__ import annotations

from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from handlers.staff.common import StaffChats, StaffTraffic
from handlers.staff.outcomes import certificates, groups, reports

__all__ = ["router"]

router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(), StaffChats())
router.callback_query.filter(StaffTraffic(), RoleFilter(), StaffChats())
router.include(groups.router, certificates.router, reports.router)
