"""The programme report a funder asks for: how many applied, were accepted, started,
completed, dropped out (and why), were certified, and found work 3 and 6 months later,
overall and by course, group, district and the answers to choice questions.

Pure: ``build_report`` counts raw rows (``db.repo.outcomes.report_rows``);
``report_tables`` and ``report_text`` lay it out with labels the caller translates.
Counts are per application (a person in two courses counts in each).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import Any

from bot.services.export import Cell, Table
from bot.services.outcomes.answers import values_of
from db.dto_outcomes import (
    COMPLETED,
    DROPOUT_REASONS,
    DROPPED,
    EMPLOYED,
    FOLLOW_UP_OUTCOMES,
    QuestionDTO,
    ReportRow,
)

REPORT_WAVES = (3, 6)  # months after completion the report states employment for
MONTH = timedelta(days=30)


@dataclass(slots=True)
class Funnel:
    applied: int = 0
    accepted: int = 0
    started: int = 0
    completed: int = 0
    dropped: int = 0
    certified: int = 0
    # wave → graduates asked (the wave is due), answered, employed among the answers
    asked: dict[int, int] = field(default_factory=dict)
    answered: dict[int, int] = field(default_factory=dict)
    employed: dict[int, int] = field(default_factory=dict)

    def add(self, row: ReportRow, now: datetime, waves: Sequence[int]) -> None:
        self.applied += 1
        if row.status == "accepted":
            self.accepted += 1
        if row.started:
            self.started += 1
        if row.progress == DROPPED:
            self.dropped += 1
        if row.certified:
            self.certified += 1
        if row.progress != COMPLETED:
            return
        self.completed += 1
        for wave in waves:
            due = row.progress_at is not None and row.progress_at + wave * MONTH <= now
            answer = row.follow_ups.get(wave)
            if not due and answer is None:
                continue
            self.asked[wave] = self.asked.get(wave, 0) + 1
            if answer is not None:
                self.answered[wave] = self.answered.get(wave, 0) + 1
                if answer in EMPLOYED:
                    self.employed[wave] = self.employed.get(wave, 0) + 1


@dataclass(slots=True)
class ProgrammeReport:
    since: datetime | None
    until: datetime
    waves: tuple[int, ...]
    total: Funnel = field(default_factory=Funnel)
    dropout_reasons: dict[str, int] = field(default_factory=dict)
    by_centre: dict[int, Funnel] = field(default_factory=dict)
    by_course: dict[int, Funnel] = field(default_factory=dict)
    by_group: dict[int | None, Funnel] = field(default_factory=dict)
    by_district: dict[int | None, Funnel] = field(default_factory=dict)
    # question id → option code ("" : not answered) → funnel
    by_answer: dict[int, dict[str, Funnel]] = field(default_factory=dict)
    # wave → outcome → answers
    follow_up_outcomes: dict[int, dict[str, int]] = field(default_factory=dict)


def build_report(
    rows: Iterable[ReportRow],
    questions: Sequence[QuestionDTO],
    *,
    since: datetime | None,
    until: datetime,
    now: datetime,
    waves: Sequence[int] = REPORT_WAVES,
) -> ProgrammeReport:
    report = ProgrammeReport(since, until, tuple(waves))
    choice = [q for q in questions if q.is_choice]
    for q in choice:
        report.by_answer[q.id] = {}
    for row in rows:
        parts = [
            report.total,
            report.by_centre.setdefault(row.centre_id, Funnel()),
            report.by_course.setdefault(row.course_id, Funnel()),
            report.by_group.setdefault(row.group_id, Funnel()),
            report.by_district.setdefault(row.district_id, Funnel()),
        ]
        for q in choice:
            if q.id not in row.answers:
                continue  # the question was not asked of this application
            codes = values_of(q, row.answers[q.id]) or [""]
            for code in codes:
                parts.append(report.by_answer[q.id].setdefault(code, Funnel()))
        for part in parts:
            part.add(row, now, waves)
        if row.progress == DROPPED:
            reason = row.dropout_reason or "other"
            report.dropout_reasons[reason] = report.dropout_reasons.get(reason, 0) + 1
        for wave, outcome in row.follow_ups.items():
            if outcome is not None:
                counts = report.follow_up_outcomes.setdefault(wave, {})
                counts[outcome] = counts.get(outcome, 0) + 1
    return report


# ---- layout ---------------------------------------------------------------------------

Label = Callable[..., str]  # t.plain: a translation key (and parameters) → text


def pct(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "—"


def funnel_headers(label: Label, waves: Sequence[int]) -> list[str]:
    heads = [
        label("report-col-applied"),
        label("report-col-accepted"),
        label("report-col-started"),
        label("report-col-completed"),
        label("report-col-dropped"),
        label("report-col-certified"),
    ]
    for wave in waves:
        heads += [
            label("report-col-answered", months=wave),
            label("report-col-employed", months=wave),
        ]
    return heads


def funnel_cells(f: Funnel, waves: Sequence[int]) -> list[Cell]:
    cells: list[Cell] = [f.applied, f.accepted, f.started, f.completed, f.dropped, f.certified]
    for wave in waves:
        cells += [f.answered.get(wave, 0), f.employed.get(wave, 0)]
    return cells


def _table(
    title: str,
    first: str,
    items: Iterable[tuple[str, Funnel]],
    label: Label,
    waves: Sequence[int],
) -> Table:
    rows = [[name, *funnel_cells(f, waves)] for name, f in items]
    return Table(title, [first, *funnel_headers(label, waves)], rows)


def report_tables(
    report: ProgrammeReport,
    label: Label,
    names: Mapping[str, Mapping[Any, str]],
    questions: Sequence[QuestionDTO],
    pick: Callable[[Mapping[str, str]], str],
) -> list[Table]:
    """One table per sheet. ``names``: "centre" / "course" / "group" / "district" → id →
    name (None keys: not given); ``pick`` chooses a catalogue text in the staff's language."""
    w = report.waves
    total = report.total
    summary_rows: list[list[Cell]] = [
        [label("report-col-applied"), total.applied, ""],
        [label("report-col-accepted"), total.accepted, pct(total.accepted, total.applied)],
        [label("report-col-started"), total.started, pct(total.started, total.accepted)],
        [label("report-col-completed"), total.completed, pct(total.completed, total.started)],
        [label("report-col-dropped"), total.dropped, pct(total.dropped, total.started)],
        [label("report-col-certified"), total.certified, pct(total.certified, total.completed)],
    ]
    for wave in w:
        asked, answered = total.asked.get(wave, 0), total.answered.get(wave, 0)
        employed = total.employed.get(wave, 0)
        summary_rows += [
            [label("report-row-asked", months=wave), asked, ""],
            [label("report-row-answered", months=wave), answered, pct(answered, asked)],
            [label("report-row-employed", months=wave), employed, pct(employed, answered)],
        ]
    tables = [
        Table(
            label("report-sheet-summary"),
            [label("report-col-measure"), label("report-col-count"), label("report-col-share")],
            summary_rows,
        ),
        Table(
            label("report-sheet-dropouts"),
            [label("report-col-reason"), label("report-col-count")],
            [
                [label("dropout-reason-" + r), report.dropout_reasons[r]]
                for r in DROPOUT_REASONS
                if report.dropout_reasons.get(r)
            ],
        ),
    ]
    not_given = label("report-not-given")

    def named(kind: str, table: Mapping[Any, Funnel]) -> list[tuple[str, Funnel]]:
        lookup = names.get(kind, {})
        items = [
            (lookup.get(key, not_given) if key is not None else not_given, f)
            for key, f in table.items()
        ]
        return sorted(items, key=lambda kv: (-kv[1].applied, kv[0]))

    for kind, title, dim in (
        ("centre", "report-sheet-centres", report.by_centre),
        ("course", "report-sheet-courses", report.by_course),
        ("group", "report-sheet-groups", report.by_group),
        ("district", "report-sheet-districts", report.by_district),
    ):
        tables.append(_table(label(title), label(title), named(kind, dim), label, w))
    # A sheet per choice question answered in the report's applications (gender, when a
    # programme collects it, is one of them): a question no one here was asked has none.
    for q in questions:
        options = report.by_answer.get(q.id)
        if not options:
            continue
        items = [(pick(o.text), options[o.code]) for o in q.options if o.code in options]
        if "" in options:
            items.append((not_given, options[""]))
        tables.append(_table(pick(q.text)[:31], pick(q.text), items, label, w))
    outcome_rows: list[list[Cell]] = []
    for wave in sorted(report.follow_up_outcomes):
        counts = report.follow_up_outcomes[wave]
        for outcome in FOLLOW_UP_OUTCOMES:
            outcome_rows.append(
                [wave, label("followup-outcome-" + outcome), counts.get(outcome, 0)]
            )
    tables.append(
        Table(
            label("report-sheet-followups"),
            [label("report-col-months"), label("report-col-outcome"), label("report-col-count")],
            outcome_rows,
        )
    )
    return tables


