"""Updates about the bot itself: a user blocking or unblocking it (private chats; the
bot added to or removed from a group is handlers/staff/chats.py)."""

from __future__ import annotations

from typing import Any

from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter, Filter
from aiogram.types import ChatMemberUpdated

from bot.routing import FeatureRouter
from db.repo import Repos

router = FeatureRouter(__name__)


class InPrivate(Filter):
    """Only private chats: a group's membership change goes on to the staff-chat router."""

    async def __call__(self, event: ChatMemberUpdated, **_: Any) -> bool:
        return event.chat.type == "private"


@router.my_chat_member(InPrivate(), ChatMemberUpdatedFilter(member_status_changed=KICKED))
async def bot_blocked(event: ChatMemberUpdated, repo: Repos) -> None:
    await repo.users.set_active(event.from_user.id, False)


@router.my_chat_member(InPrivate(), ChatMemberUpdatedFilter(member_status_changed=MEMBER))
async def bot_unblocked(event: ChatMemberUpdated, repo: Repos) -> None:
    await repo.users.set_active(event.from_user.id, True)
