"""Checks across the entries of one file, run after every entry parsed on its own."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.services.catalog.model import CatalogData
from bot.services.catalog.problems import (
    KIND_CENTRE,
    KIND_COURSE,
    KIND_DISTRICT,
    KIND_GROUP,
    KIND_QUESTION,
    KIND_REGION,
    Text,
    coded,
    say,
)
from bot.services.catalog.reader import FieldReader


def check_file(p: FieldReader, data: CatalogData) -> None:
    """Checks across entries: codes used twice, and two classes of a group at one time."""

    def unique(kind: Text, entries: Iterable[tuple[str, int]]) -> None:
        seen: dict[str, int] = {}
        for code, line in entries:
            if code in seen:
                p.err(line, (coded(kind, code),), say("catalog-err-code-used", number=seen[code]))
            else:
                seen[code] = line

    unique(KIND_REGION, ((r.code, r.line) for r in data.regions))
    unique(KIND_DISTRICT, ((d.code, d.line) for d in data.districts))
    unique(KIND_CENTRE, ((c.code, c.line) for c in data.centres))
    unique(KIND_COURSE, ((c.code, c.line) for c in data.courses))
    unique(KIND_GROUP, ((g.code, g.line) for g in data.groups))
    unique(KIND_QUESTION, ((q.code, q.line) for q in data.questions))

    # Two weekly rules that overlap clash on many days; say so once per pair of lines.
    clashes: dict[tuple[int, int], list[Text]] = {}
    codes: dict[str, int] = {}
    code_pairs: set[tuple[int, int]] = set()
    for s in data.sessions:
        if s.code is not None and s.code in codes:
            first = codes[s.code]
            code_pairs.add((s.line, first))
            clashes.setdefault((s.line, first), []).append(
                say("catalog-err-class-code-used", code=s.code, number=first)
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
                say(
                    "catalog-err-two-classes", group=g.code, at=f"{at:%Y-%m-%d %H:%M}", number=first
                )
            )
    for (line, _first), messages in clashes.items():
        more = (
            say("catalog-hint-more-like-it", count=len(messages) - 1) if len(messages) > 1 else None
        )
        p.err(line, (), messages[0].and_then(more))
