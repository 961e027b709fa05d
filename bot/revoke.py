"""Removing someone from the team removes their reach (DESIGN rule 8).

``revoke_staff`` is called when an admin removes a member: their form state goes (a
half-written announcement, an import), they are taken out of every staff chat the bot
knows (ban + unban: out, but free to be invited back later), and the caller cancels their
scheduled announcements (``BroadcastService.revoke_author``; a broadcast whose author has
lost the role is also refused when it fires). What could not be done is reported, so the
admin can finish it by hand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.base import BaseStorage, StorageKey

from bot.config import Settings
from bot.staff_chats import staff_chats_for
from db.repo import Repos

log = logging.getLogger(__name__)
GONE = frozenset({"left", "kicked"})


@dataclass(slots=True)
class Revocation:
    """What removing a member did: the staff chats they were taken out of, and those
    where the bot could not (it is not an administrator there, or they are one)."""

    removed_from: list[int] = field(default_factory=list)
    not_removed_from: list[int] = field(default_factory=list)


async def staff_chats(repo: Repos, settings: Settings) -> list[int]:
    """Every staff chat the bot knows: the programme-wide STAFF_CHAT_ID and every centre's
    (a removed member leaves every staff chat, not only their centres')."""
    return await staff_chats_for(repo, settings, None)


async def remove_from_chat(bot: Bot, chat_id: int, user_id: int) -> bool:
    """Take ``user_id`` out of ``chat_id``; True when they are out (or were never in)."""
    try:
        member = await bot.get_chat_member(chat_id, user_id)
        if member.status in GONE:
            return True
        await bot.ban_chat_member(chat_id, user_id)
        await bot.unban_chat_member(chat_id, user_id, only_if_banned=True)
    except TelegramAPIError as exc:
        log.warning("could not remove user %s from staff chat %s: %s", user_id, chat_id, exc)
        return False
    return True


async def revoke_staff(
    bot: Bot, repo: Repos, settings: Settings, storage: BaseStorage, user_id: int
) -> Revocation:
    chats = await staff_chats(repo, settings)
    # Their forms: in their own chat and in every staff chat (where a form may be open).
    for chat_id in (user_id, *chats):
        key = StorageKey(bot_id=bot.id, chat_id=chat_id, user_id=user_id)
        await storage.set_state(key, None)
        await storage.set_data(key, {})
    result = Revocation()
    for chat_id in chats:
        done = await remove_from_chat(bot, chat_id, user_id)
        (result.removed_from if done else result.not_removed_from).append(chat_id)
    return result
