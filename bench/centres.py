"""One centre's lists and exports next to the whole programme's, at scale.

    .venv/bin/python -m bench.centres            # 10,000 applications, 20 centres
    .venv/bin/python -m bench.centres --quick    # a smoke test (1,000 applications)

A SQLite database (migrated as in production) gets 20 centres × 5 courses × 2 groups and
10,000 applications from 10,000 people spread over them (statuses mixed, dates over 90
days). Each query a staff screen makes is timed (median of repeated runs) twice: for a
programme admin (no centre filter) and for the staff of one centre (the filter every
scoped screen adds), in the same run; the ratio scoped/unscoped is printed. The centre
filter is then timed again without the index that carries it
(``ix_applications_course_status``: a course's applications), and without the courses'
``ix_courses_centre`` too. An announcement's audience (count and recipients) is timed for
one centre by each announcement reach a programme admin may set (its applicants, plus
its region, everyone). Finally the per-update user load (the query that brings the
staff scope along) is timed for a citizen and for a staff member with three centres.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

CENTRES = 20
COURSES = 5
GROUPS = 2
STATUSES = ("pending",) * 4 + ("accepted",) * 3 + ("waitlisted", "rejected", "cancelled")
NAME = {"kk": "x", "ky": "x", "ru": "x", "en": "x"}
START = datetime(2026, 9, 1, tzinfo=UTC)


async def build(db: Any, applications: int) -> None:
    from db.models import Application, Centre, Course, Group, Region, Staff, StaffCentre, User

    rnd = random.Random(11)
    async with db.transaction() as s:
        await s.execute(
            insert(Region),
            [{"id": 1, "code": "r", "country": "KZ", "kind": "region", "name": NAME, "sort": 0}],
        )
        await s.execute(
            insert(Centre),
            [
                {
                    "id": c,
                    "code": f"c{c}",
                    "region_id": 1,
                    "name": NAME,
                    "city": NAME,
                    "address": NAME,
                    "latitude": 43.0,
                    "longitude": 76.0,
                    "timezone": "Asia/Almaty",
                    "sort": c,
                    "contacts": {},
                }
                for c in range(1, CENTRES + 1)
            ],
        )
        courses = [
            (c - 1) * COURSES + k for c in range(1, CENTRES + 1) for k in range(1, COURSES + 1)
        ]
        await s.execute(
            insert(Course),
            [
                {
                    "id": k,
                    "code": f"k{k}",
                    "centre_id": (k - 1) // COURSES + 1,
                    "title": NAME,
                    "description": NAME,
                    "languages": "ru",
                    "duration_weeks": 8,
                    "certificate": NAME,
                    "enrolment_open": True,
                    "free_of_charge": True,
                    "sort": 0,
                }
                for k in courses
            ],
        )
        await s.execute(
            insert(Group),
            [
                {
                    "id": (k - 1) * GROUPS + g,
                    "code": f"g{k}-{g}",
                    "course_id": k,
                    "name": NAME,
                    "capacity": 10_000,
                    "seats_taken": 0,
                }
                for k in courses
                for g in range(1, GROUPS + 1)
            ],
        )
        now = START
        await s.execute(
            insert(User),
            [
                {
                    "id": 1_000_000 + i,
                    "locale": "ru",
                    "first_name": f"P{i}",
                    "is_active": True,
                    "reminders_enabled": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(applications + 1)
            ],
        )
        rows = []
        for i in range(applications):
            k = rnd.choice(courses)
            status = rnd.choice(STATUSES)
            at = START + timedelta(minutes=rnd.randrange(90 * 24 * 60))
            rows.append(
                {
                    "id": i + 1,
                    "user_id": 1_000_000 + i,
                    "course_id": k,
                    "group_id": (k - 1) * GROUPS + 1 if status == "accepted" else None,
                    "full_name": f"Person {i}",
                    "phone": f"+7701{i:07d}",
                    "status": status,
                    "consent_at": at,
                    "waitlisted_at": at if status == "waitlisted" else None,
                    "created_at": at,
                    "updated_at": at,
                }
            )
        await s.execute(insert(Application), rows)
        staff_id = 1_000_000 + applications
        await s.execute(insert(Staff), [{"user_id": staff_id, "role": "staff", "added_at": now}])
        await s.execute(
            insert(StaffCentre),
            [
                {"user_id": staff_id, "centre_id": c, "role": "staff", "added_at": now}
                for c in (1, 2, 3)
            ],
        )


async def timed(run: Callable[[], Awaitable[Any]], repeat: int) -> float:
    """Median seconds of ``repeat`` runs, after one warm-up."""
    await run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def main(applications: int, repeat: int) -> None:
    from db.database import Database
    from db.repo import Repos
    from db.repo.applications import ApplicationFilter

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}")
        await db.migrate()
        started = time.perf_counter()
        await build(db, applications)
        async with db.transaction() as s:
            await s.execute(text("ANALYZE"))
        print(
            f"{applications:,} applications, {CENTRES} centres × {COURSES} courses × "
            f"{GROUPS} groups, built in {time.perf_counter() - started:.1f} s"
        )
        repo = Repos.create(db)
        one = frozenset({7})
        cases: list[tuple[str, ApplicationFilter, ApplicationFilter, int | None]] = [
            ("list page (newest 10)", ApplicationFilter(), ApplicationFilter(centre_ids=one), 10),
            (
                "pending, page of 10",
                ApplicationFilter(status="pending"),
                ApplicationFilter(status="pending", centre_ids=one),
                10,
            ),
            ("export (every row)", ApplicationFilter(), ApplicationFilter(centre_ids=one), None),
        ]

        def search(flt: ApplicationFilter, limit: int | None) -> Callable[[], Awaitable[Any]]:
            return lambda: repo.applications.search(flt, limit=limit)

        print(f"\n{'query':<24} {'all centres':>12} {'one centre':>12} {'ratio':>7}   rows")
        results = []
        for name, everyone, scoped, limit in cases:
            a = await timed(search(everyone, limit), repeat)
            b = await timed(search(scoped, limit), repeat)
            rows = (await repo.applications.search(scoped, limit=limit))[1]
            results.append((name, scoped, limit, b))
            print(f"{name:<24} {a * 1000:>10.2f} ms {b * 1000:>9.2f} ms {b / a:>7.2f}   {rows:,}")
        a = await timed(lambda: repo.stats.collect(None, None), repeat)
        b = await timed(lambda: repo.stats.collect(None, None, centre_ids=one), repeat)
        print(f"{'statistics':<24} {a * 1000:>10.2f} ms {b * 1000:>9.2f} ms {b / a:>7.2f}")
        a = await timed(repo.courses.overview, repeat)
        b = await timed(lambda: repo.courses.overview(one), repeat)
        print(f"{'staff menu counts':<24} {a * 1000:>10.2f} ms {b * 1000:>9.2f} ms {b / a:>7.2f}")

        # An announcement's audience: counted in the wizard, listed when it fires; a
        # programme admin's (everyone) next to one centre's, by the reach an admin set.
        from db.dto import Audience

        bc = repo.broadcasts
        for label, audience, reach in (
            ("applicants", Audience(centres=(7,)), "applicants"),
            ("+region", Audience(centres=(7,)), "region"),
            ("everyone", Audience(centres=(7,)), "everyone"),
        ):
            await bc.set_reach(0, 7, reach)
            for what, query in (("count", bc.audience_count), ("ids", bc.audience_ids)):
                a = await timed(lambda q=query: q(Audience(), "ru"), repeat)  # type: ignore[misc]
                b = await timed(lambda q=query, x=audience: q(x, "ru"), repeat)  # type: ignore[misc]
                rows = await bc.audience_count(audience, "ru")
                name = f"{what} · {label}"
                print(
                    f"{name:<24} {a * 1000:>10.2f} ms {b * 1000:>9.2f} ms {b / a:>7.2f}   {rows:,}"
                )
        await bc.set_reach(0, 7, "applicants")

        # Which index carries the centre filter: the same scoped queries with the
        # applications' course indexes dropped one by one (recreated afterwards).
        indexes = {
            "ix_applications_course_status": "applications (course_id, status)",
            "ix_courses_centre": "courses (centre_id)",
        }
        for dropped in (["ix_applications_course_status"], list(indexes)):
            async with db.transaction() as s:
                for name in dropped:
                    await s.execute(text(f"DROP INDEX {name}"))
                await s.execute(text("ANALYZE"))
            print(f"\nwithout {', '.join(dropped)}:")
            for name, scoped, limit, with_index in results:
                b = await timed(search(scoped, limit), repeat)
                print(
                    f"{name:<24} {'':>12} {b * 1000:>9.2f} ms  ({b / with_index:.2f}× the indexed)"
                )
            async with db.transaction() as s:
                for name in dropped:
                    await s.execute(text(f"CREATE INDEX {name} ON {indexes[name]}"))
                await s.execute(text("ANALYZE"))

        citizen, staff = 1_000_000, 1_000_000 + applications
        a = await timed(
            lambda: repo.users.upsert_seen(
                citizen, first_name="P0", username=None, language_code=None
            ),
            repeat,
        )
        b = await timed(
            lambda: repo.users.upsert_seen(
                staff, first_name=f"P{applications}", username=None, language_code=None
            ),
            repeat,
        )
        print(
            f"\nper-update user load: citizen {a * 1e6:.0f} µs, staff with 3 centres "
            f"{b * 1e6:.0f} µs (ratio {b / a:.2f}); one query either way"
        )
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 applications")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(1_000 if args.quick else 10_000, args.repeat))
