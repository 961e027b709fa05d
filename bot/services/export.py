"""Tables to files staff open in Excel: XLSX (openpyxl) and CSV.

The CSV is UTF-8 with a byte-order mark and ``;`` between fields: that is what Excel
expects in the Russian and Kazakh locales (their list separator is ``;``), and the BOM
makes it read Cyrillic correctly. Text that Excel would run as a formula (``=``, ``@``,
or ``+``/``-`` that is not a number) is written with a leading apostrophe in the CSV and
always stored as text in the XLSX. Pure: no aiogram, no database.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

Cell = str | int | float | date | datetime | None

CSV_DELIMITER = ";"
_NUMBER_RE = re.compile(r"^[+-]?\d[\d ]*(?:[.,]\d+)?$")
_FORMULA_START = ("=", "@", "+", "-", "\t", "\r")
_SHEET_TITLE_BAD = re.compile(r"[\\/*?:\[\]]")


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Cell]]


def is_formula_like(value: str) -> bool:
    """Would a spreadsheet treat this text as a formula? (A phone like +7701… is a number.)"""
    return value.startswith(_FORMULA_START) and not _NUMBER_RE.match(value)


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if is_formula_like(text) else text


def to_csv(table: Table) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=CSV_DELIMITER, lineterminator="\r\n")
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow([_csv_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def _width(value: Cell) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    return len(str(value))


def to_xlsx(table: Table) -> bytes:
    return to_xlsx_book([table])


def to_xlsx_book(tables: Sequence[Table]) -> bytes:
    """One sheet per table, in order (sheet titles made unique and Excel-safe)."""
    from openpyxl import Workbook

    workbook = Workbook()
    used: set[str] = set()
    for index, table in enumerate(tables):
        sheet = workbook.active if index == 0 else workbook.create_sheet()
        title = _SHEET_TITLE_BAD.sub(" ", table.title)[:31].strip() or "Sheet"
        base, n = title, 2
        while title.lower() in used:
            suffix = f" ({n})"
            title, n = base[: 31 - len(suffix)] + suffix, n + 1
        used.add(title.lower())
        sheet.title = title
        _fill(sheet, table)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _fill(sheet: Any, table: Table) -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet.append(list(table.headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(h) for h in table.headers]
    for r, row in enumerate(table.rows, start=2):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c)
            if isinstance(value, str):
                cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
                cell.data_type = "s"  # never a formula, whatever the text starts with
            elif isinstance(value, datetime):
                # Excel has no time zones: the caller gives local time.
                cell.value = value.replace(tzinfo=None)
                cell.number_format = "yyyy-mm-dd hh:mm"
            else:
                cell.value = value
                if isinstance(value, date):
                    cell.number_format = "yyyy-mm-dd"
            if c <= len(widths):
                widths[c - 1] = max(widths[c - 1], _width(value))
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)
    sheet.freeze_panes = "A2"
    if table.headers:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.headers))}{len(table.rows) + 1}"
