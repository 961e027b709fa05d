"""Who is staff, and which centres they reach.

ADMIN_IDS are always programme admins; others come from the staff table. A programme
admin (role "admin") reaches every centre; centre staff (role "staff") reach only the
centres granted to them, some as the centre's manager. The scope is loaded with the user
on every update (``UserDTO.staff``, one query), so checking it costs no query.
"""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject, User

from bot.config import Settings
from db.dto import StaffScope, UserDTO
from db.repo import Repos

PROGRAMME_ADMIN = StaffScope("admin")


def scope_of(user: UserDTO | None, settings: Settings) -> StaffScope | None:
    """The staff scope of the update's user (None: not staff)."""
    if user is None:
        return None
    if user.id in settings.admin_ids:
        return PROGRAMME_ADMIN
    return user.staff


async def role_of(repo: Repos, settings: Settings, user_id: int) -> str | None:
    """The staff role of anyone (one query); handlers use the injected ``scope``."""
    if user_id in settings.admin_ids:
        return "admin"
    return await repo.staff.role_of(user_id)


class RoleFilter(Filter):
    """Passes staff and injects ``role`` ("admin" or "staff") and ``scope`` (StaffScope);
    checked on every update. ``admin_only``: programme admins only; ``managers``: also
    centre managers (for their own centres, which the handler checks)."""

    def __init__(self, *, admin_only: bool = False, managers: bool = False) -> None:
        self.admin_only = admin_only
        self.managers = managers

    async def __call__(
        self, event: TelegramObject, event_from_user: User | None = None, **data: Any
    ) -> bool | dict[str, Any]:
        if event_from_user is None:
            return False
        user: UserDTO | None = data.get("user")
        if user is None or user.id != event_from_user.id:
            return False
        scope = scope_of(user, data["settings"])
        if scope is None:
            return False
        if self.admin_only and not scope.is_admin and not (self.managers and scope.is_manager):
            return False
        return {"role": scope.role, "scope": scope}
