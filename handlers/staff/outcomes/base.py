"""The outcomes section's shared parts: callback data, states, the centre boundary, and
the group and trainee views."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from html import escape

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.callback_answer import CallbackAnswer

from bot.config import Settings
from bot.i18n import BoundTranslator
from bot.services.outcomes.answers import shown
from db.dto import ApplicationDTO, GroupContextDTO, StaffScope
from db.dto_outcomes import COMPLETED, DROPPED, STUDYING, TraineeDTO
from db.repo import Repos
from handlers.staff.common import clip, home_button, stale
from handlers.staff.scope import application_in_scope, context_in_scope


class Out(StrEnum):
    section = "s"
    centre = "c"
    group = "g"
    trainee = "t"
    progress = "p"
    drop = "d"
    drop_reason = "dr"
    drop_skip = "dn"
    roster = "f"
    roster_toggle = "fx"
    roster_confirm = "fk"
    cert_make = "cg"
    cert_attach = "ca"
    cert_resend = "cr"
    report = "r"
    report_period = "rp"
    report_range = "rr"
    journal = "j"
    stats_range = "sr"


class OutCB(CallbackData, prefix="soc"):
    action: Out
    id: int = 0
    arg: str = ""


class OutcomeForm(StatesGroup):
    dropout_note = State()
    certificate_file = State()
    report_range = State()
    stats_range = State()


PROGRESS_ICONS = {None: "▫️", STUDYING: "📖", COMPLETED: "✅", DROPPED: "❌"}


def button(text: str, action: Out, id_: int = 0, arg: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=OutCB(action=action, id=id_, arg=arg).pack()
    )


# ---- the centre boundary -------------------------------------------------------------


async def trainee_in_scope(repo: Repos, scope: StaffScope, app_id: int) -> ApplicationDTO | None:
    """The accepted application if its centre is one of this staff member's, else None."""
    app = await application_in_scope(repo, scope, app_id)
    return app if app is not None and app.status == "accepted" else None


async def trainee_or_stale(
    t: BoundTranslator,
    repo: Repos,
    scope: StaffScope,
    app_id: int,
    callback_answer: CallbackAnswer,
) -> ApplicationDTO | None:
    """The trainee a button names, or None after telling the staff member the button is
    stale (gone, not accepted, or of another centre)."""
    app = await trainee_in_scope(repo, scope, app_id)
    if app is None:
        stale(t, callback_answer)
    return app


async def group_or_stale(
    t: BoundTranslator,
    repo: Repos,
    scope: StaffScope,
    group_id: int,
    callback_answer: CallbackAnswer,
) -> GroupContextDTO | None:
    """The group a button names with its course and centre, or None (stale, told)."""
    context = await context_in_scope(repo, scope, group_id)
    if context is None:
        stale(t, callback_answer)
    return context


# ---- views ---------------------------------------------------------------------------


async def answer_lines(t: BoundTranslator, repo: Repos, app: ApplicationDTO) -> list[str]:
    """The answers to the course's extra questions, one line each (staff cards)."""
    answers = (await repo.outcomes.answers([app.id]))[app.id]
    if not answers:
        return []
    questions = await repo.outcomes.questions(answers)
    return [
        f"• {escape(t.pick(q.text))}: {escape(shown(q, answers[q.id], t.locale))}"
        for q in questions
    ]


def progress_label(t: BoundTranslator, progress: str | None) -> str:
    return t.plain("progress-" + (progress or "accepted"))


def trainee_line(t: BoundTranslator, tr: TraineeDTO, streak: int) -> str:
    rate = f"{tr.rate}%" if tr.rate is not None else "—"
    flag = " ⚠️" if tr.missed_in_a_row >= streak and tr.progress != DROPPED else ""
    cert = " 🎓" if tr.has_certificate else ""
    return f"{PROGRESS_ICONS.get(tr.progress, '▫️')} {clip(tr.full_name, 32)} · {rate}{flag}{cert}"


