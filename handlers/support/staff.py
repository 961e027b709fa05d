"""The staff side of a conversation: answer by replying to the card (or to anything of the
conversation in the staff chat), Reply / Close / Reopen, and the inbox.

Every handler checks the role and the centre itself (``staff_may_see``)."""

from __future__ import annotations

from functools import partial
from typing import Any

from aiogram import Bot, F
from aiogram.filters import Filter
from aiogram.types import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.clock import Clock
from bot.config import Settings
from bot.formatting import fmt_datetime
from bot.i18n import BoundTranslator, Translator
from bot.roles import RoleFilter, role_of
from bot.routing import FeatureRouter
from bot.staff_menu import StaffMenuCB, StaffSection
from bot.support.cards import (
    ConvAction,
    ConvCB,
    PersonAction,
    PersonCB,
    card_markup,
    card_text,
    centre_tz,
    person_name,
)
from bot.support.delivery import reply_rows
from bot.support.scope import is_staff_chat, staff_centres, staff_may_see
from bot.support.service import content_kind, refresh_card
from bot.telegram_utils import show
from db.dto import NewDelivery
from db.repo import Repos
from db.repo.conversations import ConversationDTO
from handlers.staff.common import alert, clip, home_button, stale

router = FeatureRouter(__name__)

INBOX_PAGE = 8


class ConversationReply(Filter):
    """A Telegram reply to a bot message that belongs to a conversation (the card, a copy
    of the citizen's message, an answer, a reply prompt); injects ``conversation``."""

    async def __call__(
        self, message: Message, bot: Bot, repo: Repos, **_: Any
    ) -> bool | dict[str, Any]:
        target = message.reply_to_message
        if target is None or target.from_user is None or target.from_user.id != bot.id:
            return False
        conversation = await repo.conversations.by_staff_message(message.chat.id, target.message_id)
        return False if conversation is None else {"conversation": conversation}


class StaffPlace(Filter):
    """Callbacks pressed in a private chat or in a staff chat."""

    async def __call__(
        self, event: TelegramObject, repo: Repos, settings: Settings, **_: Any
    ) -> bool:
        message = event.message if isinstance(event, CallbackQuery) else event
        if not isinstance(message, Message):
            return False
        return message.chat.type == "private" or await is_staff_chat(
            repo, settings, message.chat.id
        )


router.callback_query.filter(StaffPlace(), RoleFilter())


def _conversation_markup(t: BoundTranslator, conversation: ConversationDTO) -> InlineKeyboardMarkup:
    markup = card_markup(t, conversation)
    rows = [*markup.inline_keyboard]
    rows.append(
        [
            InlineKeyboardButton(
                text=t.plain("support-btn-inbox"),
                callback_data=ConvCB(action=ConvAction.inbox).pack(),
            ),
            home_button(t),
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def conversation_view(t: BoundTranslator, repo: Repos, conversation: ConversationDTO) -> str:
    """The card and what was said (the last 15 messages), for a private chat."""
    tz = await centre_tz(repo, conversation.centre_id)
    lines = [await card_text(t, repo, conversation), ""]
    for m in await repo.conversations.messages(conversation.id, limit=15):
        who = t.plain("support-said-citizen" if m.direction == "in" else "support-said-staff")
        what = clip(m.text, 300) if m.text else t.plain("support-kind", kind=m.kind)
        lines.append(t("support-said", when=fmt_datetime(m.at, tz, t.locale), who=who, text=what))
    return "\n".join(lines)


async def _allowed(
    repo: Repos, settings: Settings, user_id: int, conversation_id: int
) -> ConversationDTO | None:
    conversation = await repo.conversations.get(conversation_id)
    if conversation is None:
        return None
    if not await staff_may_see(repo, settings, user_id, conversation.centre_id):
        return None
    return conversation


# ---- answering -----------------------------------------------------------------------


@router.message(ConversationReply())
async def staff_answer(
    message: Message,
    conversation: ConversationDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    clock: Clock,
) -> None:
    staff = message.from_user
    if staff is None:
        return
    if await role_of(repo, settings, staff.id) is None:
        await message.reply(t("support-staff-only"))
        return
    if not await staff_may_see(repo, settings, staff.id, conversation.centre_id):
        await message.reply(t("support-not-yours"))
        return
    if not conversation.is_open:
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=t.plain("support-btn-reopen"),
                        callback_data=ConvCB(action=ConvAction.reopen, id=conversation.id).pack(),
                    )
                ]
            ]
        )
        await message.reply(t("support-answer-closed"), reply_markup=markup)
        return
    citizen = await repo.users.get(conversation.user_id)
    if citizen is None:
        await message.reply(t("support-person-gone"))
        return
    apps = await repo.applications.for_user(citizen.id)
    name = person_name(citizen, citizen.id, apps[0].full_name if apps else None)
    if not citizen.is_active:
        await message.reply(t("support-reply-blocked", name=name))
        return
    centre = await repo.catalogue.centre(conversation.centre_id) if conversation.centre_id else None
    rows = reply_rows(message, conversation.id, citizen.id, centre.name if centre else {}, staff.id)
    now = clock.now()
    # The answer's deliveries and its "answered" mark in one transaction: the outbox may
    # send the answer at once, and a crash between two writes would lose the mark.
    await repo.deliveries.enqueue(
        rows,
        also=partial(
            repo.conversations.write_message,
            conversation_id=conversation.id,
            direction="out",
            now=now,
            author_id=staff.id,
            kind=content_kind(message),
            text=message.text or message.caption,
            source=(message.chat.id, message.message_id),
            staff=(message.chat.id, message.message_id),
        ),
    )
    fresh = await repo.conversations.get(conversation.id)
    if fresh is not None:
        await refresh_card(bot, settings, translator, repo, fresh)
    ack = await message.reply(t("support-answer-queued", name=name))
    # A reply to the confirmation answers the same conversation.
    await repo.conversations.add_message(
        conversation.id, "note", now=now, kind="note", staff=(ack.chat.id, ack.message_id)
    )


