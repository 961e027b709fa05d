"""Small builders of catalogue rows for tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from db.database import Database
from db.models import Centre, ClassSession, Course, District, Group, Region, User

if TYPE_CHECKING:
    from db.repo import Repos
    from db.repo.applications import Outcome

CONSENT_AT = datetime(2026, 11, 22, tzinfo=UTC)


def loc(text: str) -> dict[str, str]:
    return {"kk": f"{text} kk", "ky": f"{text} ky", "ru": f"{text} ru", "en": text}


@dataclass
class Catalogue:
    region_id: int
    district_ids: list[int]
    centre_id: int
    course_id: int
    group_ids: list[int]


async def make_catalogue(
    db: Database,
    *,
    capacities: tuple[int, ...] = (5, 5),
    code: str = "t",
    sessions_per_group: int = 0,
    first_session: datetime | None = None,
) -> Catalogue:
    async with db.transaction() as s:
        region = Region(code=f"{code}-region", country="KZ", kind="region", name=loc("Region"))
        s.add(region)
        await s.flush()
        districts = [
            District(code=f"{code}-d{i}", region_id=region.id, name=loc(f"District {i}"), sort=i)
            for i in range(3)
        ]
        s.add_all(districts)
        centre = Centre(
            code=f"{code}-centre",
            region_id=region.id,
            name=loc("Centre"),
            city=loc("City"),
            address=loc("Street 1"),
            latitude=42.9,
            longitude=71.39,
            timezone="Asia/Almaty",
        )
        s.add(centre)
        await s.flush()
        course = Course(
            code=f"{code}-python",
            centre_id=centre.id,
            title=loc("Python"),
            description=loc("Learn Python"),
            languages="kk,ru",
            duration_weeks=12,
            modules=None,
            certificate=loc("Certificate"),
            start_date=date(2026, 12, 7),
            enrolment_open=True,
            free_of_charge=True,
        )
        s.add(course)
        await s.flush()
        groups = [
            Group(
                code=f"{code}-g{i}", course_id=course.id, name=loc(f"Group {i + 1}"), capacity=cap
            )
            for i, cap in enumerate(capacities)
        ]
        s.add_all(groups)
        await s.flush()
        start = first_session or datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
        for g in groups:
            for n in range(sessions_per_group):
                begin = start + timedelta(days=2 * n)
                s.add(
                    ClassSession(
                        group_id=g.id,
                        starts_at=begin,
                        ends_at=begin + timedelta(hours=2),
                        room="101",
                    )
                )
        return Catalogue(
            region.id, [d.id for d in districts], centre.id, course.id, [g.id for g in groups]
        )


async def make_users(db: Database, ids: range | list[int], locale: str = "en") -> None:
    async with db.transaction() as s:
        s.add_all(
            User(id=i, locale=locale, first_name=f"U{i}", is_active=True, reminders_enabled=True)
            for i in ids
        )


async def submit_application(
    repo: Repos,
    user_id: int,
    course_id: int,
    *,
    district_id: int | None = None,
    source: str | None = None,
) -> Outcome:
    """The person applies for the course (no group), as the sign-up's confirm does."""
    return await repo.applications.submit(
        user_id=user_id,
        course_id=course_id,
        group_id=None,
        full_name="Test User",
        phone="+77011234567",
        district_id=district_id,
        consent_at=CONSENT_AT,
        source=source,
    )
