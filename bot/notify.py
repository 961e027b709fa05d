"""Messages the bot sends on its own: to the staff chat and to applicants."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import SendMessage

from bot.config import Settings
from bot.contacts import contacts_block
from bot.formatting import reason_text, status_label, weekly_pattern
from bot.i18n import BoundTranslator, Translator
from bot.outbox import Rendered, Renderer
from bot.staff_callbacks import decision_markup, staff_message_key
from bot.staff_chats import staff_chats_of
from db.dto import ApplicationDTO, GroupContextDTO, NewDelivery, ScheduleChangeDTO, UserDTO
from db.repo import Repos

log = logging.getLogger(__name__)


async def district_label(t: BoundTranslator, repo: Repos, district_id: int | None) -> str:
    """A district with its region ("Talas District, Talas Region"): district names repeat
    across regions and countries. Plain text."""
    district = await repo.catalogue.district(district_id) if district_id else None
    if district is None:
        return "—"
    region = await repo.catalogue.region(district.region_id)
    name = t.pick(district.name)
    return f"{name}, {t.pick(region.name)}" if region else name


async def centre_label(t: BoundTranslator, repo: Repos, centre_id: int | None) -> str:
    """A centre as staff tell centres apart at a glance: its city (names are long)."""
    centre = await repo.catalogue.centre(centre_id) if centre_id else None
    return t.pick(centre.city) if centre else "—"


async def group_schedule(t: BoundTranslator, repo: Repos, group_id: int | None) -> str:
    """A group's weekly classes ("Mon, Wed 18:30–20:30") in the centre's time zone."""
    group = await repo.catalogue.group(group_id) if group_id else None
    course = await repo.catalogue.course(group.course_id) if group else None
    centre = await repo.catalogue.centre(course.centre_id) if course else None
    if group is None or centre is None:
        return t.plain("course-schedule-tba")
    sessions = await repo.catalogue.sessions([group.id])
    return weekly_pattern(sessions, centre.timezone, t.locale) or t.plain("course-schedule-tba")


async def application_summary(
    translator: Translator, locale: str, repo: Repos, app: ApplicationDTO
) -> str:
    t = translator.bind(locale)
    course = await repo.catalogue.course(app.course_id)
    group = await repo.catalogue.group(app.group_id) if app.group_id else None
    return t(
        "staff-new-application",
        id=app.id,
        course=t.pick(course.title) if course else "—",
        centre=await centre_label(t, repo, course.centre_id if course else None),
        group=t.pick(group.name) if group else t.plain("signup-any-group"),
        name=app.full_name,
        phone=app.phone,
        district=await district_label(t, repo, app.district_id),
        source=app.source or "—",
        status=status_label(t, app.status),
    )


STAFF_CARD = "staff_card"  # payload type of a staff-chat card sent by the outbox


def staff_card_key(application_id: int) -> str:
    """Dedupe key of the delivery that posts an application's staff-chat card."""
    return f"staff-card:{application_id}"


def staff_card_delivery(application_id: int, chat_id: int) -> NewDelivery:
    """The outbox row that posts an application's card to ``chat_id``: the centre's staff
    chat, else the programme's (``staff_chats_of``)."""
    return NewDelivery(
        kind="notice",
        dedupe_key=staff_card_key(application_id),
        user_id=chat_id,
        payload={"type": STAFF_CARD, "to_chat": True, "application_id": application_id},
    )


def reuses_earlier_card(previous: Sequence[ApplicationDTO], course_id: int) -> bool:
    """Whether a new application for ``course_id`` may take over the staff-chat card of
    one of ``previous`` (the person applied for the course before, and withdrew):
    ``notify_staff_new_application`` then edits that card instead of posting one."""
    return any(a.course_id == course_id for a in previous)


async def staff_message_of(repo: Repos, application_id: int) -> tuple[int, int] | None:
    """(chat id, message id) of an application's staff-chat card, if it has one."""
    raw = await repo.kv.get(staff_message_key(application_id))
    if raw is None:  # posted by the outbox: the delivery row knows where it went
        return await repo.deliveries.sent_message(staff_card_key(application_id))
    chat, _, message = raw.partition(":")
    try:
        return int(chat), int(message)
    except ValueError:  # "" : cleared (data erased, or the card shows a newer application)
        return None


