"""The staff menu's sections: one place that every staff feature plugs into.

Each section's router handles ``StaffMenuCB.filter(F.section == <its section>)`` and
checks the role itself (``RoleFilter`` on the router); the menu only lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from db.dto import StaffScope


class StaffSection(StrEnum):
    applications = "apps"
    courses = "courses"
    broadcast = "bcast"
    attendance = "attend"
    today = "today"  # today's classes in every centre: a shortcut to attendance
    export = "export"
    stats = "stats"
    team = "team"
    contacts = "contacts"
    audit = "audit"
    inbox = "inbox"
    people = "people"
    outcomes = "outc"


class StaffMenuCB(CallbackData, prefix="sm"):
    section: StaffSection


@dataclass(frozen=True, slots=True)
class Section:
    section: StaffSection
    label_key: str  # translation key of the button
    admin_only: bool = False
    managers: bool = False  # with admin_only: centre managers may open it too

    def open_to(self, scope: StaffScope) -> bool:
        if not self.admin_only or scope.is_admin:
            return True
        return self.managers and scope.is_manager


SECTIONS: tuple[Section, ...] = (
    Section(StaffSection.inbox, "support-section-inbox"),
    Section(StaffSection.people, "support-section-people"),
    Section(StaffSection.applications, "staff-section-applications"),
    Section(StaffSection.courses, "staff-section-courses"),
    Section(StaffSection.broadcast, "broadcast-section"),
    Section(StaffSection.attendance, "attendance-section"),
    Section(StaffSection.today, "attendance-today"),
    Section(StaffSection.export, "staff-section-export"),
    Section(StaffSection.stats, "staff-section-stats"),
    Section(StaffSection.outcomes, "outcomes-section-button"),
    Section(StaffSection.team, "staff-section-team", admin_only=True, managers=True),
    Section(StaffSection.contacts, "centres-section-contacts", admin_only=True, managers=True),
    Section(StaffSection.audit, "staff-section-audit"),
)
