"""The audit log: who did what and when, with the values before and after."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram import F
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.callback_answer import CallbackAnswer

from bot.i18n import BoundTranslator
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.staff_callbacks import AuditCB
from bot.staff_menu import StaffMenuCB, StaffSection
from bot.telegram_utils import show, split_text
from db.dto import Audience, AuditDTO, CentreDTO, StaffScope, UserDTO
from db.repo import Repos
from handlers.broadcast.views import describe as describe_audience
from handlers.staff.common import StaffChats, StaffTraffic, clip, home_button, person, stale
from handlers.staff.schedule.timetable import KIND_KEYS  # a timetable import's counts per kind

router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(), StaffChats())
router.callback_query.filter(StaffTraffic(), RoleFilter(), StaffChats())

PAGE_SIZE = 10
ACTION_KEYS = {
    "application.accept": "audit-action-accept",
    "application.waitlist": "audit-action-waitlist",
    "application.reject": "audit-action-reject",
    "application.promote": "audit-action-promote",
    "application.move": "audit-action-move",
    "group.capacity": "audit-action-capacity",
    "group.add": "audit-action-group-add",
    "course.enrolment": "audit-action-enrolment",
    "session.add": "audit-action-session-add",
    "session.move": "audit-action-session-move",
    "session.cancel": "audit-action-session-cancel",
    "staff.set_role": "audit-action-set-role",
    "staff.remove": "audit-action-remove",
    "catalog.import": "audit-action-import",
    "export.applications": "audit-action-export",
    "broadcast.create": "audit-action-broadcast-create",
    "broadcast.cancel": "audit-action-broadcast-cancel",
    "broadcast.stop": "audit-action-broadcast-stop",
    "broadcast.export": "audit-action-broadcast-export",
    "attendance.mark": "audit-action-attendance",
    "staff.grant": "centres-audit-grant",
    "staff.revoke": "centres-audit-revoke",
    "centre.chat": "centres-audit-chat",
    "centre.contacts": "centres-audit-contacts",
    "centre.reach": "centres-audit-reach",
}
FIELD_KEYS = {
    "status": "audit-field-status",
    "group_id": "audit-field-group",
    "capacity": "audit-field-capacity",
    "enrolment_open": "audit-field-enrolment",
    "role": "audit-field-role",
    "reason": "audit-field-reason",
    "starts_at": "audit-field-starts",
    "ends_at": "audit-field-ends",
    "room": "audit-field-room",
    "cancelled": "audit-field-cancelled",
    "rows": "audit-field-rows",
    "course_id": "audit-field-course",
    "district_id": "audit-field-district",
    "user_id": "audit-field-person",
    "present": "audit-field-present",
    "audience": "audit-field-audience",
    "scheduled_at": "audit-field-scheduled",
    "skipped": "audit-field-skipped",
    "centre_id": "centres-field-centre",
    "chat_id": "centres-field-chat",
    "reach": "centres-field-reach",
}
BROADCAST_STATUSES = ("scheduled", "sending", "stopped", "cancelled")
# Shown even when unchanged: they say whom an entry is about (attendance names the session).
CONTEXT_FIELDS = frozenset({"user_id"})
ROLE_KEYS = {
    "admin": "staff-role-admin",
    "staff": "staff-role-staff",
    "manager": "centres-role-manager",
}
STATUSES = ("pending", "accepted", "waitlisted", "rejected", "cancelled")
REACH_KEYS = {
    "applicants": "centres-reach-btn-applicants",
    "region": "centres-reach-btn-region",
    "everyone": "centres-reach-btn-everyone",
}


# The zone a staff member most likely lives in, by the language they read: Kazakhstan's
# single zone for Kazakh, Kyrgyzstan's for Kyrgyz; otherwise the zone most centres use.
LOCALE_ZONES = {"kk": ("Asia/Almaty", "Asia/Qostanay", "Asia/Aqtobe"), "ky": ("Asia/Bishkek",)}


async def staff_zone(t: BoundTranslator, repo: Repos) -> tuple[str, str]:
    """(IANA zone, its name for staff: a centre's city in it) for the reader's local time."""
    centres = await repo.catalogue.centres()
    if not centres:
        return "UTC", "UTC"
    by_zone: dict[str, list[CentreDTO]] = {}
    for centre in centres:
        by_zone.setdefault(centre.timezone, []).append(centre)
    preferred = [z for z in LOCALE_ZONES.get(t.locale, ()) if z in by_zone]
    zone = preferred[0] if preferred else max(by_zone, key=lambda z: len(by_zone[z]))
    return zone, t.pick(by_zone[zone][0].city)


def fmt_local(value: datetime, zone: tuple[str, str]) -> str:
    """A moment in the staff member's local time, the zone named by its city."""
    local = value.astimezone(ZoneInfo(zone[0]))
    return f"{local.strftime('%Y-%m-%d %H:%M')} ({zone[1]})"


class _Render:
    """Turns audit rows into lines, looking names up once per page."""

    def __init__(self, t: BoundTranslator, repo: Repos, zone: tuple[str, str]) -> None:
        self.t = t
        self.repo = repo
        self.zone = zone
        self.groups: dict[int, str] = {}

    async def group(self, group_id: int) -> str:
        if group_id not in self.groups:
            group = await self.repo.catalogue.group(group_id)
            self.groups[group_id] = self.t.pick(group.name) if group else f"#{group_id}"
        return self.groups[group_id]

    async def course(self, course_id: int) -> str:
        course = await self.repo.catalogue.course(course_id)
        return self.t.pick(course.title) if course else f"#{course_id}"

    async def value(self, field: str, value: object, target_type: str = "") -> str:
        """One recorded value as staff read it: names instead of ids, labels instead of
        codes, in the reader's language."""
        t = self.t
        if value is None:
            return "—"
        if field == "status" and target_type == "broadcast" and value in BROADCAST_STATUSES:
            return t.plain(f"audit-broadcast-{value}")
        if field == "status" and value in STATUSES:
            return t.plain("status-" + str(value))
        if field == "reach" and value in REACH_KEYS:
            return t.plain(REACH_KEYS[str(value)])
        if field == "role" and value in ROLE_KEYS:
            return t.plain(ROLE_KEYS[str(value)])
        if field == "group_id" and isinstance(value, int):
            return await self.group(value)
        if field == "course_id" and isinstance(value, int):
            return await self.course(value)
        if field == "centre_id" and isinstance(value, int):
            centre = await self.repo.catalogue.centre(value)
            return t.pick(centre.name) if centre else f"#{value}"
        if field == "district_id" and isinstance(value, int):
            district = await self.repo.catalogue.district(value)
            return t.pick(district.name) if district else f"#{value}"
        if field == "user_id" and isinstance(value, int):
            return await person(self.repo, value)
        if field == "audience" and isinstance(value, dict):
            return await describe_audience(t, self.repo, Audience.from_json(value))
        if field in KIND_KEYS and isinstance(value, dict):
            return t.plain(
                "audit-import-counts",
                created=value.get("created", 0),
                updated=value.get("updated", 0),
            )
        if isinstance(value, bool):
            if field == "enrolment_open":
                # Enrolment's own words ("open"/"closed"), not the reminders' on/off.
                return t.plain("staff-enrolment-open" if value else "staff-enrolment-closed")
            return t.plain("audit-yes" if value else "audit-no")
        if field in ("starts_at", "ends_at", "scheduled_at") and isinstance(value, str):
            try:
                return fmt_local(datetime.fromisoformat(value), self.zone)
            except ValueError:
                pass
        return clip(str(value), 60)

    async def target(self, row: AuditDTO) -> str:
        t = self.t
        tid = row.target_id or ""
        if row.target_type == "user" and tid.isdigit():
            return await person(self.repo, int(tid))
        if row.target_type == "group" and tid.isdigit():
            return await self.group(int(tid))
        if row.target_type == "course" and tid.isdigit():
            return await self.course(int(tid))
        if row.target_type == "centre" and tid.isdigit():
            centre = await self.repo.catalogue.centre(int(tid))
            return t.pick(centre.name) if centre else f"#{tid}"
        if row.target_type in ("application", "session", "broadcast") and tid:
            return t.plain("audit-number", id=tid)
        return clip(tid, 60)

    def label(self, field: str) -> str:
        if field in FIELD_KEYS:
            return self.t.plain(FIELD_KEYS[field])
        if field in KIND_KEYS:
            return self.t.plain(KIND_KEYS[field])
        return field

    async def change(self, row: AuditDTO) -> str:
        before = row.before or {}
        after = row.after or {}
        parts = []
        for field in dict.fromkeys([*before, *after]):
            old, new = before.get(field), after.get(field)
            if old == new:
                if field in CONTEXT_FIELDS and new is not None:  # whom the change is about
                    parts.append(f"{self.label(field)}: {await self.value(field, new)}")
                continue
            label = self.label(field)
            kind = row.target_type
            if field not in before:
                parts.append(f"{label}: {await self.value(field, new, kind)}")
            else:
                parts.append(
                    f"{label}: {await self.value(field, old, kind)}"
                    f" → {await self.value(field, new, kind)}"
                )
        return clip("; ".join(parts), 300)

    async def line(self, row: AuditDTO) -> str:
        t = self.t
        action = t.plain(ACTION_KEYS[row.action]) if row.action in ACTION_KEYS else row.action
        text = t(
            "audit-line",
            at=fmt_local(row.at, self.zone),
            who=await person(self.repo, row.actor_id) if row.actor_id else t.plain("audit-system"),
            action=action,
            target=await self.target(row),
        )
        change = await self.change(row)
        return f"{text}\n{t('audit-change', change=change)}" if change else text


async def audit_view(
    t: BoundTranslator, repo: Repos, page: int, scope: StaffScope, viewer_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    """A page of the log: everything for a programme admin; for centre staff, their
    centres' rows and their own actions."""
    rows = await repo.audit.latest(
        limit=PAGE_SIZE + 1,
        offset=page * PAGE_SIZE,
        centre_ids=scope.centre_ids,
        viewer_id=viewer_id,
    )
    more = len(rows) > PAGE_SIZE
    render = _Render(t, repo, await staff_zone(t, repo))
    blocks = [t("audit-header", page=page + 1)]
    blocks += [await render.line(row) for row in rows[:PAGE_SIZE]]
    if not rows:
        blocks.append(t("audit-empty"))
    nav = []
    if page > 0:
        nav.append(
            InlineKeyboardButton(
                text=t.plain("audit-btn-newer"), callback_data=AuditCB(page=page - 1).pack()
            )
        )
    if more:
        nav.append(
            InlineKeyboardButton(
                text=t.plain("audit-btn-older"), callback_data=AuditCB(page=page + 1).pack()
            )
        )
    keyboard = [nav] if nav else []
    keyboard.append([home_button(t)])
    return split_text("\n\n".join(blocks))[0], InlineKeyboardMarkup(inline_keyboard=keyboard)


@router.callback_query(StaffMenuCB.filter(F.section == StaffSection.audit))
async def open_section(
    callback: CallbackQuery, t: BoundTranslator, repo: Repos, scope: StaffScope, user: UserDTO
) -> None:
    await show(callback, *await audit_view(t, repo, 0, scope, user.id))


@router.callback_query(AuditCB.filter())
async def on_page(
    callback: CallbackQuery,
    callback_data: AuditCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
    user: UserDTO,
) -> None:
    if not 0 <= callback_data.page <= 10_000:
        stale(t, callback_answer)
        return
    await show(callback, *await audit_view(t, repo, callback_data.page, scope, user.id))
