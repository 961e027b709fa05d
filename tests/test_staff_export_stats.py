"""Export to XLSX and CSV (Excel-friendly, Cyrillic intact) and the statistics with their
chart, end to end; plus the pure services."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.i18n import pick_text
from bot.services.export import Table, is_formula_like, to_csv, to_xlsx
from bot.services.stats import (
    SEATS_SHOWN,
    ChartData,
    SeatsBar,
    period_bounds,
    render_chart,
    seats_left_out,
    seats_order,
    top,
)
from db.models import AuditLog, FunnelEvent
from sandbox.harness import ADMIN_ID, BotHarness
from tests.e2e import Chat, plain
from tests.test_staff_support import (
    NOW,
    applicant,
    first_course,
    h,
    open_menu,
    refused_requests,
    title,
)

__all__ = ["h"]
PNG = b"\x89PNG\r\n\x1a\n"


# ---- the pure services ----------------------------------------------------------------


def test_csv_is_excel_friendly_and_safe() -> None:
    table = Table(
        "Заявки",
        ["№", "ФИО", "Телефон", "Причина"],
        [
            (1, "Серікова Әйгерім", "+77011234567", '=HYPERLINK("http://x")'),
            (2, "Сатыбалдиева Гүлнур; Асан", "+996555123456", "-2+3"),
        ],
    )
    data = to_csv(table)
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM makes Excel read UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["№", "ФИО", "Телефон", "Причина"]
    assert rows[1] == ["1", "Серікова Әйгерім", "+77011234567", '\'=HYPERLINK("http://x")']
    assert rows[2] == ["2", "Сатыбалдиева Гүлнур; Асан", "+996555123456", "'-2+3"]
    assert not is_formula_like("+77011234567") and is_formula_like("@SUM(A1)")


def test_xlsx_keeps_text_as_text() -> None:
    table = Table(
        "Слушатели: 2026/27",
        ["№", "Дата", "ФИО"],
        [(1, datetime(2026, 12, 7, 10, 30), "=1+1"), (2, None, "Жаңыл Мырзабекова")],
    )
    sheet = load_workbook(io.BytesIO(to_xlsx(table))).active
    assert sheet.title == "Слушатели  2026 27"
    assert sheet["C2"].value == "=1+1" and sheet["C2"].data_type == "s"
    assert sheet["B2"].value == datetime(2026, 12, 7, 10, 30)
    assert sheet["C3"].value == "Жаңыл Мырзабекова"
    assert sheet.freeze_panes == "A2"


def test_chart_renders_a_png_and_helpers() -> None:
    assert top([("a", 1), ("b", 5), ("c", 3)], 2, "other") == [("b", 5), ("c", 3), ("other", 1)]
    since, until = period_bounds(7, NOW)
    assert (since, until) == (NOW - timedelta(days=7), NOW)
    assert period_bounds(0, NOW) == (None, NOW)
    empty = ChartData(
        title="Т",
        subtitle="",
        funnel_title="",
        funnel=[],
        status_title="",
        statuses=[],
        courses_title="",
        courses=[],
        districts_title="",
        districts=[],
        sources_title="",
        sources=[],
        seats_title="",
        seats=[SeatsBar("Топ", 5, 0)],
    )
    assert render_chart(empty).startswith(PNG)


# ---- end to end ---------------------------------------------------------------------------


async def _applications(h: BotHarness) -> list[int]:
    course, _groups = await first_course(h)
    centre = await h.repo.catalogue.centre(course.centre_id)
    districts = await h.repo.catalogue.districts(centre.region_id)
    ids = []
    names = ["Серікова Әйгерім", "Жаңыл Мырзабекова", "=cmd|' /C calc'!A0", "Иванов Пётр"]
    for i, name in enumerate(names):
        _, app = await applicant(
            h,
            5600 + i,
            "ru",
            course.id,
            name=name,
            district_id=districts[i % 2].id,
            source="poster_taraz" if i % 2 else None,
            post=False,
        )
        ids.append(app.id)
    await h.repo.applications.decide(ids[0], actor_id=ADMIN_ID, action="accept")
    await h.repo.applications.decide(ids[1], actor_id=ADMIN_ID, action="accept")
    await h.repo.applications.decide(ids[3], actor_id=ADMIN_ID, action="reject", reason="Нет мест")
    return ids


async def test_export_xlsx_and_csv_with_cyrillic(h: BotHarness) -> None:
    admin = h.admin("kk")
    chat = Chat(h, admin, "kk")
    ids = await _applications(h)
    course, _ = await first_course(h)

    await open_menu(chat)
    await chat.press_key("staff-section-export")
    await chat.expect(chat.text("export-header")[:10])
    await chat.press_key("export-btn-xlsx")
    sent = await h.server.wait_for(lambda r: r.method == "sendDocument" and r.ok)
    assert sent.result.get("has_protected_content") is True  # names and phones
    document = sent.result["document"]
    assert document["file_name"].startswith("applications-") and document["file_name"].endswith(
        ".xlsx"
    )
    stored = h.server.file(document["file_id"])
    assert stored is not None
    sheet = load_workbook(io.BytesIO(stored.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "№" and rows[0][6] == chat.label("export-col-name")
    by_id = {row[0]: row for row in rows[1:]}
    assert set(by_id) == set(ids)
    assert by_id[ids[0]][6] == "Серікова Әйгерім"
    assert by_id[ids[0]][2] == chat.label("status-accepted")
    assert by_id[ids[0]][3] == title(course, "kk")
    assert by_id[ids[3]][11] == "Нет мест"
    assert by_id[ids[1]][9] == "poster_taraz"
    assert isinstance(by_id[ids[0]][1], datetime)  # a real date cell, local time
    formula = sheet.cell(row=[r[0] for r in rows].index(ids[2]) + 1, column=7)
    assert formula.data_type == "s"  # text from a user is never a formula

    # Trainees only, as CSV.
    await chat.press_key("export-btn-trainees")
    await chat.expect(chat.text("export-header")[:10])
    await chat.press_key("export-btn-csv")
    sent = await h.server.wait_for(
        lambda r: (
            r.method == "sendDocument"
            and r.ok
            and r.result["document"]["file_name"].endswith(".csv")
        )
    )
    document = sent.result["document"]
    assert document["file_name"].startswith("trainees-")
    data = h.server.file(document["file_id"]).data  # type: ignore[union-attr]
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert [r[6] for r in rows[1:]] == ["Жаңыл Мырзабекова", "Серікова Әйгерім"]
    assert rows[1][7].startswith("+7701")
    caption = plain(sent.params.get("caption", ""))
    assert plain(h.app.translator.plural("kk", "export-caption", 2, total=2)) in caption

    async with h.app.db.transaction() as s:
        exports = list(
            await s.scalars(select(AuditLog.after).where(AuditLog.action == "export.applications"))
        )
    assert [e["rows"] for e in exports if e] == [4, 2]
    assert refused_requests(h) == []


@pytest.fixture
async def live(tmp_path: Path, template_db: Path) -> AsyncIterator[BotHarness]:
    """The real clock: statistics count rows stamped with the time they were written."""
    async with BotHarness(tmp_path, template=template_db) as harness:
        yield harness


async def test_stats_text_and_chart(live: BotHarness) -> None:
    h = live
    admin = h.admin("ky")
    chat = Chat(h, admin, "ky")
    await _applications(h)
    async with h.app.db.transaction() as s:
        for uid in (5600, 5601, 5602, 5603, 5604, 5605):
            s.add(FunnelEvent(user_id=uid, kind="started", at=datetime.now(UTC)))
            s.add(FunnelEvent(user_id=uid, kind="started", at=datetime.now(UTC)))  # twice
        old = datetime.now(UTC) - timedelta(days=60)
        s.add(FunnelEvent(user_id=5999, kind="started", at=old))
    course, _groups = await first_course(h)

    await open_menu(chat)
    await chat.press_key("staff-section-stats")
    await chat.expect(chat.text("stats-choose-period"))
    label = h.app.translator.plural("ky", "stats-period-days", 30, html_=False)
    await chat.press(label)
    summary = await chat.expect(chat.text("stats-header", period=label, total=4))
    text = summary.content
    assert (
        chat.text(
            "stats-funnel",
            started=6,
            submitted=4,
            accepted=2,
            submitted_pct=67,
            accepted_pct=50,
        )
        in text
    )
    assert f"{pick_text(course.title, 'ky')} 4" in text
    assert "poster_taraz 2" in text
    seats = (await h.repo.stats.collect(None)).seats
    capacity = sum(s.capacity for s in seats)
    assert chat.text("stats-seats", taken=2, capacity=capacity, pct=round(200 / capacity)) in text

    sent = await h.server.wait_for(lambda r: r.method == "sendPhoto" and r.ok)
    # The press was answered before the slow part: counting, the summary, the chart.
    methods = [r.method for r in h.server.requests]
    last_answer = len(methods) - 1 - methods[::-1].index("answerCallbackQuery")
    last_edit = len(methods) - 1 - methods[::-1].index("editMessageText")
    assert last_answer < last_edit < methods.index("sendPhoto"), methods[-6:]
    photo = sent.result["photo"][-1]
    stored = h.server.file(photo["file_id"])
    assert stored is not None and stored.data.startswith(PNG)
    assert len(stored.data) > 20_000  # a real chart, not an empty canvas
    assert chat.label("stats-chart-title") in plain(sent.params.get("caption", ""))

    # All time counts the older funnel start too.
    await chat.press_key("stats-period-all")
    summary = await chat.expect(
        chat.text("stats-header", period=chat.label("stats-period-all"), total=4)
    )
    assert (
        chat.text(
            "stats-funnel", started=7, submitted=4, accepted=2, submitted_pct=57, accepted_pct=50
        )
        in summary.content
    )
    assert refused_requests(h) == []


def test_the_seats_panel_leaves_no_group_out_silently() -> None:
    """The demo's 18 groups all fit; beyond the panel's room the title says how many."""
    bars = [SeatsBar(f"Группа {i}", 10, i % 3) for i in range(18)]
    assert seats_left_out(bars) == 0
    many = [SeatsBar(f"Группа {i}", 10, 0) for i in range(SEATS_SHOWN + 5)]
    assert seats_left_out(many) == 5
    assert seats_order([SeatsBar("a", 5, 0), SeatsBar("b", 5, 3)])[0].label == "b"
    chart = ChartData(
        title="Т",
        subtitle="",
        funnel_title="",
        funnel=[],
        status_title="",
        statuses=[],
        courses_title="",
        courses=[],
        districts_title="",
        districts=[],
        sources_title="",
        sources=[],
        seats_title="",
        seats=many,
    )
    assert render_chart(chart).startswith(PNG)


async def test_stats_chart_shows_every_group(
    h: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QA: the chart dropped 2 of the demo's 18 groups (the two Digital literacy groups,
    nobody in them yet) without a word."""
    import handlers.staff.stats as stats_handler

    charts: list[ChartData] = []

    def spy(data: ChartData) -> bytes:
        charts.append(data)
        return render_chart(data)

    monkeypatch.setattr(stats_handler, "render_chart", spy)
    admin = h.admin("en")
    chat = Chat(h, admin, "en")
    groups = (await h.repo.stats.collect(None)).seats
    assert len(groups) == 18
    await open_menu(chat)
    await chat.press_key("staff-section-stats")
    await chat.press_key("stats-period-all")
    sent = await h.server.wait_for(lambda r: r.method == "sendPhoto" and r.ok)
    assert sent.ok and len(charts) == 1
    [chart] = charts
    assert len(chart.seats) == 18 and seats_left_out(chart.seats) == 0
    assert len(seats_order(chart.seats)[:SEATS_SHOWN]) == 18  # what the panel draws
    literacy = [s for s in chart.seats if "Digital literacy" in s.label]
    assert len(literacy) == 2
    assert chart.seats_title == chat.label("stats-chart-seats")  # nothing left out to say
    assert refused_requests(h) == []
