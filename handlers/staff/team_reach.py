"""Whom a centre's announcements reach ("plus whatever the admin allows").

Centre staff announce to the people who applied to their centres. A programme admin may
widen that per centre, from Team → 📣: its applicants only (the default), plus people of
its region (whose application names a district there, or who applied to a centre
there), or everyone who uses the bot. The setting is read by the audience query itself,
so it applies when the wizard counts the audience and again when an announcement fires:
narrowed in between, the announcement goes to the narrower audience. Centre managers see
their centres' reach here; only a programme admin changes it (audited).
"""

from __future__ import annotations

from enum import StrEnum

from aiogram import F
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.callback_answer import CallbackAnswer

from bot.i18n import BoundTranslator, escape
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.staff_callbacks import TeamAction, TeamCB
from bot.telegram_utils import show
from db.dto import CentreDTO, StaffScope, UserDTO
from db.repo import Repos
from handlers.staff.common import StaffChats, StaffTraffic, alert, home_button, stale
from handlers.staff.scope import centre_label, centres_in_scope

router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(admin_only=True, managers=True), StaffChats())
router.callback_query.filter(
    StaffTraffic(), RoleFilter(admin_only=True, managers=True), StaffChats()
)


class ReachAction(StrEnum):
    list = "l"  # every centre (a manager: theirs) and its reach
    centre = "c"  # one centre: the three choices (programme admins)
    set = "s"  # value: a | r | e (programme admins)


class ReachCB(CallbackData, prefix="srh"):
    action: ReachAction
    centre: int = 0
    value: str = ""


REACH_CODES = {"a": "applicants", "r": "region", "e": "everyone"}
BUTTON_KEYS = {
    "applicants": "centres-reach-btn-applicants",
    "region": "centres-reach-btn-region",
    "everyone": "centres-reach-btn-everyone",
}


def reach_button(
    text: str, action: ReachAction, centre: int = 0, value: str = ""
) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text[:64], callback_data=ReachCB(action=action, centre=centre, value=value).pack()
    )


async def reach_words(t: BoundTranslator, repo: Repos, centre: CentreDTO, reach: str) -> str:
    if reach == "region":
        region = await repo.catalogue.region(centre.region_id)
        return t.plain("centres-reach-region", region=t.pick(region.name) if region else "—")
    if reach == "everyone":
        return t.plain("centres-reach-everyone")
    return t.plain("centres-reach-applicants")


async def list_view(
    t: BoundTranslator, repo: Repos, scope: StaffScope
) -> tuple[str, InlineKeyboardMarkup]:
    centres = [c for c in await centres_in_scope(repo, scope) if scope.manages(c.id)]
    reaches = await repo.broadcasts.reaches([c.id for c in centres])
    lines = [t("centres-reach-header")]
    rows = []
    for c in centres:
        words = await reach_words(t, repo, c, reaches.get(c.id, "applicants"))
        lines.append(f"• {escape(centre_label(t, c))}: {escape(words)}")
        if scope.is_admin:
            rows.append([reach_button(centre_label(t, c), ReachAction.centre, c.id)])
    lines.append("")
    lines.append(t("centres-reach-hint" if scope.is_admin else "centres-reach-admin-only"))
    back = InlineKeyboardButton(
        text=t.plain("btn-back"), callback_data=TeamCB(action=TeamAction.list).pack()
    )
    rows.append([back, home_button(t)])
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


async def centre_view(
    t: BoundTranslator, repo: Repos, centre: CentreDTO
) -> tuple[str, InlineKeyboardMarkup]:
    reach = (await repo.broadcasts.reaches([centre.id])).get(centre.id, "applicants")
    region = await repo.catalogue.region(centre.region_id)
    text = t(
        "centres-reach-centre",
        centre=t.pick(centre.name),
        now=await reach_words(t, repo, centre, reach),
        region=t.pick(region.name) if region else "—",
    )
    rows = [
        [
            reach_button(
                ("✅ " if value == reach else "") + t.plain(BUTTON_KEYS[value]),
                ReachAction.set,
                centre.id,
                code,
            )
        ]
        for code, value in REACH_CODES.items()
    ]
    rows.append([reach_button(t.plain("btn-back"), ReachAction.list), home_button(t)])
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(TeamCB.filter(F.action == TeamAction.reach))
@router.callback_query(ReachCB.filter(F.action == ReachAction.list))
async def on_list(
    callback: CallbackQuery, t: BoundTranslator, repo: Repos, scope: StaffScope
) -> None:
    await show(callback, *await list_view(t, repo, scope))


@router.callback_query(ReachCB.filter(F.action.in_({ReachAction.centre, ReachAction.set})))
async def on_centre(
    callback: CallbackQuery,
    callback_data: ReachCB,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    """A programme admin looks at one centre's reach, or sets it. A centre manager (a
    forged or old button) is told who can change it; nothing changes."""
    if not scope.is_admin:
        alert(callback_answer, t.plain("centres-reach-admin-only"))
        return
    centre = await repo.catalogue.centre(callback_data.centre) if callback_data.centre else None
    reach = REACH_CODES.get(callback_data.value)
    if centre is None or (callback_data.action is ReachAction.set and reach is None):
        stale(t, callback_answer)
        return
    if reach is not None:
        before = await repo.broadcasts.set_reach(user.id, centre.id, reach)
        if before is None:
            stale(t, callback_answer)
            return
        callback_answer.text = t.plain("centres-saved")
    await show(callback, *await centre_view(t, repo, centre))
