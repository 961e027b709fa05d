"""What reminders say: the answer buttons under a reminder (and their callback data),
the reminder's text and the staff's daily digest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.contacts import phones_text
from bot.formatting import fmt_date, fmt_datetime, fmt_time
from bot.i18n import BoundTranslator
from db.dto import AttendanceCounts, ReminderSessionDTO

if TYPE_CHECKING:
    pass

# ---- callback data -----------------------------------------------------------------------


class Answer(StrEnum):
    yes = "y"
    no = "n"


ANSWER_VALUES = {Answer.yes: "yes", Answer.no: "no"}


class ReminderCB(CallbackData, prefix="rmd"):
    """A trainee's answer under a reminder. Re-checked by the handler: never trusted."""

    session_id: int
    answer: Answer


def answer_markup(t: BoundTranslator, session_id: int, chosen: str | None) -> InlineKeyboardMarkup:
    """The "I'll come" / "I can't come" buttons; the stored answer (yes | no) is ticked."""

    def button(answer: Answer, key: str) -> InlineKeyboardButton:
        label = t.plain(key)
        if chosen == ANSWER_VALUES[answer]:
            label = f"✓ {label}"
        return InlineKeyboardButton(
            text=label, callback_data=ReminderCB(session_id=session_id, answer=answer).pack()
        )

    return InlineKeyboardMarkup(
        inline_keyboard=[
            [button(Answer.yes, "reminder-btn-yes"), button(Answer.no, "reminder-btn-no")]
        ]
    )


def starts_in_text(t: BoundTranslator, starts_at: datetime, now: datetime) -> str:
    """E.g. "in 24 hours", "in 1 hour", "in 45 minutes" (whole hours from two hours up)."""
    minutes = max(1, round((starts_at - now).total_seconds() / 60))
    if minutes >= 120 or minutes % 60 == 0:
        return t.n_plain("reminder-in-hours", round(minutes / 60))
    return t.n_plain("reminder-in-minutes", minutes)


def reminder_text(t: BoundTranslator, info: ReminderSessionDTO, now: datetime) -> str:
    """The reminder's text in ``t``'s language (the buttons are ``answer_markup``)."""
    session, context = info.session, info.context
    tz = context.centre.timezone
    text = t(
        "reminder-text",
        starts_in=starts_in_text(t, session.starts_at, now),
        course=t.pick(context.course.title),
        group=t.pick(context.group.name),
        when=fmt_datetime(session.starts_at, tz, t.locale),
        end=fmt_time(session.ends_at, tz, t.locale),
        room=session.room or "—",
        centre=t.pick(context.centre.name),
        address=t.pick(context.centre.address),
    )
    if context.centre.contacts.phones:  # whom to call when they cannot come
        text += "\n" + t("contacts-cant-come", phones=phones_text(context.centre))
    return text


def digest_text(
    t: BoundTranslator,
    centre_name: Mapping[str, str],
    day: date,
    sessions: Sequence[ReminderSessionDTO],
    counts: Mapping[int, AttendanceCounts],
) -> str:
    """Tomorrow's classes with their trainees' answers. Classes of groups with no trainees
    are not listed (a line says how many); if no class has trainees, one line says so."""
    centre, when = t.pick(centre_name), fmt_date(day, t.locale)
    listed = [i for i in sessions if counts.get(i.session.id, AttendanceCounts()).total > 0]
    if not listed:
        return t("reminder-digest-no-trainees", centre=centre, date=when)
    lines = [t("reminder-digest-header", centre=centre, date=when)]
    for info in listed:
        s, context = info.session, info.context
        tz = context.centre.timezone
        c = counts.get(s.id, AttendanceCounts())
        lines.append("")
        lines.append(
            t(
                "reminder-digest-line",
                time=fmt_time(s.starts_at, tz, t.locale),
                end=fmt_time(s.ends_at, tz, t.locale),
                course=t.pick(context.course.title),
                group=t.pick(context.group.name),
                room=s.room or "—",
                yes=c.yes,
                no=c.no,
                unknown=c.unknown,
                total=c.total,
            )
        )
    if len(listed) < len(sessions):
        lines += ["", t.n("reminder-digest-not-listed", len(sessions) - len(listed))]
    lines += ["", t("reminder-digest-legend")]
    return "\n".join(lines)
