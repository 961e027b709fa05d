"""The team: who has which centres.

A programme admin sees everyone, adds staff to any centre (as centre staff or centre
manager) or as programme admins, changes roles and removes people. A centre manager sees
the staff of the centres they manage and adds or removes centre staff there (not
managers, not admins). People are named by a forwarded message, a user id or an
@username of someone who has started the bot. Every handler re-checks the grant it is
asked to change against the presser's centres.
"""

from __future__ import annotations

import logging
import re

from aiogram import Bot, F
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.config import Settings
from bot.i18n import BoundTranslator, Translator
from bot.keyboards import main_menu
from bot.revoke import remove_from_chat, revoke_staff
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.staff_callbacks import TeamAction, TeamCB
from bot.staff_chats import staff_chats_for
from bot.staff_menu import StaffMenuCB, StaffSection
from bot.telegram_utils import show, split_text
from db.dto import CentreDTO, GrantDTO, StaffScope, UserDTO
from db.repo import Repos
from handlers.broadcast.service import BroadcastService
from handlers.staff.chats import ChatsAction, ChatsCB, manageable
from handlers.staff.common import (
    StaffChats,
    StaffTraffic,
    alert,
    home_button,
    name_label,
    person_label,
    stale,
)
from handlers.staff.scope import centre_label

log = logging.getLogger(__name__)
router = FeatureRouter(__name__)
# Programme admins, and centre managers for their own centres (checked per handler).
router.message.filter(StaffTraffic(), RoleFilter(admin_only=True, managers=True), StaffChats())
router.callback_query.filter(
    StaffTraffic(), RoleFilter(admin_only=True, managers=True), StaffChats()
)

ROLE_KEYS = {"admin": "staff-role-admin", "staff": "staff-role-staff"}
CENTRE_ROLES = {"m": "manager", "s": "staff"}
CENTRE_ROLE_KEYS = {"manager": "centres-role-manager", "staff": "staff-role-staff"}
# The @ is required: a bare word ("olga") is more likely a name than a username.
_USERNAME_RE = re.compile(r"^@([A-Za-z][A-Za-z0-9_]{3,31})$")
# ASCII digits only: str.isdigit() also takes '²', which int() then refuses.
_ID_RE = re.compile(r"[0-9]{1,20}")


def tm_button(
    text: str, action: TeamAction, id_: int = 0, centre: int = 0, value: str = ""
) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text[:64],
        callback_data=TeamCB(action=action, id=id_, centre=centre, value=value).pack(),
    )


def may_grant(scope: StaffScope, centre_id: int, role: str) -> bool:
    """A programme admin grants anything; a manager grants centre staff of their centre."""
    return scope.is_admin or (role == "staff" and centre_id in scope.managed)


def may_revoke(scope: StaffScope, grant: GrantDTO) -> bool:
    return scope.is_admin or (grant.role == "staff" and grant.centre_id in scope.managed)


async def centre_map(repo: Repos) -> dict[int, CentreDTO]:
    return {c.id: c for c in await repo.catalogue.centres()}


def grants_text(
    t: BoundTranslator, grants: tuple[GrantDTO, ...], centres: dict[int, CentreDTO]
) -> str:
    if not grants:
        return t.plain("centres-no-centres")
    return ", ".join(
        t.pick(centres[g.centre_id].city)
        + (f" ({t.plain('centres-role-manager')})" if g.role == "manager" else "")
        for g in grants
        if g.centre_id in centres
    )


async def team_view(
    t: BoundTranslator, repo: Repos, settings: Settings, scope: StaffScope
) -> tuple[str, InlineKeyboardMarkup]:
    centres = await centre_map(repo)
    members = await repo.staff.list(None if scope.is_admin else scope.managed)
    listed = {m.user_id for m in members}
    lines = [t("team-header") if scope.is_admin else t("centres-team-header-manager")]
    rows = []
    for m in members:
        label = name_label(m.first_name, m.username, m.user_id)
        fixed = m.user_id in settings.admin_ids
        role = t.plain(ROLE_KEYS.get(m.role, m.role))
        key = "team-line-fixed" if fixed else "team-line"
        line = t(key, who=label, id=m.user_id, role=role)
        if m.role != "admin":
            line += "\n  " + t("centres-team-centres", centres=grants_text(t, m.grants, centres))
        lines.append(line)
        if not fixed:
            rows.append([tm_button(f"{label} · {role}", TeamAction.member, m.user_id)])
    if scope.is_admin:
        for admin_id in sorted(settings.admin_ids - listed):
            lines.append(
                t(
                    "team-line-fixed",
                    who=person_label(await repo.users.get(admin_id), admin_id),
                    id=admin_id,
                    role=t.plain("staff-role-admin"),
                )
            )
    add = [tm_button(t.plain("team-btn-add-staff"), TeamAction.add_staff)]
    if scope.is_admin:
        add.append(tm_button(t.plain("team-btn-add-admin"), TeamAction.add_admin))
    rows.append(add)
    rows.append(
        [
            InlineKeyboardButton(
                text=t.plain("centres-btn-chats"),
                callback_data=ChatsCB(action=ChatsAction.list).pack(),
            ),
            tm_button(t.plain("centres-btn-reach"), TeamAction.reach),
        ]
    )
    rows.append([home_button(t)])
    return split_text("\n".join(lines))[0], InlineKeyboardMarkup(inline_keyboard=rows)


