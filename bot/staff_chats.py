"""Where a centre's staff read and act: its staff chat.

Each centre may have its own staff chat, bound from the bot (handlers/staff/chats.py);
``STAFF_CHAT_ID`` is the programme-wide fallback for centres without one. Everything
that posts to "the staff chat" — new applications, digests, citizens' questions — asks
``staff_chats_of`` for the chats of the application's centre; removing a person from the
team uses ``staff_chats_for`` to find the chats they should leave.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.config import Settings
from db.repo import Repos


async def staff_chats_of(repo: Repos, settings: Settings, centre_id: int | None) -> list[int]:
    """The staff chat(s) of centre ``centre_id``: its bound chat, else the programme-wide
    STAFF_CHAT_ID; empty when it has neither (the application is still in /admin)."""
    if centre_id is not None:
        bound = await repo.centres.chat_of(centre_id)
        if bound is not None:
            return [bound.chat_id]
    return [settings.staff_chat_id] if settings.staff_chat_id is not None else []


async def staff_chats_for(
    repo: Repos, settings: Settings, centre_ids: Iterable[int] | None
) -> list[int]:
    """Every staff chat a person with these centres sits in (None: every centre, i.e. a
    programme admin): their centres' bound chats and the programme-wide chat."""
    bound = await repo.centres.chats()
    wanted = None if centre_ids is None else set(centre_ids)
    chats = {c.chat_id for c in bound if wanted is None or c.centre_id in wanted}
    if settings.staff_chat_id is not None:
        chats.add(settings.staff_chat_id)
    return sorted(chats)


async def chat_centres(repo: Repos, settings: Settings, chat_id: int) -> frozenset[int] | None:
    """Which centres' work a group chat is for: the centres bound to it; None for the
    programme-wide STAFF_CHAT_ID (every centre). Empty: not a staff chat."""
    if chat_id == settings.staff_chat_id:
        return None
    return frozenset(await repo.centres.centres_of_chat(chat_id))
