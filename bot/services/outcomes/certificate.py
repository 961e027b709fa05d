"""A simple certificate as a one-page PDF (A4 landscape), drawn with matplotlib.

matplotlib is already a dependency (the statistics chart); its bundled DejaVu Sans covers
Cyrillic with the Kazakh and Kyrgyz letters (ә ғ қ ң ө ұ ү һ і), so no new dependency and
no system font is needed. Uses the object API with the Agg/PDF canvas (no pyplot, no global
state): safe in a worker thread, ``await asyncio.to_thread(render_certificate, data)``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CertificateText:
    """Every text already translated into the trainee's language."""

    heading: str  # "CERTIFICATE"
    awarded: str  # "is awarded to"
    name: str
    course: str  # "for completing the course «…»"
    details: str  # hours, dates
    centre: str
    number: str  # "No. TRZ-0001 · 12.03.2027"
    issuer: str


def render_certificate(text: CertificateText) -> bytes:
    from matplotlib.backends.backend_pdf import FigureCanvasPdf
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(11.69, 8.27))  # A4 landscape, inches
    FigureCanvasPdf(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    for inset, width in ((0.03, 3.0), (0.045, 1.0)):
        ax.add_patch(
            Rectangle(
                (inset, inset * 1.41),
                1 - 2 * inset,
                1 - 2 * inset * 1.41,
                fill=False,
                linewidth=width,
                edgecolor="#1f4e79",
            )
        )
    family = "DejaVu Sans"

    def line(y: float, value: str, size: float, *, bold: bool = False, color: str = "#222") -> None:
        ax.text(
            0.5,
            y,
            value,
            ha="center",
            va="center",
            fontsize=size,
            fontweight="bold" if bold else "normal",
            family=family,
            color=color,
            wrap=True,
        )

    line(0.84, text.centre, 16, color="#1f4e79")
    line(0.70, text.heading, 40, bold=True, color="#1f4e79")
    line(0.60, text.awarded, 16)
    line(0.50, text.name, 30, bold=True)
    line(0.40, text.course, 16)
    line(0.33, text.details, 13, color="#444")
    line(0.17, text.issuer, 13)
    line(0.12, text.number, 11, color="#666")
    out = io.BytesIO()
    fig.savefig(out, format="pdf")
    return out.getvalue()
