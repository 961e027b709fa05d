"""Statistics over a chosen period: a short text and a chart to forward as it is."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiogram import Bot, F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.clock import Clock
from bot.filters import HasText
from bot.formatting import fmt_date, status_label
from bot.i18n import BoundTranslator
from bot.keyboards import inline_rows
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.services.outcomes.answers import parse_range
from bot.services.outcomes.report import answer_breakdown
from bot.services.stats import (
    PERIODS,
    STATUS_ORDER,
    ChartData,
    SeatsBar,
    courses_left_out,
    percent,
    period_bounds,
    render_chart,
    seats_left_out,
    top,
)
from bot.staff_callbacks import StatsCB
from bot.staff_menu import StaffMenuCB, StaffSection
from bot.telegram_utils import answer_first, show, split_text
from db.dto import StaffScope, StatsDTO
from db.repo import Repos
from handlers.staff.common import (
    StaffChats,
    StaffTraffic,
    clip,
    course_names,
    home_button,
    stale,
)
from handlers.staff.outcomes.base import Out, OutCB, OutcomeForm, button

router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(), StaffChats())
router.callback_query.filter(StaffTraffic(), RoleFilter(), StaffChats())

TOP = 5
CHART_TOP = 8


def period_label(t: BoundTranslator, days: int) -> str:
    return t.n_plain("stats-period-days", days) if days else t.plain("stats-period-all")


def periods_markup(t: BoundTranslator) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(text=period_label(t, d), callback_data=StatsCB(days=d).pack())
        for d in PERIODS
    ]


async def _names(
    t: BoundTranslator, repo: Repos, stats: StatsDTO
) -> tuple[dict[int, str], dict[int | None, str], dict[int, str]]:
    courses = await course_names(t, repo)
    districts: dict[int | None, str] = {None: t.plain("stats-not-given")}
    for item in stats.by_district:
        if isinstance(item.key, int):
            district = await repo.catalogue.district(item.key)
            districts[item.key] = t.pick(district.name) if district else "—"
    groups = {s.group_id: t.pick(s.group_name) for s in stats.seats}
    return courses, districts, groups


def summary(
    t: BoundTranslator,
    stats: StatsDTO,
    days: int,
    courses: dict[int, str],
    districts: dict[int | None, str],
    period: str | None = None,
) -> str:
    """``period`` names a free date range (else the last ``days`` days)."""
    lines = [t("stats-header", period=period or period_label(t, days), total=stats.total)]
    statuses = [
        f"{status_label(t, s)}: {stats.by_status[s]}"
        for s in STATUS_ORDER
        if stats.by_status.get(s)
    ]
    if statuses:
        lines.append(t("stats-statuses", items=" · ".join(statuses)))
    lines.append(
        t(
            "stats-funnel",
            started=stats.started,
            submitted=stats.submitted,
            accepted=stats.accepted,
            submitted_pct=percent(stats.submitted, stats.started) if stats.started else "—",
            accepted_pct=percent(stats.accepted, stats.submitted) if stats.submitted else "—",
        )
    )
    by_course = top(
        [(courses.get(c, "—"), sum(v.values())) for c, v in stats.by_course.items()],
        TOP,
        t.plain("stats-other"),
    )
    if by_course:
        lines.append(
            t("stats-courses", items="; ".join(f"{clip(k, 40)} {v}" for k, v in by_course))
        )
    by_district = top(
        [
            (districts.get(d.key if isinstance(d.key, int) else None, "—"), d.count)
            for d in stats.by_district
        ],
        TOP,
        t.plain("stats-other"),
    )
    if by_district:
        lines.append(
            t("stats-districts", items="; ".join(f"{clip(k, 40)} {v}" for k, v in by_district))
        )
    by_source = top(
        [(str(s.key) if s.key else t.plain("stats-not-given"), s.count) for s in stats.by_source],
        TOP,
        t.plain("stats-other"),
    )
    if by_source:
        lines.append(
            t("stats-sources", items="; ".join(f"{clip(k, 40)} {v}" for k, v in by_source))
        )
    capacity = sum(s.capacity for s in stats.seats)
    taken = sum(s.seats_taken for s in stats.seats)
    lines.append(t("stats-seats", taken=taken, capacity=capacity, pct=percent(taken, capacity)))
    return split_text("\n".join(lines))[0]


def _left_out(t: BoundTranslator, title: str, note: str, count: int) -> str:
    """A panel's title, saying how many items it has no room for (never silently)."""
    text = t.plain(title)
    return f"{text}\n({t.plain(note, count=count)})" if count else text


