"""Accept / Waitlist / Reject, from the staff chat and from an application's card.

Each button carries the status the staff member saw; the repository applies a decision
only if the application is still in it, so two staff pressing at once change it once and
the second is told what the first did. The staff-chat message of an application (its id
is kept in the kv table) is redrawn after every change, wherever it was made.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.config import Settings
from bot.filters import HasText
from bot.formatting import fmt_datetime, reason_text, status_label
from bot.i18n import BoundTranslator, Translator, escape
from bot.notify import (
    application_summary,
    district_label,
    notify_applicant,
    staff_message_of,
)
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.staff_callbacks import (
    CODE_STATUSES,
    STATUS_CODES,
    AppsAction,
    AppsCB,
    Decision,
    DecisionCB,
    decision_buttons,
    decision_markup,
    reject_markup,
    staff_message_key,
)
from bot.staff_chats import staff_chats_of
from db.dto import ApplicationDTO, StaffScope, UserDTO
from db.repo import Repos
from db.repo.applications import EnrolmentError
from handlers.staff.common import (
    TEXT_INPUT_MAX,
    StaffChats,
    StaffForm,
    StaffTraffic,
    alert,
    cancel_markup,
    home_button,
    person,
    stale,
)
from handlers.staff.outcomes.base import answer_lines
from handlers.staff.scope import application_in_scope

log = logging.getLogger(__name__)
router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(), StaffChats(staff_chat=True))
router.callback_query.filter(StaffTraffic(), RoleFilter(), StaffChats(staff_chat=True))

ACTIONS = {Decision.accept: "accept", Decision.waitlist: "waitlist", Decision.reject: "reject"}
EVENTS = {Decision.accept: "accepted", Decision.waitlist: "waitlisted", Decision.reject: "rejected"}
DONE_KEYS = {
    Decision.accept: "staff-done-accepted",
    Decision.waitlist: "staff-done-waitlisted",
    Decision.reject: "staff-done-rejected",
}


# ---- texts ------------------------------------------------------------------------------


def chosen_group_key(application_id: int) -> str:
    """Key (in the kv table) of the group an applicant chose, kept when Accept placed them
    in another group of the course (the application row keeps only the group assigned)."""
    return f"chosen-group:{application_id}"


async def other_group_line(t: BoundTranslator, repo: Repos, app: ApplicationDTO) -> str:
    """'Placed in X: the chosen Y is full' for an accepted applicant placed elsewhere."""
    if app.status != "accepted" or app.group_id is None:
        return ""
    raw = await repo.kv.get(chosen_group_key(app.id))
    if not raw or not raw.isdigit() or int(raw) == app.group_id:
        return ""
    chosen = await repo.catalogue.group(int(raw))
    group = await repo.catalogue.group(app.group_id)
    if chosen is None or group is None:
        return ""
    return t("staff-accepted-other-group", group=t.pick(group.name), chosen=t.pick(chosen.name))


async def timezone_of(repo: Repos, course_id: int) -> str:
    course = await repo.catalogue.course(course_id)
    centre = await repo.catalogue.centre(course.centre_id) if course else None
    return centre.timezone if centre else "UTC"


async def decided_line(t: BoundTranslator, repo: Repos, app: ApplicationDTO) -> str:
    """Who decided and when, in HTML ('' while nobody has)."""
    if app.status == "cancelled":
        return t("staff-app-withdrawn")
    if app.decided_at is None or app.status == "pending":
        return ""
    at = fmt_datetime(app.decided_at, await timezone_of(repo, app.course_id), t.locale)
    status = status_label(t, app.status)
    if app.decided_by:
        line = t("staff-app-decided", status=status, who=await person(repo, app.decided_by), at=at)
    else:
        line = t("staff-app-decided-auto", status=status, at=at)
    if app.status == "rejected" and app.reason:
        line += "\n" + t("staff-app-reason", reason=reason_text(t, app.reason))
    other = await other_group_line(t, repo, app)
    return f"{line}\n{other}" if other else line


async def changed_text(t: BoundTranslator, repo: Repos, app: ApplicationDTO) -> str:
    """For a stale button: what happened to the application meanwhile (plain text)."""
    status = status_label(t, app.status)
    if app.status == "cancelled":
        return t.plain("staff-changed-withdrawn", id=app.id)
    if app.decided_at is not None and app.decided_by:
        at = fmt_datetime(app.decided_at, await timezone_of(repo, app.course_id), t.locale)
        who = await person(repo, app.decided_by)
        return t.plain("staff-changed", id=app.id, status=status, who=who, at=at)
    return t.plain("staff-changed-status", id=app.id, status=status)


async def staff_chat_text(
    translator: Translator, settings: Settings, repo: Repos, app: ApplicationDTO
) -> str:
    locale = settings.default_locale
    text = await application_summary(translator, locale, repo, app)
    line = await decided_line(translator.bind(locale), repo, app)
    return f"{text}\n\n{line}" if line else text


async def card_text(t: BoundTranslator, repo: Repos, app: ApplicationDTO) -> str:
    course = await repo.catalogue.course(app.course_id)
    centre = await repo.catalogue.centre(course.centre_id) if course else None
    group = await repo.catalogue.group(app.group_id) if app.group_id else None
    tz = centre.timezone if centre else "UTC"
    lines = [
        t(
            "staff-app-card",
            id=app.id,
            course=t.pick(course.title) if course else "—",
            centre=t.pick(centre.name) if centre else "—",
            group=t.pick(group.name) if group else t.plain("signup-any-group"),
            name=app.full_name,
            phone=app.phone,
            district=await district_label(t, repo, app.district_id),
            source=app.source or "—",
            created=fmt_datetime(app.created_at, tz, t.locale),
            status=status_label(t, app.status),
        )
    ]
    if app.status == "waitlisted":
        position = await repo.applications.waitlist_position(app.id)
        if position:
            lines.append(t("staff-app-position", position=position))
    line = await decided_line(t, repo, app)
    if line:
        lines.append(line)
    lines.extend(await answer_lines(t, repo, app))  # the course's extra questions
    return "\n".join(lines)


def card_markup(t: BoundTranslator, app: ApplicationDTO, back: str | None) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    buttons = decision_buttons(t, app.id, app.status)
    if buttons:
        rows.append(buttons)
    base = AppsCB.unpack(back) if back else AppsCB(action=AppsAction.list)
    if app.status == "accepted":
        move = base.model_copy(update={"action": AppsAction.move, "id": app.id})
        rows.append(
            [InlineKeyboardButton(text=t.plain("staff-btn-move"), callback_data=move.pack())]
        )
    rows.append(
        [
            InlineKeyboardButton(
                text=t.plain("staff-btn-back-list"),
                callback_data=base.model_copy(update={"action": AppsAction.list}).pack(),
            ),
            home_button(t),
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def back_of(callback: CallbackQuery) -> str | None:
    """The 'back to the list' button of the pressed card (it carries the list's filter)."""
    message = callback.message
    markup = message.reply_markup if isinstance(message, Message) else None
    for row in markup.inline_keyboard if markup else []:
        for button in row:
            data = button.callback_data or ""
            if data.startswith(AppsCB.__prefix__ + ":"):
                try:
                    if AppsCB.unpack(data).action is AppsAction.list:
                        return data
                except (TypeError, ValueError):
                    continue
    return None


# ---- telling everyone ---------------------------------------------------------------------


async def refresh_staff_message(
    bot: Bot,
    settings: Settings,
    translator: Translator,
    repo: Repos,
    app: ApplicationDTO,
    *,
    skip: tuple[int, int] | None = None,
) -> None:
    """Redraw an application's staff-chat message: status, who decided, fitting buttons."""
    where = await staff_message_of(repo, app.id)
    if where is None or where == skip:
        return
    text = await staff_chat_text(translator, settings, repo, app)
    markup = decision_markup(translator.bind(settings.default_locale), app.id, app.status)
    try:
        await bot.edit_message_text(
            text=text, chat_id=where[0], message_id=where[1], reply_markup=markup
        )
    except TelegramAPIError as exc:
        log.info("staff message of application %s not redrawn: %s", app.id, exc)


async def announce_promotions(
    bot: Bot,
    settings: Settings,
    translator: Translator,
    repo: Repos,
    promoted: list[ApplicationDTO],
) -> None:
    """Tell applicants who got a freed seat, and redraw their staff-chat messages."""
    for app in promoted:
        await notify_applicant(bot, translator, repo, app, "promoted")
        await refresh_staff_message(bot, settings, translator, repo, app)


async def announce(
    bot: Bot,
    settings: Settings,
    translator: Translator,
    repo: Repos,
    app: ApplicationDTO,
    event: str,
    *,
    position: int | None = None,
    promoted: list[ApplicationDTO] | None = None,
    skip: tuple[int, int] | None = None,
    chosen_group_id: int | None = None,
) -> bool:
    """After a decision: the applicant, the staff chat and anyone promoted. True if the
    applicant got the notice."""
    delivered = await notify_applicant(
        bot, translator, repo, app, event, position=position, chosen_group_id=chosen_group_id
    )
    await refresh_staff_message(bot, settings, translator, repo, app, skip=skip)
    await announce_promotions(bot, settings, translator, repo, promoted or [])
    return delivered


async def redraw(
    bot: Bot,
    chat_id: int,
    message_id: int,
    back: str | None,
    t: BoundTranslator,
    translator: Translator,
    settings: Settings,
    repo: Repos,
    app: ApplicationDTO,
) -> None:
    """Redraw the message a decision was made from: a staff-chat post or a card."""
    if chat_id < 0:  # a group: the programme's or a centre's staff chat
        text = await staff_chat_text(translator, settings, repo, app)
        markup = decision_markup(translator.bind(settings.default_locale), app.id, app.status)
    else:
        text = await card_text(t, repo, app)
        markup = card_markup(t, app, back)
    try:
        await bot.edit_message_text(
            text=text, chat_id=chat_id, message_id=message_id, reply_markup=markup
        )
    except TelegramAPIError as exc:
        log.info("message %s of chat %s not redrawn: %s", message_id, chat_id, exc)


async def redraw_stale(
    bot: Bot,
    where: tuple[int, int],
    back: str | None,
    t: BoundTranslator,
    translator: Translator,
    settings: Settings,
    repo: Repos,
    app: ApplicationDTO,
) -> None:
    """Bring a stale message up to date — unless it is the application's staff-chat post,
    which whoever changed the application has redrawn already."""
    if await staff_message_of(repo, app.id) != where:
        await redraw(bot, *where, back, t, translator, settings, repo, app)


async def staff_chat_withdrawn(
    bot: Bot,
    settings: Settings,
    translator: Translator,
    repo: Repos,
    app: ApplicationDTO,
    previous_status: str,
    promoted: list[ApplicationDTO],
) -> None:
    """After the applicant withdrew: redraw the staff-chat post (new status, no decision
    buttons), tell and redraw anyone promoted, and say in the staff chat when an accepted
    trainee freed a seat. Never raises: the applicant's own flow must not be disturbed."""
    try:
        await refresh_staff_message(bot, settings, translator, repo, app)
        await announce_promotions(bot, settings, translator, repo, promoted)
        if previous_status == "accepted":
            await seat_freed(bot, settings, translator, repo, app)
    except Exception:  # logged; the applicant's flow goes on
        log.exception("staff chat not updated after application %s was withdrawn", app.id)


async def seat_freed(
    bot: Bot, settings: Settings, translator: Translator, repo: Repos, app: ApplicationDTO
) -> None:
    """One line in the centre's staff chat: an accepted trainee left, a seat is free."""
    t = translator.bind(settings.default_locale)
    course = await repo.catalogue.course(app.course_id)
    group = await repo.catalogue.group(app.group_id) if app.group_id else None
    text = t(
        "staff-seat-freed",
        id=app.id,
        course=t.pick(course.title) if course else "—",
        group=t.pick(group.name) if group else "—",
    )
    for chat_id in await staff_chats_of(repo, settings, course.centre_id if course else None):
        try:
            await bot.send_message(chat_id, text)
        except TelegramAPIError as exc:
            log.info("seat-freed line for application %s not sent: %s", app.id, exc)


async def staff_chat_erased(
    bot: Bot, settings: Settings, translator: Translator, repo: Repos, application_ids: list[int]
) -> None:
    """After an applicant erased their data: their applications' staff-chat posts lose the
    personal data and the buttons. Never raises; logs carry only ids."""
    t = translator.bind(settings.default_locale)
    for application_id in application_ids:
        try:
            where = await staff_message_of(repo, application_id)
            if where is None:
                continue
            await repo.kv.set(staff_message_key(application_id), "")
            await repo.kv.set(chosen_group_key(application_id), "")
            await bot.edit_message_text(
                text=t("staff-app-erased", id=application_id),
                chat_id=where[0],
                message_id=where[1],
                reply_markup=None,
            )
        except TelegramAPIError as exc:
            log.info("staff message of application %s not cleared: %s", application_id, exc)
        except Exception:  # logged; the applicant's flow goes on
            log.exception("staff message of application %s not cleared", application_id)


# ---- buttons --------------------------------------------------------------------------


@router.callback_query(DecisionCB.filter())
async def on_decision(
    callback: CallbackQuery,
    callback_data: DecisionCB,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    app = await application_in_scope(repo, scope, callback_data.id)
    seen = CODE_STATUSES.get(callback_data.seen)
    message = callback.message
    if app is None or seen is None or message is None:
        stale(t, callback_answer)
        return
    where = (message.chat.id, message.message_id)
    back = back_of(callback)
    if app.status != seen:
        alert(callback_answer, await changed_text(t, repo, app))
        await redraw_stale(bot, where, back, t, translator, settings, repo, app)
        return
    if callback_data.action is Decision.reject:
        await ask_reason(callback, app, state, user, t, repo, bot, callback_answer, where, back)
        return
    try:
        outcome = await repo.applications.decide(
            app.id, actor_id=user.id, action=ACTIONS[callback_data.action], expected_status=seen
        )
    except EnrolmentError as exc:
        current = exc.application or await repo.applications.get(app.id)
        if exc.code == "full":
            alert(callback_answer, t.plain("staff-decision-full"))
        elif current is None:
            stale(t, callback_answer)
        else:
            alert(callback_answer, await changed_text(t, repo, current))
            await redraw_stale(bot, where, back, t, translator, settings, repo, current)
        return
    fresh = outcome.application
    chosen = app.group_id if fresh.status == "accepted" else None
    if chosen is not None and chosen != fresh.group_id:
        # The chosen group was full and Accept placed the applicant in another one.
        await repo.kv.set(chosen_group_key(fresh.id), str(chosen))
    await redraw(bot, *where, back, t, translator, settings, repo, fresh)
    delivered = await announce(
        bot,
        settings,
        translator,
        repo,
        fresh,
        EVENTS[callback_data.action],
        position=outcome.waitlist_position,
        promoted=outcome.promoted,
        skip=where,
        chosen_group_id=chosen,
    )
    told = t.plain("staff-applicant-told" if delivered else "staff-applicant-not-told")
    parts = [t.plain(DONE_KEYS[callback_data.action], id=fresh.id)]
    group = await repo.catalogue.group(fresh.group_id) if fresh.group_id else None
    if fresh.status == "accepted" and group is not None:
        if chosen is not None and chosen != group.id and (g := await repo.catalogue.group(chosen)):
            parts.append(
                t.plain(
                    "staff-accepted-other-group", group=t.pick(group.name), chosen=t.pick(g.name)
                )
            )
            callback_answer.show_alert = True  # staff should not miss it
        else:
            parts.append(t.plain("staff-accepted-group", group=t.pick(group.name)))
    parts.append(told)
    callback_answer.text = " ".join(parts)[:200]


async def ask_reason(
    callback: CallbackQuery,
    app: ApplicationDTO,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    bot: Bot,
    callback_answer: CallbackAnswer,
    where: tuple[int, int],
    back: str | None,
) -> None:
    """Ask for the reason in the staff member's private chat (also when Reject was pressed
    in the staff group), so the answer never has to be picked out of group chatter."""
    private = FSMContext(
        storage=state.storage,
        key=StorageKey(bot_id=state.key.bot_id, chat_id=user.id, user_id=user.id),
    )
    await private.set_state(StaffForm.reject_reason)
    await private.set_data(
        {
            "app_id": app.id,
            "seen": STATUS_CODES[app.status],
            "origin_chat": where[0],
            "origin_message": where[1],
            "back": back,
        }
    )
    course = await repo.catalogue.course(app.course_id)
    text = t(
        "staff-reject-ask",
        id=app.id,
        name=app.full_name,
        course=t.pick(course.title) if course else "—",
    )
    try:
        await bot.send_message(user.id, text, reply_markup=reject_markup(t, app.id))
    except TelegramAPIError:
        await private.clear()
        alert(callback_answer, t.plain("staff-reject-open-private"))
        return
    if where[0] != user.id:
        # Said in the group as a message (a toast is gone in three seconds): who is asked,
        # and where to answer.
        note = t("staff-reject-where", who=await person(repo, user.id), id=app.id)
        try:
            await bot.send_message(where[0], note, reply_to_message_id=where[1])
        except TelegramAPIError:
            callback_answer.text = t.plain("staff-reject-asked-private")


# ---- the reason ---------------------------------------------------------------------------


@router.message(StateFilter(StaffForm.reject_reason), HasText())
async def got_reason(
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
    data = await state.get_data()
    await state.clear()
    reason = (message.text or "").strip()[:TEXT_INPUT_MAX]
    await finish_reject(message, data, reason, user, t, translator, repo, settings, bot, scope)


async def finish_reject(
    message: Message,
    data: dict[str, Any],
    reason: str,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    scope: StaffScope,
) -> None:
    """Reject with ``reason`` (typed, or a preset's code) the application the reason form
    was for; the form's data is already taken. Answers in ``message``'s chat."""
    app_id = data.get("app_id")
    seen = CODE_STATUSES.get(str(data.get("seen")))
    if (
        not isinstance(app_id, int)
        or seen is None
        or await application_in_scope(repo, scope, app_id) is None
    ):
        await message.answer(t("error-stale-button"))
        return
    try:
        outcome = await repo.applications.decide(
            app_id, actor_id=user.id, action="reject", expected_status=seen, reason=reason
        )
    except EnrolmentError as exc:
        current = exc.application or await repo.applications.get(app_id)
        if current is None:
            await message.answer(t("error-stale-button"))
        else:
            await message.answer(escape(await changed_text(t, repo, current)))
        return
    app = outcome.application
    origin_chat, origin_message = data.get("origin_chat"), data.get("origin_message")
    where = None
    if isinstance(origin_chat, int) and isinstance(origin_message, int):
        where = (origin_chat, origin_message)
        back = data.get("back")
        await redraw(
            bot,
            origin_chat,
            origin_message,
            back if isinstance(back, str) else None,
            t,
            translator,
            settings,
            repo,
            app,
        )
    delivered = await announce(
        bot, settings, translator, repo, app, "rejected", promoted=outcome.promoted, skip=where
    )
    told = t("staff-applicant-told" if delivered else "staff-applicant-not-told")
    await message.answer(f"{t('staff-done-rejected', id=app.id)} {told}")


@router.message(StateFilter(StaffForm.reject_reason))
async def reason_not_text(message: Message, t: BoundTranslator) -> None:
    await message.answer(t("staff-reject-expect-text"), reply_markup=cancel_markup(t))
