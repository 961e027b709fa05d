"""The statistics chart: one PNG a coordinator can forward to management as it is.

Pure: the caller passes every label already translated. Rendering uses matplotlib's
object API with the Agg canvas (no pyplot, no global state), so it is safe to run in a
worker thread: ``await asyncio.to_thread(render_chart, data)``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

PERIODS = (7, 30, 90, 0)  # days; 0 is all time
LABEL_MAX = 32
# Bars a panel shows at most; the bottom row grows with the groups, so every group of an
# ordinary programme is on the chart. Beyond these, the panel's title says how many are
# left out (the caller passes that title, see ``seats_left_out``).
COURSES_SHOWN = 12
SEATS_SHOWN = 48
SEATS_PER_ROW = 16  # groups that fit the bottom row at its usual height
STATUS_COLORS = {
    "pending": "#f0ad4e",
    "accepted": "#5cb85c",
    "waitlisted": "#5bc0de",
    "rejected": "#d9534f",
    "cancelled": "#9e9e9e",
}
STATUS_ORDER = ("pending", "accepted", "waitlisted", "rejected", "cancelled")


def period_bounds(days: int, now: datetime | None = None) -> tuple[datetime | None, datetime]:
    """[since, until) for the last ``days`` days (``since`` None: all time)."""
    until = now or datetime.now(UTC)
    return (until - timedelta(days=days) if days > 0 else None), until


def percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def short(label: str, limit: int = LABEL_MAX) -> str:
    label = " ".join(label.split())
    return label if len(label) <= limit else label[: limit - 1] + "…"


def top(items: Sequence[tuple[str, int]], n: int, other: str) -> list[tuple[str, int]]:
    """The ``n`` largest items, the rest summed up as ``other``."""
    ranked = sorted(items, key=lambda kv: -kv[1])
    head = list(ranked[:n])
    rest = sum(v for _, v in ranked[n:])
    if rest:
        head.append((other, rest))
    return head


@dataclass(frozen=True, slots=True)
class SeatsBar:
    label: str
    capacity: int
    taken: int


def seats_order(seats: Sequence[SeatsBar]) -> list[SeatsBar]:
    """The fullest groups first; groups nobody has joined yet last (never dropped)."""
    return sorted(seats, key=lambda s: (-s.taken, -s.capacity))


def seats_left_out(seats: Sequence[SeatsBar]) -> int:
    """How many groups the seats panel cannot show (0 for up to SEATS_SHOWN groups)."""
    return max(0, len(seats) - SEATS_SHOWN)


def courses_shown(
    courses: Sequence[tuple[str, dict[str, int]]],
) -> list[tuple[str, dict[str, int]]]:
    """The courses the courses panel shows: those with applications, at most COURSES_SHOWN."""
    return [c for c in courses if sum(c[1].values())][:COURSES_SHOWN]


def courses_left_out(courses: Sequence[tuple[str, dict[str, int]]]) -> int:
    return max(0, len([c for c in courses if sum(c[1].values())]) - COURSES_SHOWN)


@dataclass(frozen=True, slots=True)
class ChartData:
    """Everything the chart shows, with its labels in the reader's language."""

    title: str
    subtitle: str
    funnel_title: str
    funnel: Sequence[tuple[str, int]]
    status_title: str
    statuses: Sequence[tuple[str, str, int]]  # (status, label, count)
    courses_title: str
    courses: Sequence[tuple[str, dict[str, int]]]  # (course, status -> count)
    districts_title: str
    districts: Sequence[tuple[str, int]]
    sources_title: str
    sources: Sequence[tuple[str, int]]
    seats_title: str
    seats: Sequence[SeatsBar]
    status_labels: dict[str, str] = field(default_factory=dict)
    empty: str = "—"


def _empty(ax: Any, title: str, empty: str) -> None:
    ax.set_title(title, fontsize=11, loc="left", fontweight="bold")
    ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes, color="#777")
    ax.set_axis_off()