async def visible_member(
    repo: Repos, settings: Settings, scope: StaffScope, user_id: int
) -> tuple[str, tuple[GrantDTO, ...]] | None:
    """(role, grants) of a team member this person may look at: anyone for a programme
    admin; for a manager, centre staff of their centres (grants there only)."""
    role = await repo.staff.role_of(user_id)
    if role is None or user_id in settings.admin_ids:
        return None
    grants = await repo.staff.grants_of(user_id)
    if scope.is_admin:
        return role, grants
    mine = tuple(g for g in grants if g.centre_id in scope.managed)
    if role != "staff" or not mine:
        return None
    return role, mine


async def member_view(
    t: BoundTranslator, repo: Repos, settings: Settings, scope: StaffScope, user_id: int
) -> tuple[str, InlineKeyboardMarkup] | None:
    found = await visible_member(repo, settings, scope, user_id)
    if found is None:
        return None
    role, grants = found
    centres = await centre_map(repo)
    who = person_label(await repo.users.get(user_id), user_id)
    text = t("team-member", who=who, id=user_id, role=t.plain(ROLE_KEYS.get(role, role)))
    rows: list[list[InlineKeyboardButton]] = []
    if role != "admin":
        text += "\n" + t("centres-team-centres", centres=grants_text(t, grants, centres))
        for g in grants:
            centre = centres.get(g.centre_id)
            if centre is None or not may_revoke(scope, g):
                continue
            row = [
                tm_button(
                    t.plain("centres-btn-revoke", centre=t.pick(centre.city)),
                    TeamAction.revoke,
                    user_id,
                    g.centre_id,
                )
            ]
            if scope.is_admin:
                other = "s" if g.role == "manager" else "m"
                label = "centres-btn-make-staff" if other == "s" else "centres-btn-make-manager"
                row.append(tm_button(t.plain(label), TeamAction.grant, user_id, g.centre_id, other))
            rows.append(row)
        rows.append([tm_button(t.plain("centres-btn-grant"), TeamAction.grant_pick, user_id)])
    if scope.is_admin:
        switch = (
            tm_button(t.plain("team-btn-make-staff"), TeamAction.make_staff, user_id)
            if role == "admin"
            else tm_button(t.plain("team-btn-make-admin"), TeamAction.make_admin, user_id)
        )
        rows.append([switch, tm_button(t.plain("team-btn-remove"), TeamAction.remove, user_id)])
    rows.append([tm_button(t.plain("btn-back"), TeamAction.list), home_button(t)])
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def tell_member(
    bot: Bot,
    translator: Translator,
    repo: Repos,
    user_id: int,
    key: str,
    *,
    role_key: str | None = None,
    centre: CentreDTO | None = None,
) -> None:
    """Tell a person their role changed, in their language, with the main menu (🛠 Staff
    shown or hidden); ``role_key`` and ``centre`` fill the notice of a new centre."""
    user = await repo.users.get(user_id)
    if user is None or not user.is_active:
        return
    t = translator.bind(translator.resolve_locale(user.locale, user.language_code))
    staff = key != "team-notice-removed"
    picked: dict[str, object] = {}
    if role_key is not None:
        picked["role"] = t.plain(role_key)
    if centre is not None:
        picked["centre"] = t.pick(centre.name)
    try:
        await bot.send_message(user_id, t(key, **picked), reply_markup=main_menu(t, staff=staff))
    except TelegramAPIError as exc:
        log.info("role notice to user %s not delivered: %s", user_id, exc)