BAR_WIDTH = 10


def bar(part: int, whole: int, width: int = BAR_WIDTH) -> str:
    """A bar of block characters that reads on any phone: ``▓▓▓▓░░░░░░``."""
    filled = round(width * part / whole) if whole else 0
    return "▓" * filled + "░" * (width - filled)


def report_text(
    report: ProgrammeReport,
    label: Label,
    course_names: Mapping[Any, str],
    period: str,
    scope: str,
    plain: Label | None = None,
) -> str:
    """The report as a short HTML message (the XLSX has every table). ``label`` gives
    HTML with its parameters escaped (``t``), ``plain`` plain text (``t.plain``) for the
    pieces that become parameters themselves."""
    plain = plain or label
    t = report.total
    lines = [
        label("report-text-head", period=period, scope=scope),
        label(
            "report-text-funnel",
            applied=t.applied,
            accepted=t.accepted,
            started=t.started,
            completed=t.completed,
            dropped=t.dropped,
            certified=t.certified,
        ),
    ]
    for key, value in (
        ("report-col-applied", t.applied),
        ("report-col-accepted", t.accepted),
        ("report-col-started", t.started),
        ("report-col-completed", t.completed),
        ("report-col-certified", t.certified),
    ):
        lines.append(f"<code>{bar(value, t.applied)}</code> {value} {escape(plain(key))}")
    if report.dropout_reasons:
        reasons = "; ".join(
            f"{plain('dropout-reason-' + r)} {report.dropout_reasons[r]}"
            for r in DROPOUT_REASONS
            if report.dropout_reasons.get(r)
        )
        lines.append(label("report-text-dropouts", items=reasons))
    for wave in report.waves:
        asked, answered = t.asked.get(wave, 0), t.answered.get(wave, 0)
        employed = t.employed.get(wave, 0)
        lines.append(
            label(
                "report-text-employed",
                months=wave,
                employed=employed,
                answered=answered,
                share=pct(employed, answered),
                asked=asked,
                rate=pct(answered, asked),
            )
        )
    top = sorted(report.by_course.items(), key=lambda kv: -kv[1].applied)[:8]
    for course_id, f in top:
        lines.append(
            label(
                "report-text-course",
                course=course_names.get(course_id, "—"),
                applied=f.applied,
                completed=f.completed,
                certified=f.certified,
            )
        )
    return "\n".join(lines)


def answer_breakdown(
    questions: Sequence[QuestionDTO],
    counts: Mapping[int, Mapping[str, int]],
    pick: Callable[[Mapping[str, str]], str],
) -> list[tuple[str, list[tuple[str, int]]]]:
    """Choice questions with their options' counts (a multiple choice counts each option
    chosen), most chosen first; questions nobody answered are left out."""
    out = []
    for q in questions:
        if not q.is_choice or not counts.get(q.id):
            continue
        tally: dict[str, int] = {}
        for value, n in counts[q.id].items():
            for code in values_of(q, value):
                tally[code] = tally.get(code, 0) + n
        options = [(pick(o.text), tally[o.code]) for o in q.options if tally.get(o.code)]
        options.sort(key=lambda kv: -kv[1])
        out.append((pick(q.text), options))
    return out