async def group_view(
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    context: GroupContextDTO,
    now: datetime,
) -> tuple[str, InlineKeyboardMarkup]:
    """A group checked against the staff member's scope: its trainees with attendance,
    the flagged ones, the roster and the journal."""
    group, course = context.group, context.course
    group_id = group.id
    trainees = await repo.outcomes.trainees(group_id, now)
    marked = sum(tr.marked for tr in trainees)
    present = sum(tr.present for tr in trainees)
    flagged = [
        tr
        for tr in trainees
        if tr.missed_in_a_row >= settings.absence_streak and tr.progress != DROPPED
    ]
    lines = [
        t(
            "outcomes-group-head",
            course=t.pick(course.title),
            group=t.pick(group.name),
            trainees=len(trainees),
            rate=f"{round(100 * present / marked)}%" if marked else "—",
        ),
        t("outcomes-legend"),
    ]
    if flagged:
        lines.append(
            t(
                "outcomes-flagged",
                count=len(flagged),
                streak=settings.absence_streak,
                names=", ".join(escape(clip(tr.full_name, 32)) for tr in flagged),
            )
        )
    rows = [
        [button(trainee_line(t, tr, settings.absence_streak), Out.trainee, tr.application_id)]
        for tr in trainees
    ]
    if trainees:
        rows.append([button(t.plain("outcomes-btn-roster"), Out.roster, group_id)])
    rows.append([button(t.plain("outcomes-btn-journal"), Out.journal, group_id)])
    rows.append([button(t.plain("btn-back"), Out.centre, context.centre.id), home_button(t)])
    if not trainees:
        lines.append(t("outcomes-no-trainees"))
    return "\n\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


async def trainee_view(
    t: BoundTranslator, repo: Repos, settings: Settings, app: ApplicationDTO, now: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    trainees = await repo.outcomes.trainees(app.group_id, now) if app.group_id else []
    tr = next((x for x in trainees if x.application_id == app.id), None)
    progress = tr.progress if tr else None
    course = await repo.catalogue.course(app.course_id)
    group = await repo.catalogue.group(app.group_id) if app.group_id else None
    cert = await repo.outcomes.certificate(app.id)
    lines = [
        t(
            "outcomes-trainee",
            name=app.full_name,
            phone=app.phone,
            course=t.pick(course.title) if course else "—",
            group=t.pick(group.name) if group else "—",
            status=progress_label(t, progress),
            present=tr.present if tr else 0,
            marked=tr.marked if tr else 0,
            rate=f"{tr.rate}%" if tr and tr.rate is not None else "—",
        )
    ]
    if tr and tr.missed_in_a_row >= settings.absence_streak and progress != DROPPED:
        lines.append(t("outcomes-trainee-flag", count=tr.missed_in_a_row))
    _, reason = await repo.outcomes.progress_of(app.id)
    if progress == DROPPED and reason:
        lines.append(t("outcomes-trainee-reason", reason=t.plain("dropout-reason-" + reason)))
    lines.extend(await answer_lines(t, repo, app))
    lines.append(t("outcomes-trainee-contact", user_id=app.user_id, phone=app.phone))
    if cert:
        lines.append(t("outcomes-trainee-cert", number=cert.number, issuer=cert.issuer))
    rows: list[list[InlineKeyboardButton]] = []
    moves = []
    if progress != STUDYING:
        moves.append(button(t.plain("outcomes-btn-studying"), Out.progress, app.id, STUDYING))
    if progress != COMPLETED:
        moves.append(button(t.plain("outcomes-btn-completed"), Out.progress, app.id, COMPLETED))
    if progress != DROPPED:
        moves.append(button(t.plain("outcomes-btn-dropped"), Out.drop, app.id))
    rows.append(moves[:2])
    if moves[2:]:
        rows.append(moves[2:])
    if progress == COMPLETED:
        if cert:
            rows.append([button(t.plain("outcomes-btn-cert-resend"), Out.cert_resend, app.id)])
        rows.append(
            [
                button(t.plain("outcomes-btn-cert-make"), Out.cert_make, app.id),
                button(t.plain("outcomes-btn-cert-attach"), Out.cert_attach, app.id),
            ]
        )
    back = [home_button(t)]
    if app.group_id:
        back.insert(0, button(t.plain("btn-back"), Out.group, app.group_id))
    rows.append(back)
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


async def absence_flag(
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    group_id: int,
    user_id: int,
    now: datetime,
) -> tuple[str, InlineKeyboardMarkup] | None:
    """The flag when a mark has just made a trainee's absences in a row reach
    ``ABSENCE_STREAK``: who, how to reach them, and one tap to mark them dropped out."""
    trainees = await repo.outcomes.trainees(group_id, now)
    tr = next((x for x in trainees if x.user_id == user_id), None)
    if tr is None or tr.progress == DROPPED or tr.missed_in_a_row != settings.absence_streak:
        return None
    text = t(
        "outcomes-absence-flag",
        name=tr.full_name,
        count=tr.missed_in_a_row,
        user_id=tr.user_id,
        phone=tr.phone,
    )
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                button(t.plain("outcomes-btn-card"), Out.trainee, tr.application_id),
                button(t.plain("outcomes-btn-dropped"), Out.drop, tr.application_id),
            ]
        ]
    )
    return text, markup
