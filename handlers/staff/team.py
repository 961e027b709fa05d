"""The team (admins only): add staff or admins by a forwarded message, a user id or an
@username of someone who has started the bot; change a role; remove."""

from __future__ import annotations

import logging
import re

from aiogram import Bot, F
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageOriginHiddenUser,
    MessageOriginUser,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.config import Settings
from bot.i18n import BoundTranslator, Translator
from bot.keyboards import main_menu
from bot.revoke import revoke_staff
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.staff_callbacks import TeamAction, TeamCB
from bot.staff_menu import StaffMenuCB, StaffSection
from bot.telegram_utils import show, split_text
from db.dto import UserDTO
from db.repo import Repos
from handlers.broadcast.service import BroadcastService
from handlers.staff.common import (
    StaffChats,
    StaffForm,
    StaffTraffic,
    alert,
    cancel_markup,
    home_button,
    name_label,
    person_label,
    stale,
)

log = logging.getLogger(__name__)
router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(admin_only=True), StaffChats())
router.callback_query.filter(StaffTraffic(), RoleFilter(admin_only=True), StaffChats())

ROLE_KEYS = {"admin": "staff-role-admin", "staff": "staff-role-staff"}
# The @ is required: a bare word ("olga") is more likely a name than a username.
_USERNAME_RE = re.compile(r"^@([A-Za-z][A-Za-z0-9_]{3,31})$")
# ASCII digits only: str.isdigit() also takes '²', which int() then refuses.
_ID_RE = re.compile(r"[0-9]{1,20}")


def tm_button(text: str, action: TeamAction, id_: int = 0) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text[:64], callback_data=TeamCB(action=action, id=id_).pack())


async def team_view(
    t: BoundTranslator, repo: Repos, settings: Settings
) -> tuple[str, InlineKeyboardMarkup]:
    members = await repo.staff.list()
    listed = {m.user_id for m in members}
    lines = [t("team-header")]
    rows = []
    for m in members:
        label = name_label(m.first_name, m.username, m.user_id)
        fixed = m.user_id in settings.admin_ids
        key = "team-line-fixed" if fixed else "team-line"
        lines.append(t(key, who=label, id=m.user_id, role=t.plain(ROLE_KEYS.get(m.role, m.role))))
        if not fixed:
            rows.append(
                [
                    tm_button(
                        f"{label} · {t.plain(ROLE_KEYS.get(m.role, m.role))}",
                        TeamAction.member,
                        m.user_id,
                    )
                ]
            )
    for admin_id in sorted(settings.admin_ids - listed):
        lines.append(
            t(
                "team-line-fixed",
                who=person_label(await repo.users.get(admin_id), admin_id),
                id=admin_id,
                role=t.plain("staff-role-admin"),
            )
        )
    rows.append(
        [
            tm_button(t.plain("team-btn-add-staff"), TeamAction.add_staff),
            tm_button(t.plain("team-btn-add-admin"), TeamAction.add_admin),
        ]
    )
    rows.append([home_button(t)])
    return split_text("\n".join(lines))[0], InlineKeyboardMarkup(inline_keyboard=rows)


async def member_view(
    t: BoundTranslator, repo: Repos, user_id: int
) -> tuple[str, InlineKeyboardMarkup] | None:
    role = await repo.staff.role_of(user_id)
    if role is None:
        return None
    who = person_label(await repo.users.get(user_id), user_id)
    switch = (
        tm_button(t.plain("team-btn-make-staff"), TeamAction.make_staff, user_id)
        if role == "admin"
        else tm_button(t.plain("team-btn-make-admin"), TeamAction.make_admin, user_id)
    )
    rows = [
        [switch, tm_button(t.plain("team-btn-remove"), TeamAction.remove, user_id)],
        [tm_button(t.plain("btn-back"), TeamAction.list), home_button(t)],
    ]
    text = t("team-member", who=who, id=user_id, role=t.plain(ROLE_KEYS.get(role, role)))
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def tell_member(
    bot: Bot, translator: Translator, repo: Repos, settings: Settings, user_id: int, key: str
) -> None:
    """Tell a person their role changed, with the main menu (🛠 Staff shown or hidden)."""
    user = await repo.users.get(user_id)
    if user is None or not user.is_active:
        return
    t = translator.bind(translator.resolve_locale(user.locale, user.language_code))
    staff = key != "team-notice-removed"
    try:
        await bot.send_message(user_id, t(key), reply_markup=main_menu(t, staff=staff))
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


# ---- handlers ---------------------------------------------------------------------------