def _frame(ax: Any, title: str, labels: Sequence[str], top_value: int, fontsize: int = 9) -> None:
    """Title, one tick per bar (by position, so equal labels stay apart), whole numbers."""
    from matplotlib.ticker import MaxNLocator

    ax.set_title(title, fontsize=11, loc="left", fontweight="bold")
    ax.set_yticks(range(len(labels)), labels, fontsize=fontsize)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.set_xlim(0, top_value * 1.22 + 1)
    ax.invert_yaxis()  # the first item on top
    ax.spines[["top", "right"]].set_visible(False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _bars(
    ax: Any,
    items: Sequence[tuple[str, int]],
    title: str,
    colors: str | Sequence[str],
    empty: str,
) -> None:
    if not items or not any(v for _, v in items):
        _empty(ax, title, empty)
        return
    values = [v for _, v in items]
    bars = ax.barh(range(len(items)), values, color=colors, height=0.6)
    ax.bar_label(bars, padding=3, fontsize=9)
    _frame(ax, title, [short(k) for k, _ in items], max(values))


def render_chart(data: ChartData) -> bytes:
    """A PNG with six panels: funnel, statuses, courses, districts, sources, seats."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    seats = seats_order(data.seats)[:SEATS_SHOWN]
    bottom = max(1.0, len(seats) / SEATS_PER_ROW)  # the bottom row grows with the groups
    figure = Figure(figsize=(13, 14 * (2 + bottom) / 3), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(f"{data.title}\n{data.subtitle}", fontsize=15, fontweight="bold")
    axes = figure.subplots(3, 2, gridspec_kw={"height_ratios": [1, 1, bottom]})

    # 1. The sign-up funnel, with each step's share of the first.
    funnel = list(data.funnel)
    first = funnel[0][1] if funnel else 0
    labelled = [(f"{k} ({percent(v, first)}%)" if first else k, v) for k, v in funnel]
    _bars(axes[0][0], labelled, data.funnel_title, "#337ab7", data.empty)

    # 2. Applications by status, in each status's colour.
    statuses = [s for s in data.statuses if s[2]]
    _bars(
        axes[0][1],
        [(label, n) for _, label, n in statuses],
        data.status_title,
        [STATUS_COLORS.get(code, "#777") for code, _, _ in statuses],
        data.empty,
    )

    # 3. Applications by course, stacked by status.
    ax = axes[1][0]
    courses = courses_shown(data.courses)
    if courses:
        rows = range(len(courses))
        left = [0] * len(courses)
        for status in STATUS_ORDER:
            values = [counts.get(status, 0) for _, counts in courses]
            if not any(values):
                continue
            ax.barh(
                rows,
                values,
                left=left,
                height=0.6,
                color=STATUS_COLORS[status],
                label=data.status_labels.get(status, status),
            )
            left = [a + b for a, b in zip(left, values, strict=True)]
        for y, total in enumerate(left):
            ax.text(total, y, f" {total}", va="center", fontsize=9)
        _frame(ax, data.courses_title, [short(name) for name, _ in courses], max(left))
        ax.legend(fontsize=8, loc="lower right")
    else:
        _empty(ax, data.courses_title, data.empty)

    # 4, 5. Districts and sources.
    _bars(axes[1][1], data.districts, data.districts_title, "#8e6bbf", data.empty)
    _bars(axes[2][0], data.sources, data.sources_title, "#20a39e", data.empty)

    # 6. Seats filled per group (the fullest first): capacity behind, seats taken in front.
    ax = axes[2][1]
    if seats:
        rows = range(len(seats))
        ax.barh(rows, [s.capacity for s in seats], height=0.6, color="#e6e6e6")
        ax.barh(rows, [s.taken for s in seats], height=0.6, color="#5cb85c")
        for y, bar in enumerate(seats):
            ax.text(bar.capacity, y, f" {bar.taken}/{bar.capacity}", va="center", fontsize=8)
        _frame(
            ax,
            data.seats_title,
            [short(s.label, 60) for s in seats],
            max(s.capacity for s in seats),
            fontsize=7,
        )
    else:
        _empty(ax, data.seats_title, data.empty)

    out = io.BytesIO()
    figure.savefig(out, format="png", facecolor="white")
    return out.getvalue()
