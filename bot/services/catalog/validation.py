"""Checks across the entries of one file, run after every entry parsed on its own."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.services.catalog.model import CatalogData
from bot.services.catalog.reader import FieldReader


def check_file(p: FieldReader, data: CatalogData) -> None:
    """Checks across entries: codes used twice, and two classes of a group at one time."""

    def unique(kind: str, entries: Iterable[tuple[str, int]]) -> None:
        seen: dict[str, int] = {}
        for code, line in entries:
            if code in seen:
                p.err(line, f"{kind} '{code}'", f"code is already used on line {seen[code]}")
            else:
                seen[code] = line

    unique("region", ((r.code, r.line) for r in data.regions))
    unique("district", ((d.code, d.line) for d in data.districts))
    unique("centre", ((c.code, c.line) for c in data.centres))
    unique("course", ((c.code, c.line) for c in data.courses))
    unique("group", ((g.code, g.line) for g in data.groups))
    unique("question", ((q.code, q.line) for q in data.questions))

    # Two weekly rules that overlap clash on many days; say so once per pair of lines.
    clashes: dict[tuple[int, int], list[str]] = {}
    codes: dict[str, int] = {}
    code_pairs: set[tuple[int, int]] = set()
    for s in data.sessions:
        if s.code is not None and s.code in codes:
            first = codes[s.code]
            code_pairs.add((s.line, first))
            clashes.setdefault((s.line, first), []).append(
                f"class code '{s.code}' is already used on line {first}"
            )
        elif s.code is not None:
            codes[s.code] = s.line
    for g in data.groups:
        starts: dict[datetime, int] = {}
        for s in g.sessions:
            at = s.local_start()
            if at not in starts:
                starts[at] = s.line
                continue
            first = starts[at]
            if (s.line, first) in code_pairs:
                continue
            clashes.setdefault((s.line, first), []).append(
                f"group '{g.code}' has two classes at {at:%Y-%m-%d %H:%M} (see line {first})"
            )
    for (line, _first), messages in clashes.items():
        more = f" — and {len(messages) - 1} more like it" if len(messages) > 1 else ""
        p.err(line, None, messages[0] + more)