async def member_refusal(repo: Repos, settings: Settings, actor_id: int, target: int) -> str | None:
    """Why this admin may not change the target's role (a translation key), or None.
    ``"error-stale-button"`` when the target is not (or no longer) in the team."""
    if target in settings.admin_ids:
        return "team-fixed-admin"
    if target == actor_id:
        return "team-not-yourself"
    if await repo.staff.role_of(target) is None:
        return "error-stale-button"
    return None


# ---- the list and one member --------------------------------------------------------------


@router.callback_query(StaffMenuCB.filter(F.section == StaffSection.team))
@router.callback_query(TeamCB.filter(F.action == TeamAction.list))
async def open_section(
    callback: CallbackQuery,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    scope: StaffScope,
) -> None:
    await state.clear()
    await show(callback, *await team_view(t, repo, settings, scope))


@router.callback_query(TeamCB.filter(F.action == TeamAction.member))
async def on_member(
    callback: CallbackQuery,
    callback_data: TeamCB,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    if callback_data.id in settings.admin_ids:
        alert(callback_answer, t.plain("team-fixed-admin"))
        return
    view = await member_view(t, repo, settings, scope, callback_data.id)
    if view is None:
        stale(t, callback_answer)
        return
    await show(callback, *view)


# ---- adding a person -----------------------------------------------------------------------


def centre_role_buttons(
    t: BoundTranslator, action: TeamAction, user_id: int, centre_id: int
) -> list[InlineKeyboardButton]:
    return [
        tm_button(t.plain("centres-btn-as-staff"), action, user_id, centre_id, "s"),
        tm_button(t.plain("centres-btn-as-manager"), action, user_id, centre_id, "m"),
    ]


@router.callback_query(TeamCB.filter(F.action == TeamAction.grant_pick))
async def pick_centre_for_member(
    callback: CallbackQuery,
    callback_data: TeamCB,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    target = callback_data.id
    found = await visible_member(repo, settings, scope, target)
    if found is None or found[0] == "admin":
        stale(t, callback_answer)
        return
    has = {g.centre_id for g in await repo.staff.grants_of(target)}
    rows = []
    for c in await manageable(repo, scope):
        if c.id in has:
            continue
        label = centre_label(t, c)
        if scope.is_admin:
            rows.append([tm_button(label, TeamAction.grant_pick, target, c.id)])
        else:
            rows.append([tm_button(label, TeamAction.grant, target, c.id, "s")])
    if callback_data.centre:  # a programme admin chose the centre: now the role
        centre = await repo.catalogue.centre(callback_data.centre)
        if centre is None or not scope.is_admin or centre.id in has:
            stale(t, callback_answer)
            return
        rows = [centre_role_buttons(t, TeamAction.grant, target, centre.id)]
        text = t("centres-pick-role", centre=t.pick(centre.name))
    else:
        text = t("centres-pick-centre") if rows else t("centres-nothing-to-grant")
    rows.append([tm_button(t.plain("btn-back"), TeamAction.member, target), home_button(t)])
    await show(callback, text, InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(TeamCB.filter(F.action == TeamAction.grant))
async def on_grant(
    callback: CallbackQuery,
    callback_data: TeamCB,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    target = callback_data.id
    role = CENTRE_ROLES.get(callback_data.value)
    centre = await repo.catalogue.centre(callback_data.centre) if callback_data.centre else None
    found = await visible_member(repo, settings, scope, target)
    if (
        role is None
        or centre is None
        or found is None
        or found[0] == "admin"
        or target == user.id
        or not may_grant(scope, centre.id, role)
    ):
        stale(t, callback_answer)
        return
    before = await repo.staff.grant(user.id, target, centre.id, role)
    if before != role:
        await tell_member(
            bot,
            translator,
            repo,
            target,
            "centres-notice-granted",
            role_key=CENTRE_ROLE_KEYS[role],
            centre=centre,
        )
    callback_answer.text = t.plain("centres-saved")
    view = await member_view(t, repo, settings, scope, target)
    if view is not None:
        await show(callback, *view)


@router.callback_query(TeamCB.filter(F.action == TeamAction.revoke))
async def on_revoke(
    callback: CallbackQuery,
    callback_data: TeamCB,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    fsm_storage: BaseStorage,
    broadcasts: BroadcastService,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    target = callback_data.id
    found = await visible_member(repo, settings, scope, target)
    grant = next(
        (g for g in (found[1] if found else ()) if g.centre_id == callback_data.centre), None
    )
    if found is None or grant is None or target == user.id or not may_revoke(scope, grant):
        stale(t, callback_answer)
        return
    _, left = await repo.staff.revoke(user.id, target, grant.centre_id)
    if left:  # their last centre: they are no longer staff at all
        lines = await take_reach(
            user, target, t, translator, repo, settings, bot, fsm_storage, broadcasts
        )
        callback_answer.text = t.plain("team-removed")
        text, markup = await team_view(t, repo, settings, scope)
        await show(callback, "\n".join(lines) + "\n\n" + text, markup)
        return
    # Out of that centre's staff chat, unless it also serves a centre they keep.
    chat = await repo.centres.chat_of(grant.centre_id)
    keep = await staff_chats_for(
        repo, settings, [g.centre_id for g in await repo.staff.grants_of(target)]
    )
    if chat is not None and chat.chat_id not in keep:
        await remove_from_chat(bot, chat.chat_id, target)
    callback_answer.text = t.plain("centres-saved")
    view = await member_view(t, repo, settings, scope, target)
    await show(callback, *(view or await team_view(t, repo, settings, scope)))


# ---- programme roles (admins only) ---------------------------------------------------------


@router.callback_query(TeamCB.filter(F.action.in_({TeamAction.make_admin, TeamAction.make_staff})))
async def on_role(
    callback: CallbackQuery,
    callback_data: TeamCB,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    target = callback_data.id
    refusal = (
        await member_refusal(repo, settings, user.id, target)
        if scope.is_admin
        else "error-stale-button"
    )
    if refusal is not None:
        alert(callback_answer, t.plain(refusal))
        return
    role = "admin" if callback_data.action is TeamAction.make_admin else "staff"
    before = await repo.staff.set_role(user.id, target, role)
    if before != role:
        await tell_member(
            bot,
            translator,
            repo,
            target,
            "team-notice-admin" if role == "admin" else "team-notice-staff",
        )
    view = await member_view(t, repo, settings, scope, target)
    if view is not None:
        await show(callback, *view)


@router.callback_query(TeamCB.filter(F.action == TeamAction.remove))
async def ask_remove(
    callback: CallbackQuery,
    callback_data: TeamCB,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    target = callback_data.id
    refusal = (
        await member_refusal(repo, settings, user.id, target)
        if scope.is_admin
        else "error-stale-button"
    )
    if refusal is not None:
        alert(callback_answer, t.plain(refusal))
        return
    who = person_label(await repo.users.get(target), target)
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                tm_button(t.plain("team-btn-remove-yes"), TeamAction.remove_yes, target),
                tm_button(t.plain("btn-back"), TeamAction.member, target),
            ]
        ]
    )
    await show(callback, t("team-remove-confirm", who=who), markup)


@router.callback_query(TeamCB.filter(F.action == TeamAction.remove_yes))
async def do_remove(
    callback: CallbackQuery,
    callback_data: TeamCB,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    fsm_storage: BaseStorage,
    broadcasts: BroadcastService,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    target = callback_data.id
    refusal = (
        await member_refusal(repo, settings, user.id, target)
        if scope.is_admin
        else "error-stale-button"
    )
    if refusal is not None:
        alert(callback_answer, t.plain(refusal))
        return
    before = await repo.staff.remove(user.id, target)
    if before is None:
        stale(t, callback_answer)
        return
    lines = await take_reach(
        user, target, t, translator, repo, settings, bot, fsm_storage, broadcasts
    )
    callback_answer.text = t.plain("team-removed")
    text, markup = await team_view(t, repo, settings, scope)
    await show(callback, "\n".join(lines) + "\n\n" + text, markup)


async def take_reach(
    actor: UserDTO,
    target: int,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    fsm_storage: BaseStorage,
    broadcasts: BroadcastService,
) -> list[str]:
    """Someone left the team: their reach goes with the role (announcements, staff chats,
    open forms), they are told, and the lines saying so for the one who removed them."""
    revoked = await broadcasts.revoke_author(target, actor_id=actor.id)
    done = await revoke_staff(bot, repo, settings, fsm_storage, target)
    await tell_member(bot, translator, repo, target, "team-notice-removed")
    lines = [t("team-removed-done", who=person_label(await repo.users.get(target), target))]
    if revoked:
        ids = ", ".join(f"№ {b.id}" for b in revoked)
        lines.append(t("team-revoked-broadcasts", ids=ids))
    if done.removed_from:
        lines.append(t("team-revoked-chat"))
    if done.not_removed_from:
        lines.append(t("team-revoked-chat-failed"))
    return lines
