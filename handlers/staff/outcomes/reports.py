"""The programme report (a period, one centre or all) as text and XLSX, and the
attendance journal of a group for a month (XLSX)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiogram import Bot, F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.clock import Clock
from bot.filters import HasText
from bot.formatting import fmt_date
from bot.i18n import BoundTranslator
from bot.routing import FeatureRouter
from bot.services.export import to_xlsx_book
from bot.services.outcomes.answers import parse_range
from bot.services.outcomes.journal import journal_table, month_bounds
from bot.services.outcomes.report import build_report, report_tables, report_text
from bot.telegram_utils import show, split_text
from db.dto import StaffScope
from db.repo import Repos
from db.repo.outcomes import report_rows
from handlers.staff.common import home_button, stale
from handlers.staff.outcomes.base import Out, OutCB, OutcomeForm, button, group_or_stale
from handlers.staff.scope import centres_in_scope

router = FeatureRouter(__name__)
REPORT_PERIODS = (30, 90, 365, 0)  # days; 0: all time
MONTHS_SHOWN = 4


def _period_label(t: BoundTranslator, days: int) -> str:
    return t.n_plain("stats-period-days", days) if days else t.plain("stats-period-all")


async def report_menu(
    t: BoundTranslator, repo: Repos, scope: StaffScope, centre_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    rows = [
        [
            button(_period_label(t, d), Out.report_period, centre_id, str(d))
            for d in REPORT_PERIODS[:2]
        ],
        [
            button(_period_label(t, d), Out.report_period, centre_id, str(d))
            for d in REPORT_PERIODS[2:]
        ],
        [button(t.plain("outcomes-btn-range"), Out.report_range, centre_id)],
    ]
    choices = [(0, t.plain("outcomes-all-centres"))] if scope.is_admin else []
    choices += [(c.id, t.pick(c.city)) for c in await centres_in_scope(repo, scope)]
    rows.append(
        [
            button(("● " if cid == centre_id else "") + label, Out.report, cid)
            for cid, label in choices[:4]
        ]
    )
    if len(choices) > 4:
        rows.append(
            [
                button(("● " if cid == centre_id else "") + label, Out.report, cid)
                for cid, label in choices[4:8]
            ]
        )
    rows.append([button(t.plain("btn-back"), Out.section), home_button(t)])
    scope_name = await _scope_name(t, repo, centre_id)
    return t("outcomes-report-menu", scope=scope_name), InlineKeyboardMarkup(inline_keyboard=rows)


async def _scope_name(t: BoundTranslator, repo: Repos, centre_id: int) -> str:
    if not centre_id:
        return t.plain("outcomes-all-centres")
    centre = await repo.catalogue.centre(centre_id)
    return t.pick(centre.name) if centre else "—"


def report_centres(scope: StaffScope, centre_id: int) -> tuple[bool, frozenset[int] | None]:
    """Whether this staff member may have the report of ``centre_id`` (0: all of their
    centres), and the centres it counts (None: every centre, for a programme admin)."""
    if centre_id:
        return scope.allows(centre_id), frozenset({centre_id})
    return True, scope.centre_ids


@router.callback_query(OutCB.filter(F.action == Out.report))
async def on_report(
    callback: CallbackQuery,
    callback_data: OutCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    centre_id = callback_data.id
    if centre_id == 0 and not scope.is_admin:
        # "All centres" is an admin's choice; centre staff start on their first centre.
        centre_id = min(scope.centres, default=-1)
    if centre_id < 0 or not report_centres(scope, centre_id)[0]:
        stale(t, callback_answer)
        return
    await state.clear()
    await show(callback, *await report_menu(t, repo, scope, centre_id))


async def send_report(
    message: Message,
    bot: Bot,
    t: BoundTranslator,
    repo: Repos,
    centres: frozenset[int] | None,
    centre_id: int,
    since: datetime | None,
    until: datetime,
    now: datetime,
    period: str,
) -> None:
    rows = await report_rows(repo.db, since, until, now, centres)
    questions = await repo.outcomes.questions()
    report = build_report(rows, questions, since=since, until=until, now=now)
    names: dict[str, dict[Any, str]] = {"centre": {}, "course": {}, "group": {}, "district": {}}
    for c in await repo.catalogue.centres():
        names["centre"][c.id] = t.pick(c.name)
    for k in await repo.catalogue.courses():
        names["course"][k.id] = t.pick(k.title)
        for g in await repo.catalogue.groups(k.id):
            names["group"][g.id] = f"{t.pick(k.title)} · {t.pick(g.name)}"
    for district_id in report.by_district:
        if district_id is not None:
            d = await repo.catalogue.district(district_id)
            names["district"][district_id] = t.pick(d.name) if d else "—"
    scope_name = await _scope_name(t, repo, centre_id)
    text = report_text(report, t, names["course"], period, scope_name, t.plain)
    tables = report_tables(report, t.plain, names, questions, t.pick)
    data = await asyncio.to_thread(to_xlsx_book, tables)
    for chunk in split_text(text):
        await message.answer(chunk)
    stamp = now.strftime("%Y%m%d")
    await bot.send_document(
        message.chat.id,
        BufferedInputFile(data, filename=f"programme-report-{stamp}.xlsx"),
        caption=t("outcomes-report-caption", period=period, scope=scope_name),
    )


@router.callback_query(OutCB.filter(F.action == Out.report_period))
async def on_report_period(
    callback: CallbackQuery,
    callback_data: OutCB,
    t: BoundTranslator,
    repo: Repos,
    bot: Bot,
    clock: Clock,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    allowed, centres = report_centres(scope, callback_data.id)
    days = int(callback_data.arg) if callback_data.arg.isdigit() else -1
    if not allowed or days not in REPORT_PERIODS or not isinstance(callback.message, Message):
        stale(t, callback_answer)
        return
    now = clock.now()
    since = now - timedelta(days=days) if days else None
    callback_answer.text = t.plain("outcomes-report-building")
    await send_report(
        callback.message,
        bot,
        t,
        repo,
        centres,
        callback_data.id,
        since,
        now,
        now,
        _period_label(t, days),
    )


@router.callback_query(OutCB.filter(F.action == Out.report_range))
async def on_report_range(
    callback: CallbackQuery,
    callback_data: OutCB,
    state: FSMContext,
    t: BoundTranslator,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    if not report_centres(scope, callback_data.id)[0]:
        stale(t, callback_answer)
        return
    await state.set_state(OutcomeForm.report_range)
    await state.set_data({"centre": callback_data.id})
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[button(t.plain("btn-back"), Out.report, callback_data.id)]]
    )
    await show(callback, t("outcomes-range-ask"), markup)


@router.message(StateFilter(OutcomeForm.report_range), HasText())
async def got_range(
    message: Message,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    bot: Bot,
    clock: Clock,
    scope: StaffScope,
) -> None:
    days = parse_range(message.text or "")
    if days is None:
        await message.answer(t("outcomes-range-invalid"))
        return
    data = await state.get_data()
    centre_id = int(data.get("centre", 0))
    allowed, centres = report_centres(scope, centre_id)
    await state.clear()
    if not allowed:
        await message.answer(t("error-stale-button"))
        return
    first, last = days
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    until = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    period = f"{fmt_date(first, t.locale)} – {fmt_date(last, t.locale)}"
    await send_report(message, bot, t, repo, centres, centre_id, since, until, clock.now(), period)


# ---- the attendance journal ------------------------------------------------------------


@router.callback_query(OutCB.filter(F.action == Out.journal))
async def on_journal(
    callback: CallbackQuery,
    callback_data: OutCB,
    t: BoundTranslator,
    repo: Repos,
    bot: Bot,
    clock: Clock,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    context = await group_or_stale(t, repo, scope, callback_data.id, callback_answer)
    if context is None or not isinstance(callback.message, Message):
        return
    group, course, tz = context.group, context.course, context.centre.timezone
    if not callback_data.arg:
        # Which month: those the group has classes in, up to this one, latest first.
        sessions = await repo.catalogue.sessions([group.id], limit=1000)
        now = clock.now()
        months = sorted(
            {s.starts_at.astimezone(UTC).strftime("%Y%m") for s in sessions if s.starts_at <= now},
            reverse=True,
        )[:MONTHS_SHOWN]
        rows = [[button(f"{m[4:]}.{m[:4]}", Out.journal, group.id, m)] for m in months]
        rows.append([button(t.plain("btn-back"), Out.group, group.id), home_button(t)])
        text = t("outcomes-journal-month") if months else t("outcomes-journal-none")
        await show(callback, text, InlineKeyboardMarkup(inline_keyboard=rows))
        return
    arg = callback_data.arg
    if not re.fullmatch(r"20[0-9]{2}(0[1-9]|1[0-2])", arg):
        stale(t, callback_answer)
        return
    month = date(int(arg[:4]), int(arg[4:]), 1)
    start, end = month_bounds(month, tz)
    sessions_held, people = await repo.outcomes.journal(group.id, start, end)
    title = f"{t.pick(group.name)} {month:%m.%Y}"
    table = journal_table(
        title,
        t.plain("outcomes-journal-name"),
        t.plain("outcomes-journal-total"),
        sessions_held,
        people,
        tz,
        absent=t.plain("outcomes-journal-absent"),
    )
    data = await asyncio.to_thread(to_xlsx_book, [table])
    await bot.send_document(
        callback.message.chat.id,
        BufferedInputFile(data, filename=f"journal-{group.code}-{arg}.xlsx"),
        caption=t(
            "outcomes-journal-caption",
            course=t.pick(course.title),
            group=t.pick(group.name),
            month=f"{month:%m.%Y}",
        ),
    )
