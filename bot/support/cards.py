"""What staff see of a conversation: the card in the staff chat and its buttons."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.formatting import fmt_datetime, status_label
from bot.i18n import LANGUAGE_NAMES, BoundTranslator
from db.dto import UserDTO
from db.repo import Repos
from db.repo.conversations import ConversationDTO

DEFAULT_TZ = "Asia/Almaty"


class ConvAction(StrEnum):
    reply = "r"  # a reply prompt (ForceReply) for this conversation
    close = "c"
    reopen = "o"
    view = "v"  # the conversation in a private chat (from the inbox)
    inbox = "i"  # the inbox; id: the page


class ConvCB(CallbackData, prefix="scv"):
    """Staff buttons of a conversation; the id is re-checked (centre included)."""

    action: ConvAction
    id: int = 0


class PersonAction(StrEnum):
    card = "c"
    search = "s"  # ask for a search text
    members = "m"  # id: a group; its trainees, each opening a person card


class PersonCB(CallbackData, prefix="spp"):
    """Open a person card (id: the user id), start a search or list a group's members;
    re-checked by the handler."""

    action: PersonAction
    id: int = 0


def person_name(user: UserDTO | None, user_id: int, full_name: str | None = None) -> str:
    """How staff see a citizen: the name they gave in an application, else Telegram's."""
    if full_name:
        return full_name
    if user is None:
        return f"id {user_id}"
    parts = [user.first_name or f"id {user_id}"]
    if user.username:
        parts.append(f"@{user.username}")
    return " ".join(parts)


async def centre_tz(repo: Repos, centre_id: int | None) -> str:
    centre = await repo.catalogue.centre(centre_id) if centre_id else None
    return centre.timezone if centre else DEFAULT_TZ


async def centre_name(t: BoundTranslator, repo: Repos, centre_id: int | None) -> str:
    centre = await repo.catalogue.centre(centre_id) if centre_id else None
    return t.pick(centre.name) if centre else "—"


async def applications_line(t: BoundTranslator, repo: Repos, user_id: int) -> tuple[str, str]:
    """The person's applications in one line ("№ 5 Python — accepted; …") and the full
    name of the latest (or "")."""
    apps = await repo.applications.for_user(user_id)
    if not apps:
        return t.plain("support-card-no-applications"), ""
    parts = []
    for app in apps[:5]:
        course = await repo.catalogue.course(app.course_id)
        title = t.pick(course.title) if course else "—"
        parts.append(f"№ {app.id} {title} — {status_label(t, app.status)}")
    if len(apps) > 5:
        parts.append("…")
    return "; ".join(parts), apps[0].full_name


async def card_text(t: BoundTranslator, repo: Repos, conversation: ConversationDTO) -> str:
    user = await repo.users.get(conversation.user_id)
    apps, full_name = await applications_line(t, repo, conversation.user_id)
    tz = await centre_tz(repo, conversation.centre_id)
    locale = user.locale if user and user.locale else (user.language_code if user else None)
    lines = [
        t(
            "support-card",
            id=conversation.id,
            centre=await centre_name(t, repo, conversation.centre_id),
            person=person_name(user, conversation.user_id, full_name),
            language=LANGUAGE_NAMES.get(locale or "", locale or "—"),
            applications=apps,
        )
    ]
    incoming, answers = await repo.conversations.counts(conversation.id)
    lines.append(t("support-card-counts", incoming=incoming, answers=answers))
    lines.append(await state_line(t, repo, conversation, tz))
    return "\n".join(lines)


async def state_line(
    t: BoundTranslator, repo: Repos, conversation: ConversationDTO, tz: str
) -> str:
    if not conversation.is_open:
        at = conversation.closed_at or conversation.created_at
        return t(
            "support-card-closed",
            staff=await staff_name(repo, conversation.closed_by),
            when=fmt_datetime(at, tz, t.locale),
        )
    if conversation.waiting_since is not None:
        return t(
            "support-card-waiting", when=fmt_datetime(conversation.waiting_since, tz, t.locale)
        )
    if conversation.answered_at is not None:
        return t(
            "support-card-answered",
            staff=await staff_name(repo, conversation.answered_by),
            when=fmt_datetime(conversation.answered_at, tz, t.locale),
        )
    return t("support-card-open")


async def staff_name(repo: Repos, user_id: int | None) -> str:
    if not user_id:
        return "—"
    user = await repo.users.get(user_id)
    if user is None:
        return f"id {user_id}"
    return person_name(user, user_id)


def card_markup(t: BoundTranslator, conversation: ConversationDTO) -> InlineKeyboardMarkup:
    person = InlineKeyboardButton(
        text=t.plain("support-btn-person"),
        callback_data=PersonCB(action=PersonAction.card, id=conversation.user_id).pack(),
    )
    if conversation.is_open:
        row = [
            InlineKeyboardButton(
                text=t.plain("support-btn-reply"),
                callback_data=ConvCB(action=ConvAction.reply, id=conversation.id).pack(),
            ),
            InlineKeyboardButton(
                text=t.plain("support-btn-close"),
                callback_data=ConvCB(action=ConvAction.close, id=conversation.id).pack(),
            ),
        ]
    else:
        row = [
            InlineKeyboardButton(
                text=t.plain("support-btn-reopen"),
                callback_data=ConvCB(action=ConvAction.reopen, id=conversation.id).pack(),
            )
        ]
    return InlineKeyboardMarkup(inline_keyboard=[row, [person]])