# ---- the card's buttons --------------------------------------------------------------


@router.callback_query(ConvCB.filter(F.action == ConvAction.reply))
async def reply_button(
    callback: CallbackQuery,
    callback_data: ConvCB,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
    callback_answer: CallbackAnswer,
) -> None:
    conversation = await _allowed(repo, settings, callback.from_user.id, callback_data.id)
    if conversation is None:
        stale(t, callback_answer)
        return
    if not conversation.is_open:
        alert(callback_answer, t.plain("support-answer-closed"))
        return
    message = callback.message
    if not isinstance(message, Message):
        return
    if message.chat.type != "private":
        # In a group a reply prompt would pop up for everyone: say how to answer.
        alert(callback_answer, t.plain("support-how-to-answer"))
        return
    citizen = await repo.users.get(conversation.user_id)
    prompt = await message.answer(
        t(
            "support-reply-prompt",
            id=conversation.id,
            name=person_name(citizen, conversation.user_id),
        ),
        reply_markup=ForceReply(input_field_placeholder=t.plain("support-reply-placeholder")[:64]),
    )
    await repo.conversations.add_message(
        conversation.id,
        "prompt",
        now=clock.now(),
        kind="prompt",
        staff=(prompt.chat.id, prompt.message_id),
    )


async def _redraw(
    callback: CallbackQuery,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    conversation: ConversationDTO,
) -> None:
    """The card in the staff chat, and the pressed message if it is a private view."""
    await refresh_card(bot, settings, translator, repo, conversation)
    message = callback.message
    if isinstance(message, Message) and message.chat.type == "private":
        await show(
            callback,
            await conversation_view(t, repo, conversation),
            _conversation_markup(t, conversation),
        )


@router.callback_query(ConvCB.filter(F.action == ConvAction.close))
async def close(
    callback: CallbackQuery,
    callback_data: ConvCB,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    clock: Clock,
    callback_answer: CallbackAnswer,
) -> None:
    conversation = await _allowed(repo, settings, callback.from_user.id, callback_data.id)
    if conversation is None:
        stale(t, callback_answer)
        return
    if not await repo.conversations.close(conversation.id, callback.from_user.id, clock.now()):
        alert(callback_answer, t.plain("support-already-closed"))
    else:
        callback_answer.text = t.plain("support-closed-toast")
        await repo.audit.add(
            callback.from_user.id, "conversation.close", "conversation", conversation.id
        )
        centre = (
            await repo.catalogue.centre(conversation.centre_id) if conversation.centre_id else None
        )
        await repo.deliveries.enqueue(
            [
                NewDelivery(
                    kind="notice",
                    dedupe_key=f"conversation-closed:{conversation.id}:{clock.now().isoformat()}",
                    user_id=conversation.user_id,
                    payload={
                        "type": "text",
                        "key": "support-closed-notice",
                        "params": {"centre": {"pick": centre.name if centre else {"en": "—"}}},
                    },
                )
            ]
        )
    fresh = await repo.conversations.get(conversation.id)
    if fresh is not None:
        await _redraw(callback, t, translator, repo, settings, bot, fresh)


