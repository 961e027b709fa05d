"""The centre boundary of conversations, in one place.

"Which staff chat serves centre X" and "may this staff member see centre X" are asked only
here, and answered by the centres model: the chat bound to the centre, else STAFF_CHAT_ID
(``bot/staff_chats.py``), and the staff member's scope (``bot/roles.py``).
"""

from __future__ import annotations

from collections.abc import Collection

from bot import staff_chats
from bot.config import Settings
from bot.roles import scope_of
from db.repo import Repos


async def staff_chats_of(repo: Repos, settings: Settings, centre_id: int | None) -> list[int]:
    """The staff chat(s) where centre ``centre_id``'s conversations are posted."""
    return await staff_chats.staff_chats_of(repo, settings, centre_id)


async def is_staff_chat(repo: Repos, settings: Settings, chat_id: int) -> bool:
    return chat_id == settings.staff_chat_id or bool(await repo.centres.centres_of_chat(chat_id))


async def staff_centres(repo: Repos, settings: Settings, user_id: int) -> Collection[int] | None:
    """The centres whose conversations a staff member may read and answer: None for every
    centre (a programme admin), an empty set for someone who is not staff."""
    scope = scope_of(await repo.users.with_scope(user_id), settings)
    if scope is None:
        return frozenset()
    return scope.centre_ids


async def staff_may_see(
    repo: Repos, settings: Settings, user_id: int, centre_id: int | None
) -> bool:
    centres = await staff_centres(repo, settings, user_id)
    if centres is None:
        return True
    return centre_id is not None and centre_id in centres


def centre_hours(centre: object, locale: str) -> str | None:
    """When the centre's staff usually answer: its opening hours from its contacts, in the
    reader's language; None when the catalogue has none."""
    contacts = getattr(centre, "contacts", None)
    hours = getattr(contacts, "hours", None) if contacts is not None else None
    if isinstance(contacts, dict):
        hours = contacts.get("hours")
    if not isinstance(hours, dict) or not hours:
        return None
    from bot.i18n import pick_text

    return pick_text(hours, locale) or None
