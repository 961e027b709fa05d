"""The citizen's side: a free message outside any form is offered to the centre's staff
(after the centre's FAQ, if it has one); follow-ups attach to the open conversation."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, F
from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.clock import Clock
from bot.config import Settings
from bot.filters import PrivateChat
from bot.formatting import fmt_date, fmt_time
from bot.i18n import BoundTranslator, Translator
from bot.routing import FeatureRouter
from bot.support.scope import centre_hours
from bot.support.service import (
    QUESTION_KINDS,
    Incoming,
    content_kind,
    flood_wait,
    record_incoming,
)
from bot.telegram_utils import show
from db.dto import CentreDTO, UserDTO
from db.repo import Repos

router = FeatureRouter(__name__)
router.message.filter(PrivateChat())
router.callback_query.filter(PrivateChat())

DRAFT = "support_draft"  # form data: the message waiting for "send to the centre"


class SupAction(StrEnum):
    send = "s"  # c: centre, m: message
    centre = "c"  # the offer for centre c
    regions = "rs"  # pick a region
    region = "r"  # v: region, the centres of it
    faq = "f"  # v: the FAQ item of centre c
    cancel = "x"


class SupCB(CallbackData, prefix="sup"):
    action: SupAction
    c: int = 0
    m: int = 0
    v: int = 0


class FreeMessage(Filter):
    """A message outside any form that no feature took: text (not a command, not a form
    button), voice, photo, video, document, sticker…; only from someone who has chosen a
    language (a newcomer gets the language picker from the catch-all)."""

    async def __call__(
        self,
        message: Message,
        t: BoundTranslator,
        raw_state: str | None = None,
        user: UserDTO | None = None,
        **_: Any,
    ) -> bool:
        if raw_state is not None or user is None or user.locale is None:
            return False
        if content_kind(message) not in QUESTION_KINDS:
            return False
        text = message.text
        if text is not None:
            if text.startswith("/"):
                return False
            variants = t.translator.variants
            if text in variants("btn-back") or text in variants("btn-cancel"):
                return False
        return True


def _incoming(message: Message) -> Incoming:
    return Incoming(
        chat_id=message.chat.id,
        message_id=message.message_id,
        kind=content_kind(message),
        text=message.text or message.caption,
    )


async def _latest_centre(repo: Repos, user_id: int) -> CentreDTO | None:
    """The centre of the person's latest application."""
    for app in await repo.applications.for_user(user_id):
        course = await repo.catalogue.course(app.course_id)
        if course is not None:
            return await repo.catalogue.centre(course.centre_id)
    return None


def _hours(t: BoundTranslator, centre: CentreDTO) -> str:
    return centre_hours(centre, t.locale) or t.plain("support-hours-unknown")


async def _wait_text(
    t: BoundTranslator, repo: Repos, clock: Clock, centre_id: int | None, until: datetime
) -> str:
    """ "You can write again at 12:00" (with the date when that is not today), in the
    centre's time zone."""
    centre = await repo.catalogue.centre(centre_id) if centre_id else None
    zone = ZoneInfo(centre.timezone if centre else "UTC")
    when = fmt_time(until, zone.key, t.locale)
    local = until.astimezone(zone).date()
    if local != clock.now().astimezone(zone).date():
        when = f"{fmt_date(local, t.locale)}, {when}"
    return t("support-flood", when=when)


