"""The programme report at national scale: 10,000 trainees across 20 centres.

    .venv/bin/python -m bench.report            # the README's run
    .venv/bin/python -m bench.report --quick    # 1,000 trainees, a smoke test

A SQLite file holds 20 centres × 2 courses × 2 groups, each group with 36 classes, and
10,000 applications: accepted trainees who studied, completed or dropped out (with a
reason), certificates, answers to two choice questions and follow-up answers at 1, 3 and
6 months. Timed, three times each (the best is printed): the report itself — the
database rows (``report_rows``), the counting (``build_report``), the tables and the
XLSX of one sheet per table — and, as the baseline measured in the same run, the staff
export's XLSX of the same 10,000 applications (one sheet, one row each), which staff
already wait for today.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bot.services.export import Table, to_xlsx, to_xlsx_book
from bot.services.outcomes.report import build_report, report_tables
from db.database import Database
from db.dto_outcomes import DROPOUT_REASONS, FOLLOW_UP_OUTCOMES
from db.models import (
    Answer,
    Application,
    Centre,
    Certificate,
    ClassSession,
    Course,
    District,
    FollowUp,
    Group,
    Question,
    Region,
    User,
)
from db.repo import Repos
from db.repo.outcomes import report_rows

NOW = datetime(2027, 12, 1, 6, 0, tzinfo=UTC)
CENTRES = 20


def loc(text: str) -> dict[str, str]:
    return dict.fromkeys(("kk", "ky", "ru", "en"), text)


async def seed(db: Database, trainees: int) -> None:
    rnd = random.Random(13)
    async with db.transaction() as s:
        s.add(Region(id=1, code="r", country="KZ", kind="region", name=loc("Region")))
        await s.flush()
        for d in range(1, 31):
            s.add(District(id=d, code=f"d{d}", region_id=1, name=loc(f"District {d}")))
        for q, options in ((1, ("referral", "unemployed", "student", "employed")), (2, ("y", "n"))):
            s.add(
                Question(
                    id=q,
                    code=f"q{q}",
                    kind="choice",
                    text=loc(f"Question {q}"),
                    options=[{"code": o, "text": loc(o)} for o in options],
                    required=True,
                )
            )
        await s.flush()
        group_ids: list[int] = []
        for c in range(1, CENTRES + 1):
            s.add(
                Centre(
                    id=c,
                    code=f"c{c}",
                    region_id=1,
                    name=loc(f"Centre {c}"),
                    city=loc("City"),
                    address=loc("Street"),
                    latitude=43.0,
                    longitude=71.0,
                    timezone="Asia/Almaty",
                )
            )
            await s.flush()
            for k in range(2):
                course_id = c * 10 + k
                s.add(
                    Course(
                        id=course_id,
                        code=f"k{course_id}",
                        centre_id=c,
                        title=loc("Course"),
                        description=loc("About"),
                        languages="kk,ru",
                        duration_weeks=12,
                        certificate={},
                        start_date=date(2027, 1, 11),
                    )
                )
                await s.flush()
                for g in range(2):
                    group_id = course_id * 10 + g
                    group_ids.append(group_id)
                    s.add(
                        Group(
                            id=group_id,
                            code=f"g{group_id}",
                            course_id=course_id,
                            name=loc("Group"),
                            capacity=1000,
                        )
                    )
        await s.flush()
        start = datetime(2027, 1, 11, 5, 0, tzinfo=UTC)
        await s.execute(
            insert(ClassSession),
            [
                {
                    "group_id": g,
                    "starts_at": start + timedelta(days=2 * n),
                    "ends_at": start + timedelta(days=2 * n, hours=2),
                    "cancelled": False,
                }
                for g in group_ids
                for n in range(36)
            ],
        )
        await s.execute(
            insert(User),
            [
                {"id": 10_000 + i, "locale": "ru", "is_active": True, "reminders_enabled": True}
                for i in range(trainees)
            ],
        )
        apps, answers, certs, follow = [], [], [], []
        for i in range(trainees):
            app_id = i + 1
            group_id = group_ids[i % len(group_ids)]
            course_id = group_id // 10
            roll = rnd.random()
            status = "accepted" if roll < 0.8 else ("rejected" if roll < 0.9 else "pending")
            progress = None
            reason = None
            if status == "accepted":
                progress = rnd.choices(["studying", "completed", "dropped"], [2, 6, 2])[0]
                reason = rnd.choice(DROPOUT_REASONS) if progress == "dropped" else None
            apps.append(
                {
                    "id": app_id,
                    "user_id": 10_000 + i,
                    "course_id": course_id,
                    "group_id": group_id,
                    "district_id": 1 + i % 30,
                    "full_name": f"T {i}",
                    "phone": "+77010000000",
                    "status": status,
                    "progress": progress,
                    "progress_at": NOW - timedelta(days=rnd.randint(10, 300)) if progress else None,
                    "dropout_reason": reason,
                    "consent_at": NOW,
                    "created_at": NOW - timedelta(days=rnd.randint(30, 360)),
                    "updated_at": NOW,
                }
            )
            answers.append(
                {
                    "application_id": app_id,
                    "question_id": 1,
                    "value": rnd.choice(("referral", "unemployed", "student", "employed")),
                }
            )
            answers.append(
                {"application_id": app_id, "question_id": 2, "value": rnd.choice(("y", "n"))}
            )
            if progress == "completed":
                if rnd.random() < 0.7:
                    certs.append(
                        {
                            "application_id": app_id,
                            "number": f"N-{app_id}",
                            "issued_on": date(2027, 5, 1),
                            "issuer": "ISDEL",
                            "created_at": NOW,
                        }
                    )
                for wave in (1, 3, 6):
                    if rnd.random() < 0.6:
                        follow.append(
                            {
                                "application_id": app_id,
                                "wave": wave,
                                "outcome": rnd.choice(FOLLOW_UP_OUTCOMES),
                                "answered_at": NOW,
                            }
                        )
        for rows, model in (
            (apps, Application),
            (answers, Answer),
            (certs, Certificate),
            (follow, FollowUp),
        ):
            for n in range(0, len(rows), 2000):
                await s.execute(insert(model), rows[n : n + 2000])


async def best_of(runs: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        began = time.perf_counter()
        result = await work()
        best = min(best, time.perf_counter() - began)
    return best, result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    trainees = 1_000 if args.quick else args.trainees
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}")
        await db.migrate()
        began = time.perf_counter()
        await seed(db, trainees)
        print(
            f"seeded {trainees:,} applications across {CENTRES} centres "
            f"in {time.perf_counter() - began:.1f} s"
        )
        repo = Repos.create(db)
        since = NOW - timedelta(days=365)

        async def report() -> tuple[bytes, int]:
            rows = await report_rows(db, since, NOW, NOW)
            questions = await repo.outcomes.questions()
            built = build_report(rows, questions, since=since, until=NOW, now=NOW)
            names: dict[str, dict[Any, str]] = {}
            tables = report_tables(built, lambda key, **p: key, names, questions, lambda m: m["en"])
            data = await asyncio.to_thread(to_xlsx_book, tables)
            return data, built.total.applied

        async def export() -> bytes:
            async with db.read() as s:
                rows = (
                    await s.execute(Application.__table__.select().order_by(Application.id))
                ).all()
            table = Table(
                "Applications",
                ["No.", "Name", "Phone", "Status", "Created"],
                [[r.id, r.full_name, r.phone, r.status, r.created_at] for r in rows],
            )
            return await asyncio.to_thread(to_xlsx, table)

        report_s, (data, applied) = await best_of(3, report)
        export_s, _ = await best_of(3, export)
        await db.dispose()
    print(
        f"programme report ({applied:,} applications in the year, {len(data) // 1024} KiB "
        f"XLSX): {report_s:.2f} s"
    )
    print(f"baseline, the staff export of the same applications (one-sheet XLSX): {export_s:.2f} s")
    print(f"report / export: {report_s / export_s:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
