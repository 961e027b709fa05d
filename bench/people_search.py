"""Find a person at programme scale: how long one search takes over N applicants.

    .venv/bin/python -m bench.people_search              # 10,000 and 50,000 applicants
    .venv/bin/python -m bench.people_search --sizes 1000 # a smoke test

A SQLite database gets N applicants (one application each, names in four spellings,
phones in both countries' formats) over the demo catalogue; each search is what the
staff's "Find a person" does: every candidate of the staff member's centres read
(``PeopleRepo.candidates``, one query), then matched in Python (names folded to a Latin
skeleton, phones by their last nine digits). Printed per size: the median and the
slowest of the queries below, and the share of that time spent reading.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from bot.services.catalog import import_catalog
from bot.support.names import parse_query, search
from db.database import Database
from db.models import Application, User
from db.repo.people import PeopleRepo

DEMO = Path(__file__).resolve().parent.parent / "catalog" / "demo.yaml"
FIRST = ["Айгерім", "Өмүрбек", "Юлия", "Daniel", "Нұрлан", "Жаныл", "Асель", "Бакыт"]
LAST = ["Сейітқызы", "Жаныбеков", "Щукина", "Kim", "Омаров", "Асанова", "Ким", "Ли"]
QUERIES = ["aigerim", "ӨМҮРБЕК", "Shchukina", "8 701 000 12 34", "0555 00 12 34", "№ 4321"]


async def fill(db: Database, size: int) -> None:
    await import_catalog(db, DEMO)
    from db.models import Course

    async with db.transaction() as s:
        from sqlalchemy import select

        courses = list(await s.scalars(select(Course.id)))
    now = datetime.now(UTC)
    users, apps = [], []
    for n in range(size):
        uid = 10_000_000 + n
        users.append(
            {
                "id": uid,
                "locale": "ru",
                "first_name": f"U{n}",
                "created_at": now,
                "updated_at": now,
                "is_active": True,
                "reminders_enabled": True,
            }
        )
        phone = f"+7701{n:07d}" if n % 2 else f"+996555{n:06d}"
        apps.append({"user_id": uid, "course_id": courses[n % len(courses)],
                     "full_name": f"{LAST[n % 8]} {FIRST[(n // 8) % 8]} {n}", "phone": phone,
                     "status": "pending", "consent_at": now, "created_at": now,
                     "updated_at": now})  # fmt: skip
    async with db.transaction() as s:
        for i in range(0, size, 5000):
            await s.execute(insert(User), users[i : i + 5000])
            await s.execute(insert(Application), apps[i : i + 5000])


async def run(size: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{tmp}/bench.sqlite3")
        await db.migrate()
        await fill(db, size)
        repo = PeopleRepo(db)
        timings, reading = [], []
        for _ in range(3):
            for typed in QUERIES:
                started = time.perf_counter()
                people = await repo.candidates(None)
                read = time.perf_counter()
                search(parse_query(typed), people)
                timings.append(time.perf_counter() - started)
                reading.append(read - started)
        await db.dispose()
    median, worst = statistics.median(timings), max(timings)
    share = sum(reading) / sum(timings)
    print(f"{size:>7,} applicants: median {median * 1000:6.0f} ms, slowest {worst * 1000:6.0f} ms,"
          f" reading {share:.0%} of it")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    args = parser.parse_args(argv)
    for size in args.sizes:
        asyncio.run(run(size))


if __name__ == "__main__":
    main(sys.argv[1:])