@router.callback_query(StaffMenuCB.filter(F.section == StaffSection.team))
@router.callback_query(TeamCB.filter(F.action == TeamAction.list))
async def open_section(
    callback: CallbackQuery, state: FSMContext, t: BoundTranslator, repo: Repos, settings: Settings
) -> None:
    await state.clear()
    await show(callback, *await team_view(t, repo, settings))


@router.callback_query(TeamCB.filter(F.action == TeamAction.member))
async def on_member(
    callback: CallbackQuery,
    callback_data: TeamCB,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    if callback_data.id in settings.admin_ids:
        alert(callback_answer, t.plain("team-fixed-admin"))
        return
    view = await member_view(t, repo, callback_data.id)
    if view is None:
        stale(t, callback_answer)
        return
    await show(callback, *view)


@router.callback_query(TeamCB.filter(F.action.in_({TeamAction.add_staff, TeamAction.add_admin})))
async def ask_member(
    callback: CallbackQuery, callback_data: TeamCB, state: FSMContext, t: BoundTranslator
) -> None:
    role = "admin" if callback_data.action is TeamAction.add_admin else "staff"
    await state.set_state(StaffForm.team_add)
    await state.set_data({"role": role})
    await show(callback, t("team-ask", role=t.plain(ROLE_KEYS[role])), cancel_markup(t))


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
) -> None:
    role = (await state.get_data()).get("role")
    if role not in ROLE_KEYS:
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
    if _USERNAME_RE.match((message.text or "").strip()):
        # A username can change hands: show who it is now and ask before granting.
        await state.update_data(candidate=found.id)
        role_label = t.plain(ROLE_KEYS[str(role)])
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
            t("team-confirm-person", who=who, id=found.id, role=role_label), reply_markup=markup
        )
        return
    await state.clear()
    await message.answer(
        await grant(user, found, str(role), t, translator, repo, settings, bot),
        reply_markup=(await team_view(t, repo, settings))[1],
    )


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
    callback_answer: CallbackAnswer,
) -> None:
    data = await state.get_data()
    role = data.get("role")
    # Only the person this admin was just shown, in the role they asked for.
    if (
        await state.get_state() != StaffForm.team_add.state
        or data.get("candidate") != callback_data.id
        or role not in ROLE_KEYS
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
    text = await grant(user, found, str(role), t, translator, repo, settings, bot)
    await show(callback, text, (await team_view(t, repo, settings))[1])


async def grant(
    actor: UserDTO,
    found: UserDTO,
    role: str,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
) -> str:
    """Give ``found`` the role; the confirmation followed by the team list."""
    before = await repo.staff.set_role(actor.id, found.id, role)
    who = person_label(found, found.id)
    role_label = t.plain(ROLE_KEYS[role])
    if before == role:
        done = t("team-already", who=who, role=role_label)
    else:
        done = t("team-added", who=who, role=role_label)
        await tell_member(
            bot,
            translator,
            repo,
            settings,
            found.id,
            "team-notice-admin" if role == "admin" else "team-notice-staff",
        )
    text, _markup = await team_view(t, repo, settings)
    return f"{done}\n\n{text}"


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
    callback_answer: CallbackAnswer,
) -> None:
    target = callback_data.id
    refusal = await member_refusal(repo, settings, user.id, target)
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
            settings,
            target,
            "team-notice-admin" if role == "admin" else "team-notice-staff",
        )
    view = await member_view(t, repo, target)
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
    callback_answer: CallbackAnswer,
) -> None:
    target = callback_data.id
    refusal = await member_refusal(repo, settings, user.id, target)
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
    callback_answer: CallbackAnswer,
) -> None:
    target = callback_data.id
    refusal = await member_refusal(repo, settings, user.id, target)
    if refusal is not None:
        alert(callback_answer, t.plain(refusal))
        return
    before = await repo.staff.remove(user.id, target)
    if before is None:
        stale(t, callback_answer)
        return
    # Their reach goes with the role: announcements, staff chats, open forms.
    revoked = await broadcasts.revoke_author(target, actor_id=user.id)
    done = await revoke_staff(bot, repo, settings, fsm_storage, target)
    await tell_member(bot, translator, repo, settings, target, "team-notice-removed")
    lines = [t("team-removed-done", who=person_label(await repo.users.get(target), target))]
    if revoked:
        ids = ", ".join(f"№ {b.id}" for b in revoked)
        lines.append(t("team-revoked-broadcasts", ids=ids))
    if done.removed_from:
        lines.append(t("team-revoked-chat"))
    if done.not_removed_from:
        lines.append(t("team-revoked-chat-failed"))
    callback_answer.text = t.plain("team-removed")
    text, markup = await team_view(t, repo, settings)
    await show(callback, "\n".join(lines) + "\n\n" + text, markup)
