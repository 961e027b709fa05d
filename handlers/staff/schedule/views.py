"""The schedule in words and buttons: a group's classes, one class, and the checks
shared by the actions (may this class still change?).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from aiogram.utils.callback_answer import CallbackAnswer
from babel.dates import format_date

from bot.formatting import fmt_datetime, fmt_time, zone_label
from bot.i18n import BoundTranslator, Html
from bot.staff_callbacks import CourseAction, CoursesCB, ScheduleAction, ScheduleCB
from db.dto import GroupContextDTO, SessionDTO, StaffScope
from db.repo import Repos
from handlers.staff.common import (
    alert,
    home_button,
    stale,
)
from handlers.staff.scope import session_in_scope

PAGE_SIZE = 8

# ---- views ------------------------------------------------------------------------------


def when_text(value: datetime, tz: str, locale: str, this_year: int | None = None) -> str:
    """The local date and time; with ``this_year``, the year too when it differs."""
    local = value.astimezone(ZoneInfo(tz))
    if this_year is None or local.year == this_year:
        return fmt_datetime(value, tz, locale)
    return f"{format_date(local, 'EEE, d MMMM y', locale=locale)}, {local:%H:%M}"


def session_line(t: BoundTranslator, s: SessionDTO, tz: str, this_year: int | None = None) -> str:
    key = "schedule-line-cancelled" if s.cancelled else "schedule-line"
    return t(
        key,
        id=s.id,
        when=when_text(s.starts_at, tz, t.locale, this_year),
        end=fmt_time(s.ends_at, tz, t.locale),
        room=s.room or "—",
    )


def sc_button(
    text: str, action: ScheduleAction, id_: int = 0, value: int = 0
) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text[:64], callback_data=ScheduleCB(action=action, id=id_, value=value).pack()
    )


async def sessions_view(
    t: BoundTranslator, repo: Repos, context: GroupContextDTO, page: int, now: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    tz = context.centre.timezone
    # From now on: a class under way (started, not ended) stays, an ended one does not.
    found = await repo.catalogue.sessions(
        [context.group.id], since=now - timedelta(days=1), include_cancelled=True
    )
    upcoming = [s for s in found if s.ends_at > now]
    pages = max(1, -(-len(upcoming) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = upcoming[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    lines = [
        t(
            "schedule-header",
            course=t.pick(context.course.title),
            group=t.pick(context.group.name),
            tz=zone_label(t, context.centre),
            page=page + 1,
            pages=pages,
        )
    ]
    lines += [session_line(t, s, tz) for s in shown]
    if not upcoming:
        lines.append(t("schedule-empty"))
    buttons = [
        sc_button(
            ("✖️ " if s.cancelled else "") + fmt_datetime(s.starts_at, tz, t.locale),
            ScheduleAction.session,
            s.id,
        )
        for s in shown
    ]
    rows = [[b] for b in buttons]
    nav = []
    if page > 0:
        nav.append(sc_button("◀️", ScheduleAction.sessions, context.group.id, page - 1))
    if page < pages - 1:
        nav.append(sc_button("▶️", ScheduleAction.sessions, context.group.id, page + 1))
    if nav:
        rows.append(nav)
    rows.append(
        [
            sc_button(t.plain("schedule-btn-add"), ScheduleAction.add, context.group.id),
            sc_button(t.plain("schedule-btn-import"), ScheduleAction.imports, context.group.id),
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                text=t.plain("btn-back"),
                callback_data=CoursesCB(action=CourseAction.group, id=context.group.id).pack(),
            ),
            home_button(t),
        ]
    )
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


async def session_view(
    t: BoundTranslator, context: GroupContextDTO, s: SessionDTO, now: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    tz = context.centre.timezone
    text = t(
        "schedule-session-card",
        course=t.pick(context.course.title),
        group=t.pick(context.group.name),
        line=Html(session_line(t, s, tz)),
    )
    rows = []
    if not s.cancelled and s.starts_at > now:
        rows.append(
            [
                sc_button(t.plain("schedule-btn-move"), ScheduleAction.move, s.id),
                sc_button(t.plain("schedule-btn-cancel"), ScheduleAction.cancel, s.id),
            ]
        )
    rows.append(
        [sc_button(t.plain("btn-back"), ScheduleAction.sessions, s.group_id), home_button(t)]
    )
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def session_context(
    repo: Repos, session_id: int, scope: StaffScope
) -> tuple[SessionDTO, GroupContextDTO] | None:
    """A class with its group, course and centre, if the centre is the staff member's."""
    return await session_in_scope(repo, scope, session_id)


def told_text(t: BoundTranslator, count: int) -> str:
    return t.n("schedule-told", count)


def fixed_reason(session: SessionDTO, now: datetime) -> str | None:
    """Why a class can no longer be moved or cancelled (a translation key), or None."""
    if session.cancelled:
        return "schedule-error-cancelled"
    if session.starts_at <= now:
        return "schedule-error-started"
    return None


async def changeable(
    repo: Repos,
    session_id: int,
    scope: StaffScope,
    t: BoundTranslator,
    callback_answer: CallbackAnswer,
    now: datetime,
) -> tuple[SessionDTO, GroupContextDTO] | None:
    """The class a Move or Cancel button names, if it can still be changed; otherwise the
    callback is answered with why (stale button, cancelled or started class) and None."""
    found = await session_context(repo, session_id, scope)
    if found is None:
        stale(t, callback_answer)
        return None
    reason = fixed_reason(found[0], now)
    if reason is not None:
        alert(callback_answer, t.plain(reason))
        return None
    return found
