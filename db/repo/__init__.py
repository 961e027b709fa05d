"""Repositories: each method is one short transaction and returns plain dataclasses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from db.database import Database
from db.models import utcnow
from db.repo.applications import ApplicationRepo
from db.repo.attendance import AttendanceRepo
from db.repo.audit import AuditRepo
from db.repo.broadcasts import BroadcastRepo
from db.repo.catalogue import CatalogueRepo
from db.repo.centres import CentreRepo
from db.repo.conversations import ConversationRepo
from db.repo.courses import CourseAdminRepo
from db.repo.deliveries import DeliveryRepo
from db.repo.kv import KeyValueRepo
from db.repo.outcomes import OutcomeRepo
from db.repo.people import PeopleRepo
from db.repo.reminders import ReminderRepo
from db.repo.schedule import ScheduleRepo
from db.repo.staff import StaffRepo
from db.repo.stats import StatsRepo
from db.repo.users import UserCache, UserRepo


@dataclass(frozen=True, slots=True)
class Repos:
    """Every repository over one Database; injected into handlers as ``repo``."""

    db: Database
    users: UserRepo
    staff: StaffRepo
    catalogue: CatalogueRepo
    centres: CentreRepo
    applications: ApplicationRepo
    audit: AuditRepo
    kv: KeyValueRepo
    courses: CourseAdminRepo
    schedule: ScheduleRepo
    stats: StatsRepo
    deliveries: DeliveryRepo
    broadcasts: BroadcastRepo
    attendance: AttendanceRepo
    reminders: ReminderRepo
    conversations: ConversationRepo
    people: PeopleRepo
    outcomes: OutcomeRepo

    @classmethod
    def create(
        cls, db: Database, now: Callable[[], datetime] = utcnow, *, cache: bool = False
    ) -> Repos:
        """``now`` is the injected clock's (deliveries enqueued without a time are due then).
        ``cache``: this process is the only consumer of the updates (long polling), so the
        per-update user record may be kept in memory (``UserCache``)."""
        users = UserCache(db) if cache else None
        return cls(
            db=db,
            users=UserRepo(db, users),
            staff=StaffRepo(db, users),
            catalogue=CatalogueRepo(db, snapshot_ttl=5.0 if cache else None),
            centres=CentreRepo(db, memo_ttl=5.0 if cache else None),
            applications=ApplicationRepo(db, now, users),
            audit=AuditRepo(db),
            kv=KeyValueRepo(db),
            courses=CourseAdminRepo(db, now),
            schedule=ScheduleRepo(db),
            stats=StatsRepo(db),
            deliveries=DeliveryRepo(db, now),
            broadcasts=BroadcastRepo(db),
            attendance=AttendanceRepo(db),
            reminders=ReminderRepo(db),
            conversations=ConversationRepo(db),
            people=PeopleRepo(db),
            outcomes=OutcomeRepo(db, memo_ttl=5.0 if cache else None),
        )


__all__ = ["Repos"]
