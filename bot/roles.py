"""Who is staff. ADMIN_IDS are always admins; others come from the staff table."""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject, User

from bot.config import Settings
from db.repo import Repos


async def role_of(repo: Repos, settings: Settings, user_id: int) -> str | None:
    if user_id in settings.admin_ids:
        return "admin"
    return await repo.staff.role_of(user_id)


class RoleFilter(Filter):
    """Passes staff (or only admins) and injects ``role``; checked on every update."""

    def __init__(self, *, admin_only: bool = False) -> None:
        self.admin_only = admin_only

    async def __call__(
        self, event: TelegramObject, event_from_user: User | None = None, **data: Any
    ) -> bool | dict[str, Any]:
        if event_from_user is None:
            return False
        role = await role_of(data["repo"], data["settings"], event_from_user.id)
        if role is None or (self.admin_only and role != "admin"):
            return False
        return {"role": role}
