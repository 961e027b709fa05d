"""The audit log: who did what and when, with the values before and after."""

from __future__ import annotations

from datetime import datetime

from aiogram import F
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.callback_answer import CallbackAnswer

from bot.i18n import BoundTranslator
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.staff_menu import StaffMenuCB, StaffSection
from bot.telegram_utils import show, split_text
from db.dto import AuditDTO
from db.repo import Repos
from handlers.staff.callbacks import AuditCB
from handlers.staff.common import StaffChats, StaffTraffic, clip, home_button, person, stale

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
}
ROLE_KEYS = {"admin": "staff-role-admin", "staff": "staff-role-staff"}
STATUSES = ("pending", "accepted", "waitlisted", "rejected", "cancelled")


def fmt_utc(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


class _Render:
    """Turns audit rows into lines, looking names up once per page."""

    def __init__(self, t: BoundTranslator, repo: Repos) -> None:
        self.t = t
        self.repo = repo
        self.groups: dict[int, str] = {}

    async def group(self, group_id: int) -> str:
        if group_id not in self.groups:
            group = await self.repo.catalogue.group(group_id)
            self.groups[group_id] = self.t.pick(group.name) if group else f"#{group_id}"
        return self.groups[group_id]

    async def value(self, field: str, value: object) -> str:
        t = self.t
        if value is None:
            return "—"
        if field == "status" and value in STATUSES:
            return t.plain("status-" + str(value))
        if field == "role" and value in ROLE_KEYS:
            return t.plain(ROLE_KEYS[str(value)])
        if field == "group_id" and isinstance(value, int):
            return await self.group(value)
        if isinstance(value, bool):
            return t.plain("state-on" if value else "state-off")
        if field in ("starts_at", "ends_at") and isinstance(value, str):
            try:
                return fmt_utc(datetime.fromisoformat(value))
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
            course = await self.repo.catalogue.course(int(tid))
            return t.pick(course.title) if course else f"#{tid}"
        if row.target_type in ("application", "session") and tid:
            return t.plain("audit-number", id=tid)
        return clip(tid, 60)

    async def change(self, row: AuditDTO) -> str:
        before = row.before or {}
        after = row.after or {}
        parts = []
        for field in dict.fromkeys([*before, *after]):
            old, new = before.get(field), after.get(field)
            if old == new:
                continue
            label = self.t.plain(FIELD_KEYS[field]) if field in FIELD_KEYS else field
            if field not in before:
                parts.append(f"{label}: {await self.value(field, new)}")
            else:
                parts.append(
                    f"{label}: {await self.value(field, old)} → {await self.value(field, new)}"
                )
        return clip("; ".join(parts), 300)

    async def line(self, row: AuditDTO) -> str:
        t = self.t
        action = t.plain(ACTION_KEYS[row.action]) if row.action in ACTION_KEYS else row.action
        text = t(
            "audit-line",
            at=fmt_utc(row.at),
            who=await person(self.repo, row.actor_id) if row.actor_id else t.plain("audit-system"),
            action=action,
            target=await self.target(row),
        )
        change = await self.change(row)
        return f"{text}\n{t('audit-change', change=change)}" if change else text


async def audit_view(
    t: BoundTranslator, repo: Repos, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    rows = await repo.audit.latest(limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE)
    more = len(rows) > PAGE_SIZE
    render = _Render(t, repo)
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
async def open_section(callback: CallbackQuery, t: BoundTranslator, repo: Repos) -> None:
    await show(callback, *await audit_view(t, repo, 0))


@router.callback_query(AuditCB.filter())
async def on_page(
    callback: CallbackQuery,
    callback_data: AuditCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    if not 0 <= callback_data.page <= 10_000:
        stale(t, callback_answer)
        return
    await show(callback, *await audit_view(t, repo, callback_data.page))