async def offer(
    t: BoundTranslator, repo: Repos, centre: CentreDTO, message_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    """ "Pass it to the centre?", with the centre's FAQ questions as buttons."""
    faq = await repo.conversations.faq(centre.id)
    text = t("support-offer", centre=t.pick(centre.name), hours=_hours(t, centre))
    if faq:
        text += "\n\n" + t("support-faq-intro")
    rows = [
        [
            InlineKeyboardButton(
                text=t.plain("support-btn-send"),
                callback_data=SupCB(action=SupAction.send, c=centre.id, m=message_id).pack(),
            )
        ]
    ]
    for item in faq[:6]:
        rows.append(
            [
                InlineKeyboardButton(
                    text="❓ " + t.pick(item.question)[:60],
                    callback_data=SupCB(
                        action=SupAction.faq, c=centre.id, m=message_id, v=item.id
                    ).pack(),
                )
            ]
        )
    rows.append(
        [
            InlineKeyboardButton(
                text=t.plain("support-btn-other-centre"),
                callback_data=SupCB(action=SupAction.regions, m=message_id).pack(),
            ),
            InlineKeyboardButton(
                text=t.plain("btn-cancel"),
                callback_data=SupCB(action=SupAction.cancel, m=message_id).pack(),
            ),
        ]
    )
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def regions_view(
    t: BoundTranslator, repo: Repos, message_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    with_centres = {c.region_id for c in await repo.catalogue.centres()}
    rows = [
        [
            InlineKeyboardButton(
                text=t.pick(region.name),
                callback_data=SupCB(action=SupAction.region, v=region.id, m=message_id).pack(),
            )
        ]
        for region in await repo.catalogue.regions()
        if region.id in with_centres
    ]
    rows.append(
        [
            InlineKeyboardButton(
                text=t.plain("btn-cancel"),
                callback_data=SupCB(action=SupAction.cancel, m=message_id).pack(),
            )
        ]
    )
    return t("support-pick-region"), InlineKeyboardMarkup(inline_keyboard=rows)


@router.message(FreeMessage())
async def free_message(
    message: Message,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    clock: Clock,
) -> None:
    incoming = _incoming(message)
    now = clock.now()
    current = await repo.conversations.latest_open(user.id)
    if current is not None and current.centre_id is not None:
        # A follow-up: it joins the open conversation, no questions asked.
        until = await flood_wait(repo, settings, current, now)
        if until is not None:
            await message.answer(await _wait_text(t, repo, clock, current.centre_id, until))
            return
        await record_incoming(
            bot, settings, translator, repo, user.id, current.centre_id, incoming, now
        )
        centre = await repo.catalogue.centre(current.centre_id)
        await message.answer(t("support-added", centre=t.pick(centre.name) if centre else "—"))
        return
    await state.update_data(
        {DRAFT: {"m": incoming.message_id, "kind": incoming.kind, "text": incoming.text}}
    )
    centre = await _latest_centre(repo, user.id)
    if centre is None:
        text, markup = await regions_view(t, repo, incoming.message_id)
        await message.answer(t("support-ask-where") + "\n\n" + text, reply_markup=markup)
        return
    text, markup = await offer(t, repo, centre, incoming.message_id)
    await message.answer(text, reply_markup=markup)


@router.callback_query(SupCB.filter(F.action == SupAction.regions))
async def pick_region(
    callback: CallbackQuery, callback_data: SupCB, t: BoundTranslator, repo: Repos
) -> None:
    text, markup = await regions_view(t, repo, callback_data.m)
    await show(callback, text, markup)


@router.callback_query(SupCB.filter(F.action == SupAction.region))
async def pick_centre(
    callback: CallbackQuery,
    callback_data: SupCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    region = await repo.catalogue.region(callback_data.v)
    centres = [c for c in await repo.catalogue.centres() if region and c.region_id == region.id]
    if region is None or not centres:
        callback_answer.text = t.plain("error-stale-button")
        callback_answer.show_alert = True
        return
    rows = [
        [
            InlineKeyboardButton(
                text=f"{t.pick(c.name)} ({t.pick(c.city)})"[:64],
                callback_data=SupCB(action=SupAction.centre, c=c.id, m=callback_data.m).pack(),
            )
        ]
        for c in centres
    ]
    rows.append(
        [
            InlineKeyboardButton(
                text=t.plain("btn-back"),
                callback_data=SupCB(action=SupAction.regions, m=callback_data.m).pack(),
            )
        ]
    )
    await show(
        callback,
        t("support-pick-centre", region=t.pick(region.name)),
        InlineKeyboardMarkup(inline_keyboard=rows),
    )


@router.callback_query(SupCB.filter(F.action == SupAction.centre))
async def centre_offer(
    callback: CallbackQuery,
    callback_data: SupCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    centre = await repo.catalogue.centre(callback_data.c)
    if centre is None:
        callback_answer.text = t.plain("error-stale-button")
        callback_answer.show_alert = True
        return
    text, markup = await offer(t, repo, centre, callback_data.m)
    await show(callback, text, markup)


@router.callback_query(SupCB.filter(F.action == SupAction.faq))
async def faq_answer(
    callback: CallbackQuery,
    callback_data: SupCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
) -> None:
    item = await repo.conversations.faq_item(callback_data.v)
    if item is None or item.centre_id != callback_data.c:
        callback_answer.text = t.plain("error-stale-button")
        callback_answer.show_alert = True
        return
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t.plain("support-btn-still-ask"),
                    callback_data=SupCB(
                        action=SupAction.send, c=callback_data.c, m=callback_data.m
                    ).pack(),
                )
            ],
            [
                InlineKeyboardButton(
                    text=t.plain("support-btn-helped"),
                    callback_data=SupCB(action=SupAction.cancel, m=callback_data.m, v=1).pack(),
                )
            ],
        ]
    )
    text = t("support-faq-answer", question=t.pick(item.question), answer=t.pick(item.answer))
    await show(callback, text, markup)


@router.callback_query(SupCB.filter(F.action == SupAction.send))
async def send_to_centre(
    callback: CallbackQuery,
    callback_data: SupCB,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    clock: Clock,
    callback_answer: CallbackAnswer,
) -> None:
    centre = await repo.catalogue.centre(callback_data.c)
    if centre is None or callback_data.m <= 0:
        callback_answer.text = t.plain("error-stale-button")
        callback_answer.show_alert = True
        return
    now = clock.now()
    current = await repo.conversations.open_for(user.id, centre.id)
    until = await flood_wait(repo, settings, current, now)
    if until is not None:
        await show(callback, await _wait_text(t, repo, clock, centre.id, until))
        return
    data = await state.get_data()
    draft = data.get(DRAFT) if isinstance(data.get(DRAFT), dict) else None
    same = draft is not None and draft.get("m") == callback_data.m
    incoming = Incoming(
        # From the person's own chat only: the button cannot point anywhere else.
        chat_id=user.id,
        message_id=callback_data.m,
        kind=str(draft.get("kind") or "text") if same and draft else "text",
        text=draft.get("text") if same and draft else None,
    )
    await record_incoming(bot, settings, translator, repo, user.id, centre.id, incoming, now)
    if same:
        await state.update_data({DRAFT: None})
    await show(
        callback,
        t("support-sent", centre=t.pick(centre.name), hours=_hours(t, centre)),
    )


@router.callback_query(SupCB.filter(F.action == SupAction.cancel))
async def cancel(
    callback: CallbackQuery, callback_data: SupCB, state: FSMContext, t: BoundTranslator
) -> None:
    await state.update_data({DRAFT: None})
    await show(callback, t("support-helped" if callback_data.v else "support-not-sent"))
