"""The daily digest's line on conversations waiting for an answer for over a day."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.formatting import fmt_datetime
from bot.i18n import BoundTranslator
from bot.support.cards import centre_tz, person_name
from db.repo import Repos

UNANSWERED_AFTER = timedelta(days=1)
LISTED = 10


async def unanswered_block(
    t: BoundTranslator, repo: Repos, centre_id: int, now: datetime
) -> str | None:
    """The centre's open conversations unanswered for more than a day, oldest first."""
    waiting = await repo.conversations.unanswered_before(centre_id, now - UNANSWERED_AFTER)
    if not waiting:
        return None
    tz = await centre_tz(repo, centre_id)
    lines = [t("support-digest-header", count=len(waiting))]
    for c in waiting[:LISTED]:
        user = await repo.users.get(c.user_id)
        apps = await repo.applications.for_user(c.user_id)
        lines.append(
            t(
                "support-digest-line",
                id=c.id,
                person=person_name(user, c.user_id, apps[0].full_name if apps else None),
                since=fmt_datetime(c.waiting_since or c.created_at, tz, t.locale),
            )
        )
    if len(waiting) > LISTED:
        lines.append("…")
    return "\n".join(lines)
