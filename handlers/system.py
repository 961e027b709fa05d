"""Updates about the bot itself: a user blocking or unblocking it."""

from __future__ import annotations

from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated

from bot.routing import FeatureRouter
from db.repo import Repos

router = FeatureRouter(__name__)


@router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=KICKED))
async def bot_blocked(event: ChatMemberUpdated, repo: Repos) -> None:
    if event.chat.type == "private":
        await repo.users.set_active(event.from_user.id, False)


@router.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=MEMBER))
async def bot_unblocked(event: ChatMemberUpdated, repo: Repos) -> None:
    if event.chat.type == "private":
        await repo.users.set_active(event.from_user.id, True)