async def notify_staff_new_application(
    bot: Bot, settings: Settings, translator: Translator, repo: Repos, app: ApplicationDTO
) -> None:
    """Show a new application in its centre's staff chat (else the programme-wide one)
    with Accept / Waitlist / Reject.

    Someone who applies again for a course (after withdrawing) gets their earlier card
    edited to show the new application, where it still exists; otherwise a new card goes
    through the outbox, so a 429 or a restart delays it instead of losing it. The
    database row is the source of truth (staff also see it under /admin)."""
    course = await repo.catalogue.course(app.course_id)
    chats = await staff_chats_of(repo, settings, course.centre_id if course else None)
    if not chats:  # neither the centre nor the programme has a staff chat
        return
    locale = settings.default_locale
    for earlier in await repo.applications.for_user(app.user_id):
        if earlier.id == app.id or earlier.course_id != app.course_id:
            continue
        where = await staff_message_of(repo, earlier.id)
        if where is None:
            continue
        text = await application_summary(translator, locale, repo, app)
        markup = decision_markup(translator.bind(locale), app.id, app.status)
        try:
            await bot.edit_message_text(
                text=text, chat_id=where[0], message_id=where[1], reply_markup=markup
            )
        except TelegramAPIError as exc:
            log.info("earlier card of application %s not reused: %s", earlier.id, exc)
            break
        await repo.kv.set(staff_message_key(earlier.id), "")
        await repo.kv.set(staff_message_key(app.id), f"{where[0]}:{where[1]}")
        return
    await repo.deliveries.enqueue([staff_card_delivery(app.id, chats[0])])


def staff_card_renderer(repo: Repos, settings: Settings, translator: Translator) -> Renderer:
    """The outbox's renderer of staff-chat cards: the application as it is at send time
    (already decided, or erased: nothing), personal data protected from forwarding."""

    async def render(
        payload: Mapping[str, Any], chat: UserDTO, t: BoundTranslator
    ) -> Rendered | None:
        app = await repo.applications.get(int(payload["application_id"]))
        if app is None:
            return None
        locale = settings.default_locale
        return Rendered(
            method=SendMessage(
                chat_id=chat.id,
                text=await application_summary(translator, locale, repo, app),
                parse_mode=ParseMode.HTML,
                reply_markup=decision_markup(translator.bind(locale), app.id, app.status),
                protect_content=True,
            )
        )

    return render


# Notices of a seat: they carry the centre's phone and hours (whom to call).
CONTACT_EVENTS = frozenset({"accepted", "promoted", "moved"})
NOTICE_KEYS = {
    "accepted": "notice-accepted",
    "waitlisted": "notice-waitlisted",
    "rejected": "notice-rejected",
    "promoted": "notice-promoted",
    "moved": "notice-moved",
}


async def notify_applicant(
    bot: Bot,
    translator: Translator,
    repo: Repos,
    app: ApplicationDTO,
    event: str,
    *,
    position: int | None = None,
    chosen_group_id: int | None = None,
) -> bool:
    """Tell an applicant about a decision, in their own language. True if delivered.

    ``chosen_group_id``: the group the applicant asked for, when they were placed in
    another one; the notice then says so."""
    user = await repo.users.get(app.user_id)
    if user is None or not user.is_active:
        return False
    locale = translator.resolve_locale(user.locale, user.language_code)
    t = translator.bind(locale)
    course = await repo.catalogue.course(app.course_id)
    group = await repo.catalogue.group(app.group_id) if app.group_id else None
    text = t(
        NOTICE_KEYS[event],
        course=t.pick(course.title) if course else "—",
        group=t.pick(group.name) if group else "—",
        reason=reason_text(t, app.reason),
        position=position or 0,
        id=app.id,
        schedule=await group_schedule(t, repo, app.group_id),
    )
    if event in CONTACT_EVENTS and course is not None:
        centre = await repo.catalogue.centre(course.centre_id)
        block = contacts_block(t, centre, full=False) if centre else ""
        if block:
            text = f"{text}\n\n{block}"
    if chosen_group_id is not None and group is not None and chosen_group_id != group.id:
        chosen = await repo.catalogue.group(chosen_group_id)
        if chosen is not None:
            other = t("notice-other-group", chosen=t.pick(chosen.name), group=t.pick(group.name))
            text = f"{text}\n\n{other}"
    try:
        await bot.send_message(app.user_id, text)
    except TelegramAPIError as exc:
        from aiogram.exceptions import TelegramForbiddenError

        if isinstance(exc, TelegramForbiddenError):
            await repo.users.set_active(app.user_id, False)
        log.warning("notice %s for application %s not delivered: %s", event, app.id, exc)
        return False
    return True