def chart_data(
    t: BoundTranslator,
    stats: StatsDTO,
    days: int,
    courses: dict[int, str],
    districts: dict[int | None, str],
    groups: dict[int, str],
    period: str | None = None,
) -> ChartData:
    other = t.plain("stats-other")
    today = fmt_date(stats.until.date(), t.locale)
    course_bars = sorted(
        ((courses.get(c, "—"), v) for c, v in stats.by_course.items()),
        key=lambda kv: -sum(kv[1].values()),
    )
    seat_bars = [
        SeatsBar(
            f"{courses.get(s.course_id, '—')} · {groups.get(s.group_id, '—')}",
            s.capacity,
            s.seats_taken,
        )
        for s in stats.seats
    ]
    return ChartData(
        title=t.plain("stats-chart-title"),
        subtitle=t.plain(
            "stats-chart-subtitle",
            period=period or period_label(t, days),
            date=today,
            total=stats.total,
        ),
        funnel_title=t.plain("stats-chart-funnel"),
        funnel=[
            (t.plain("stats-funnel-started"), stats.started),
            (t.plain("stats-funnel-submitted"), stats.submitted),
            (t.plain("stats-funnel-accepted"), stats.accepted),
        ],
        status_title=t.plain("stats-chart-status"),
        statuses=[(s, t.plain("status-" + s), stats.by_status.get(s, 0)) for s in STATUS_ORDER],
        courses_title=_left_out(
            t, "stats-chart-courses", "stats-chart-courses-left-out", courses_left_out(course_bars)
        ),
        courses=course_bars,
        districts_title=t.plain("stats-chart-districts"),
        districts=top(
            [
                (districts.get(d.key if isinstance(d.key, int) else None, "—"), d.count)
                for d in stats.by_district
            ],
            CHART_TOP,
            other,
        ),
        sources_title=t.plain("stats-chart-sources"),
        sources=top(
            [
                (str(s.key) if s.key else t.plain("stats-not-given"), s.count)
                for s in stats.by_source
            ],
            CHART_TOP,
            other,
        ),
        seats_title=_left_out(
            t, "stats-chart-seats", "stats-chart-seats-left-out", seats_left_out(seat_bars)
        ),
        seats=seat_bars,
        status_labels={s: t.plain("status-" + s) for s in STATUS_ORDER},
        empty=t.plain("stats-chart-empty"),
    )


def range_button(t: BoundTranslator) -> InlineKeyboardButton:
    return button(t.plain("outcomes-btn-range"), Out.stats_range)


@router.callback_query(StaffMenuCB.filter(F.section == StaffSection.stats))
async def open_section(callback: CallbackQuery, t: BoundTranslator) -> None:
    markup = inline_rows(periods_markup(t), width=2)
    markup.inline_keyboard.append([range_button(t)])
    markup.inline_keyboard.append([home_button(t)])
    await show(callback, t("stats-choose-period"), markup)


@router.callback_query(StatsCB.filter())
async def on_period(
    callback: CallbackQuery,
    callback_data: StatsCB,
    t: BoundTranslator,
    repo: Repos,
    bot: Bot,
    callback_answer: CallbackAnswer,
    clock: Clock,
    scope: StaffScope,
) -> None:
    days = callback_data.days
    if days not in PERIODS or not isinstance(callback.message, Message):
        stale(t, callback_answer)
        return
    # Stop the spinner now: counting and drawing the chart take a second or more.
    await answer_first(callback, callback_answer)
    since, until = period_bounds(days, clock.now())
    await send_stats(
        callback.message, t, repo, bot, since, until, days, None, callback, scope=scope
    )


async def send_stats(
    message: Message,
    t: BoundTranslator,
    repo: Repos,
    bot: Bot,
    since: datetime | None,
    until: datetime,
    days: int,
    period: str | None,
    callback: CallbackQuery | None = None,
    *,
    scope: StaffScope,
) -> None:
    """The summary (in place of the pressed message, or as a new one) and the chart."""
    stats = await repo.stats.collect(since, until, centre_ids=scope.centre_ids)
    courses, districts, groups = await _names(t, repo, stats)
    markup = inline_rows(periods_markup(t), width=2)
    markup.inline_keyboard.append([range_button(t)])
    markup.inline_keyboard.append([home_button(t)])
    text = summary(t, stats, days, courses, districts, period)
    # The extra sign-up questions that are choices, as breakdowns.
    breakdown = answer_breakdown(
        await repo.outcomes.questions(), await repo.outcomes.answer_counts(since, until), t.pick
    )
    for question, options in breakdown:
        items = "; ".join(f"{clip(label, 40)} {n}" for label, n in options[:TOP])
        text += "\n" + t("stats-answers", question=clip(question, 60), items=items)
    if callback is not None:
        await show(callback, split_text(text)[0], markup)
    else:
        await message.answer(split_text(text)[0], reply_markup=markup)
    png = await asyncio.to_thread(
        render_chart, chart_data(t, stats, days, courses, districts, groups, period)
    )
    stamp = until.strftime("%Y%m%d")
    await bot.send_photo(
        message.chat.id,
        BufferedInputFile(png, filename=f"stats-{stamp}.png"),
        caption=t("stats-chart-caption", period=period or period_label(t, days), total=stats.total),
    )


@router.callback_query(OutCB.filter(F.action == Out.stats_range))
async def on_range(callback: CallbackQuery, state: FSMContext, t: BoundTranslator) -> None:
    await state.set_state(OutcomeForm.stats_range)
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t.plain("btn-back"),
                    callback_data=StaffMenuCB(section=StaffSection.stats).pack(),
                )
            ]
        ]
    )
    await show(callback, t("outcomes-range-ask"), markup)


@router.message(StateFilter(OutcomeForm.stats_range), HasText())
async def got_range(
    message: Message,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    bot: Bot,
    scope: StaffScope,
) -> None:
    days = parse_range(message.text or "")
    if days is None:
        await message.answer(t("outcomes-range-invalid"))
        return
    await state.clear()
    first, last = days
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    until = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    period = f"{fmt_date(first, t.locale)} – {fmt_date(last, t.locale)}"
    await send_stats(message, t, repo, bot, since, until, 0, period, scope=scope)
