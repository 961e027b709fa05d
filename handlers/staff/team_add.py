"""The team, adding people: pick a centre and a role (or programme admin), name the
person (a forwarded message, a user id or an @username of someone who has started the
bot), confirm. Split from ``handlers.staff.team`` (the same filters, right after it in
the staff routers); every handler re-checks the grant against the presser's centres."""

from __future__ import annotations

import logging

from aiogram import Bot, F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
    MessageOriginHiddenUser,
    MessageOriginUser,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.config import Settings
from bot.i18n import BoundTranslator, Translator
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.staff_callbacks import TeamAction, TeamCB
from bot.telegram_utils import show
from db.dto import CentreDTO, StaffScope, UserDTO
from db.repo import Repos
from handlers.staff.chats import manageable
from handlers.staff.common import (
    StaffChats,
    StaffForm,
    StaffTraffic,
    alert,
    cancel_markup,
    home_button,
    person_label,
    stale,
)
from handlers.staff.scope import centre_label
from handlers.staff.team import (
    _ID_RE,
    _USERNAME_RE,
    CENTRE_ROLE_KEYS,
    CENTRE_ROLES,
    ROLE_KEYS,
    centre_role_buttons,
    may_grant,
    team_view,
    tell_member,
    tm_button,
)

log = logging.getLogger(__name__)
router = FeatureRouter(__name__)
# The same audience as the rest of the team section.
router.message.filter(StaffTraffic(), RoleFilter(admin_only=True, managers=True), StaffChats())
router.callback_query.filter(
    StaffTraffic(), RoleFilter(admin_only=True, managers=True), StaffChats()
)


@router.callback_query(TeamCB.filter(F.action == TeamAction.add_staff))
async def pick_centre_for_new(
    callback: CallbackQuery,
    callback_data: TeamCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    """A new staff member: which centre first (a manager's own centres only)."""
    if callback_data.centre:
        centre = await repo.catalogue.centre(callback_data.centre)
        if centre is None or not scope.manages(centre.id):
            stale(t, callback_answer)
            return
        if not scope.is_admin:  # a manager adds centre staff: no role to choose
            await ask_person_view(callback, t, repo, scope, centre.id, "s", callback_answer, state)
            return
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                centre_role_buttons(t, TeamAction.add_role, 0, centre.id),
                [tm_button(t.plain("btn-back"), TeamAction.add_staff)],
            ]
        )
        await show(callback, t("centres-pick-role", centre=t.pick(centre.name)), markup)
        return
    centres = await manageable(repo, scope)
    rows = [[tm_button(centre_label(t, c), TeamAction.add_staff, 0, c.id)] for c in centres]
    rows.append([tm_button(t.plain("btn-back"), TeamAction.list), home_button(t)])
    await show(callback, t("centres-pick-centre"), InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(TeamCB.filter(F.action == TeamAction.add_role))
async def on_add_role(
    callback: CallbackQuery,
    callback_data: TeamCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    await ask_person_view(
        callback, t, repo, scope, callback_data.centre, callback_data.value, callback_answer, state
    )


async def ask_person_view(
    callback: CallbackQuery,
    t: BoundTranslator,
    repo: Repos,
    scope: StaffScope,
    centre_id: int,
    letter: str,
    callback_answer: CallbackAnswer,
    state: FSMContext,
) -> None:
    role = CENTRE_ROLES.get(letter)
    centre = await repo.catalogue.centre(centre_id) if centre_id else None
    if role is None or centre is None or not may_grant(scope, centre.id, role):
        stale(t, callback_answer)
        return
    await state.set_state(StaffForm.team_add)
    await state.set_data({"role": "staff", "centre": centre.id, "centre_role": role})
    text = t(
        "centres-team-ask",
        role=t.plain(CENTRE_ROLE_KEYS[role]),
        centre=t.pick(centre.name),
    )
    await show(callback, text, cancel_markup(t))


@router.callback_query(TeamCB.filter(F.action == TeamAction.add_admin))
async def ask_admin(
    callback: CallbackQuery,
    state: FSMContext,
    t: BoundTranslator,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    if not scope.is_admin:
        stale(t, callback_answer)
        return
    await state.set_state(StaffForm.team_add)
    await state.set_data({"role": "admin"})
    await show(callback, t("team-ask", role=t.plain(ROLE_KEYS["admin"])), cancel_markup(t))


async def find_person(message: Message, repo: Repos) -> tuple[UserDTO | None, str]:
    """The person a message names: a forward from them, their id, or their @username.
    Returns (user, problem key) — the user is None when they cannot be found."""
    origin = message.forward_origin
    if isinstance(origin, MessageOriginUser):
        return await repo.users.get(origin.sender_user.id), "team-not-started"
    if isinstance(origin, MessageOriginHiddenUser):
        return None, "team-hidden-forward"
    if origin is not None:
        return None, "team-not-a-person"
    text = (message.text or "").strip()
    if _ID_RE.fullmatch(text):
        return await repo.users.get(int(text)), "team-not-started"
    match = _USERNAME_RE.match(text)
    if match:
        return await repo.users.find_by_username(match.group(1)), "team-not-started"
    return None, "team-ask-again"  # neither an id nor an @username: say what to send


async def add_request(
    data: dict[str, object], repo: Repos, scope: StaffScope
) -> tuple[str, CentreDTO | None, str | None] | None:
    """What the add form asks for — ("admin", None, None) or ("staff", centre, centre
    role) — checked again against the presser's centres; None if not theirs to give."""
    role, centre_id, centre_role = data.get("role"), data.get("centre"), data.get("centre_role")
    if role == "admin":
        return ("admin", None, None) if scope.is_admin else None
    centre = await repo.catalogue.centre(centre_id) if isinstance(centre_id, int) else None
    if (
        role != "staff"
        or centre is None
        or not isinstance(centre_role, str)
        or centre_role not in CENTRE_ROLE_KEYS
        or not may_grant(scope, centre.id, centre_role)
    ):
        return None
    return "staff", centre, centre_role


@router.message(StateFilter(StaffForm.team_add))
async def got_member(
    message: Message,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    scope: StaffScope,
) -> None:
    request = await add_request(await state.get_data(), repo, scope)
    if request is None:
        await state.clear()
        await message.answer(t("error-stale-button"))
        return
    found, problem = await find_person(message, repo)
    if found is None:
        await message.answer(t(problem), reply_markup=cancel_markup(t))
        return
    if found.id in settings.admin_ids or found.id == user.id:
        key = "team-fixed-admin" if found.id in settings.admin_ids else "team-not-yourself"
        await message.answer(t(key), reply_markup=cancel_markup(t))
        return
    role, centre, centre_role = request
    if role == "staff" and await repo.staff.role_of(found.id) == "admin":
        who = person_label(found, found.id)
        await message.answer(t("centres-already-admin", who=who), reply_markup=cancel_markup(t))
        return
    if _USERNAME_RE.match((message.text or "").strip()):
        # A username can change hands: show who it is now and ask before granting.
        await state.update_data(candidate=found.id)
        label = t.plain(CENTRE_ROLE_KEYS[centre_role] if centre_role else ROLE_KEYS["admin"])
        if centre is not None:
            label = f"{label} · {t.pick(centre.name)}"
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    tm_button(t.plain("team-btn-confirm-add"), TeamAction.add_confirm, found.id),
                    tm_button(t.plain("btn-cancel"), TeamAction.list),
                ]
            ]
        )
        who = person_label(found, found.id)
        await message.answer(
            t("team-confirm-person", who=who, id=found.id, role=label), reply_markup=markup
        )
        return
    await state.clear()
    done = await add_person(user, found, request, t, translator, repo, bot)
    text, markup = await team_view(t, repo, settings, scope)
    await message.answer(f"{done}\n\n{text}", reply_markup=markup)