SCHEDULE_NOTICE_KEYS = {
    "added": "schedule-notice-added",
    "moved": "schedule-notice-moved",
    "cancelled": "schedule-notice-cancelled",
}
SCHEDULE_CHANGES_PER_MESSAGE = 8  # keeps a notice far below Telegram's 4096 characters


def _schedule_block(change: ScheduleChangeDTO, context: GroupContextDTO) -> dict[str, Any]:
    """One change as a ``text`` block; dates are formatted at send time, in the trainee's
    language and the centre's time zone."""
    tz = context.centre.timezone
    session = change.after or change.before
    assert session is not None
    starts = {"datetime": session.starts_at.isoformat(), "tz": tz}
    return {
        "key": SCHEDULE_NOTICE_KEYS[change.kind],
        "params": {
            "course": {"pick": context.course.title},
            "group": {"pick": context.group.name},
            "when": starts,
            "old": {"datetime": change.before.starts_at.isoformat(), "tz": tz}
            if change.before
            else "—",
            "new": starts,
            "end": {"time": session.ends_at.isoformat(), "tz": tz},
            "room": session.room or "—",
        },
    }


async def notify_schedule_change(
    bot: Bot, translator: Translator, repo: Repos, changes: Sequence[ScheduleChangeDTO]
) -> int:
    """Tell the accepted trainees of the changed groups: one message per trainee listing
    every change to their classes, rendered at send time in their own language.

    The messages go through the outbox (``deliveries`` rows, kind ``notice``): rate-limited,
    retried, and resumed after a restart; each expires once the last of its classes has
    started. Returns how many trainees it was queued for. ``bot`` and ``translator`` are
    no longer used here (the outbox renders and sends); they stay for the callers.
    """
    by_user: dict[int, list[dict[str, Any]]] = {}
    latest: dict[int, datetime] = {}
    contexts: dict[int, GroupContextDTO | None] = {}
    trainees: dict[int, list[int]] = {}
    for change in changes:
        if change.kind not in SCHEDULE_NOTICE_KEYS:
            raise ValueError(change.kind)
        if change.group_id not in contexts:
            contexts[change.group_id] = await repo.courses.group_context(change.group_id)
            trainees[change.group_id] = await repo.applications.accepted_user_ids([change.group_id])
        context = contexts[change.group_id]
        if context is None:
            continue
        block = _schedule_block(change, context)
        starts = max(s.starts_at for s in (change.before, change.after) if s is not None)
        for user_id in trainees[change.group_id]:
            by_user.setdefault(user_id, []).append(block)
            latest[user_id] = max(starts, latest.get(user_id, starts))
    token = uuid.uuid4().hex[:16]
    rows: list[NewDelivery] = []
    told = 0
    for user_id, blocks in by_user.items():
        user = await repo.users.get(user_id)
        if user is None or not user.is_active:
            continue
        told += 1
        for n in range(0, len(blocks), SCHEDULE_CHANGES_PER_MESSAGE):
            rows.append(
                NewDelivery(
                    kind="notice",
                    dedupe_key=f"schedule:{token}:{user_id}:{n}",
                    user_id=user_id,
                    payload={
                        "type": "text",
                        "key": "schedule-notice-header",
                        "blocks": blocks[n : n + SCHEDULE_CHANGES_PER_MESSAGE],
                    },
                    expires_at=latest[user_id],
                )
            )
    await repo.deliveries.enqueue(rows)
    return told