@router.callback_query(ConvCB.filter(F.action == ConvAction.reopen))
async def reopen(
    callback: CallbackQuery,
    callback_data: ConvCB,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    callback_answer: CallbackAnswer,
) -> None:
    conversation = await _allowed(repo, settings, callback.from_user.id, callback_data.id)
    if conversation is None:
        stale(t, callback_answer)
        return
    if not await repo.conversations.reopen(conversation.id):
        alert(
            callback_answer,
            t.plain("support-already-open" if conversation.is_open else "support-reopen-refused"),
        )
        return
    callback_answer.text = t.plain("support-reopened-toast")
    await repo.audit.add(
        callback.from_user.id, "conversation.reopen", "conversation", conversation.id
    )
    fresh = await repo.conversations.get(conversation.id)
    if fresh is not None:
        await _redraw(callback, t, translator, repo, settings, bot, fresh)


@router.callback_query(ConvCB.filter(F.action == ConvAction.view))
async def view(
    callback: CallbackQuery,
    callback_data: ConvCB,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    callback_answer: CallbackAnswer,
) -> None:
    conversation = await _allowed(repo, settings, callback.from_user.id, callback_data.id)
    if conversation is None:
        stale(t, callback_answer)
        return
    text = await conversation_view(t, repo, conversation)
    markup = _conversation_markup(t, conversation)
    message = callback.message
    if isinstance(message, Message) and message.chat.type != "private":
        await message.answer(text, reply_markup=markup)
        return
    await show(callback, text, markup)


# ---- the inbox -----------------------------------------------------------------------


async def inbox_view(
    t: BoundTranslator, repo: Repos, settings: Settings, user_id: int, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    centres = await staff_centres(repo, settings, user_id)
    items, total = await repo.conversations.inbox(
        centres, limit=INBOX_PAGE, offset=page * INBOX_PAGE
    )
    rows: list[list[InlineKeyboardButton]] = []
    text = t("support-inbox-empty") if total == 0 else t("support-inbox", count=total)
    for c in items:
        citizen = await repo.users.get(c.user_id)
        apps = await repo.applications.for_user(c.user_id)
        name = person_name(citizen, c.user_id, apps[0].full_name if apps else None)
        tz = await centre_tz(repo, c.centre_id)
        mark = "⏳" if c.waiting_since is not None else "✅"
        since = c.waiting_since or c.answered_at or c.created_at
        label = f"{mark} №{c.id} {name} · {fmt_datetime(since, tz, t.locale)}"
        rows.append(
            [
                InlineKeyboardButton(
                    text=clip(label, 60),
                    callback_data=ConvCB(action=ConvAction.view, id=c.id).pack(),
                )
            ]
        )
    nav: list[InlineKeyboardButton] = []
    if page > 0:
        nav.append(
            InlineKeyboardButton(
                text="⬅️", callback_data=ConvCB(action=ConvAction.inbox, id=page - 1).pack()
            )
        )
    if (page + 1) * INBOX_PAGE < total:
        nav.append(
            InlineKeyboardButton(
                text="➡️", callback_data=ConvCB(action=ConvAction.inbox, id=page + 1).pack()
            )
        )
    if nav:
        rows.append(nav)
    rows.append(
        [
            InlineKeyboardButton(
                text=t.plain("support-btn-find"),
                callback_data=PersonCB(action=PersonAction.search).pack(),
            ),
            home_button(t),
        ]
    )
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(StaffMenuCB.filter(F.section == StaffSection.inbox))
async def open_inbox(
    callback: CallbackQuery, t: BoundTranslator, repo: Repos, settings: Settings
) -> None:
    await show(callback, *await inbox_view(t, repo, settings, callback.from_user.id, 0))


@router.callback_query(ConvCB.filter(F.action == ConvAction.inbox))
async def inbox_page(
    callback: CallbackQuery,
    callback_data: ConvCB,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
) -> None:
    page = max(0, min(callback_data.id, 10_000))
    await show(callback, *await inbox_view(t, repo, settings, callback.from_user.id, page))


__all__ = ["ConversationReply", "router"]