@router.callback_query(TeamCB.filter(F.action == TeamAction.add_confirm))
async def on_add_confirm(
    callback: CallbackQuery,
    callback_data: TeamCB,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    data = await state.get_data()
    request = await add_request(data, repo, scope)
    # Only the person this staff member was just shown, for what the form asked.
    if (
        await state.get_state() != StaffForm.team_add.state
        or data.get("candidate") != callback_data.id
        or request is None
    ):
        stale(t, callback_answer)
        return
    refusal = None
    if callback_data.id in settings.admin_ids:
        refusal = "team-fixed-admin"
    elif callback_data.id == user.id:
        refusal = "team-not-yourself"
    found = await repo.users.get(callback_data.id)
    if refusal is not None or found is None:
        alert(callback_answer, t.plain(refusal or "team-not-started"))
        return
    await state.clear()
    done = await add_person(user, found, request, t, translator, repo, bot)
    text, markup = await team_view(t, repo, settings, scope)
    await show(callback, f"{done}\n\n{text}", markup)


async def add_person(
    actor: UserDTO,
    found: UserDTO,
    request: tuple[str, CentreDTO | None, str | None],
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    bot: Bot,
) -> str:
    """Make ``found`` a programme admin or grant them the centre; the confirmation."""
    role, centre, centre_role = request
    who = person_label(found, found.id)
    if role == "admin" or centre is None or centre_role is None:
        before = await repo.staff.set_role(actor.id, found.id, "admin")
        label = t.plain(ROLE_KEYS["admin"])
        if before == "admin":
            return t("team-already", who=who, role=label)
        await tell_member(bot, translator, repo, found.id, "team-notice-admin")
        return t("team-added", who=who, role=label)
    before = await repo.staff.grant(actor.id, found.id, centre.id, centre_role)
    label = t.plain(CENTRE_ROLE_KEYS[centre_role])
    if before == centre_role:
        return t("centres-already-granted", who=who, role=label, centre=t.pick(centre.name))
    await tell_member(
        bot,
        translator,
        repo,
        found.id,
        "centres-notice-granted",
        role_key=CENTRE_ROLE_KEYS[centre_role],
        centre=centre,
    )
    return t("centres-granted", who=who, role=label, centre=t.pick(centre.name))


# ---- a member's centres --------------------------------------------------------------------
