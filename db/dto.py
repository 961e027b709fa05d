"""Plain data objects that repositories return; nothing here touches the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class UserDTO:
    id: int
    locale: str | None
    language_code: str | None
    first_name: str | None
    username: str | None
    is_active: bool
    reminders_enabled: bool
    source: str | None
    consent_at: datetime | None
    created_at: datetime
    # Loaded with the user on every update (one query): None for everyone but staff rows.
    staff: StaffScope | None = None


@dataclass(frozen=True, slots=True)
class StaffScope:
    """What a staff member may reach: every centre (a programme admin, ``role`` "admin")
    or the centres granted to them (``role`` "staff"), some of them as manager."""

    role: str
    centres: frozenset[int] = frozenset()
    managed: frozenset[int] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_manager(self) -> bool:
        return not self.is_admin and bool(self.managed)

    @property
    def kind(self) -> str:
        """admin | manager | staff: how the bot names the role."""
        return "admin" if self.is_admin else "manager" if self.managed else "staff"

    @property
    def centre_ids(self) -> frozenset[int] | None:
        """The centres to filter by; None means every centre (no filter)."""
        return None if self.is_admin else self.centres

    def allows(self, centre_id: int | None) -> bool:
        if self.is_admin:
            return True
        return centre_id is not None and centre_id in self.centres

    def manages(self, centre_id: int | None) -> bool:
        if self.is_admin:
            return True
        return centre_id is not None and centre_id in self.managed


@dataclass(frozen=True, slots=True)
class CentreContacts:
    """A centre's optional contacts; texts per language (picked with fallback).

    ``demo``: the values are placeholders (the demo catalogue), shown with a note."""

    phones: tuple[str, ...] = ()
    hours: dict[str, str] = field(default_factory=dict)
    person: dict[str, str] = field(default_factory=dict)
    map_url: str | None = None
    website: str | None = None
    instagram: str | None = None
    telegram: str | None = None
    demo: bool = False

    @property
    def empty(self) -> bool:
        return not (
            self.phones
            or self.hours
            or self.person
            or self.map_url
            or self.website
            or self.instagram
            or self.telegram
        )

    @classmethod
    def from_json(cls, raw: object) -> CentreContacts:
        if not isinstance(raw, dict):
            return cls()

        def text(key: str) -> str | None:
            value = raw.get(key)
            return value if isinstance(value, str) and value else None

        def texts(key: str) -> dict[str, str]:
            value = raw.get(key)
            if not isinstance(value, dict):
                return {}
            return {str(k): v for k, v in value.items() if isinstance(v, str) and v}

        phones = raw.get("phones")
        return cls(
            phones=tuple(p for p in phones if isinstance(p, str) and p)
            if isinstance(phones, list)
            else (),
            hours=texts("hours"),
            person=texts("person"),
            map_url=text("map_url"),
            website=text("website"),
            instagram=text("instagram"),
            telegram=text("telegram"),
            demo=raw.get("demo") is True,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.phones:
            out["phones"] = list(self.phones)
        for key in ("hours", "person"):
            value = getattr(self, key)
            if value:
                out[key] = dict(value)
        for key in ("map_url", "website", "instagram", "telegram"):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.demo:
            out["demo"] = True
        return out


@dataclass(frozen=True, slots=True)
class CentreChatDTO:
    centre_id: int
    chat_id: int
    title: str | None
    bound_by: int | None
    bound_at: datetime


@dataclass(frozen=True, slots=True)
class GrantDTO:
    """One centre granted to one staff member."""

    user_id: int
    centre_id: int
    role: str  # manager | staff


@dataclass(frozen=True, slots=True)
class StaffDTO:
    user_id: int
    role: str
    added_by: int | None
    added_at: datetime
    first_name: str | None = None
    username: str | None = None
    grants: tuple[GrantDTO, ...] = ()


@dataclass(frozen=True, slots=True)
class RegionDTO:
    id: int
    code: str
    country: str
    kind: str
    name: dict[str, str]


@dataclass(frozen=True, slots=True)
class DistrictDTO:
    id: int
    code: str
    region_id: int
    name: dict[str, str]


@dataclass(frozen=True, slots=True)
class CentreDTO:
    id: int
    code: str
    region_id: int
    name: dict[str, str]
    city: dict[str, str]
    address: dict[str, str]
    latitude: float
    longitude: float
    timezone: str
    contacts: CentreContacts = field(default_factory=CentreContacts)


@dataclass(frozen=True, slots=True)
class GroupDTO:
    id: int
    code: str
    course_id: int
    name: dict[str, str]
    capacity: int
    seats_taken: int

    @property
    def seats_left(self) -> int:
        return max(0, self.capacity - self.seats_taken)


@dataclass(frozen=True, slots=True)
class CourseDTO:
    id: int
    code: str
    centre_id: int
    title: dict[str, str]
    description: dict[str, str]
    languages: tuple[str, ...]
    duration_weeks: int
    modules: int | None
    certificate: dict[str, str]
    start_date: date | None
    enrolment_open: bool
    free_of_charge: bool
    capacity: int
    seats_taken: int

    @property
    def seats_left(self) -> int:
        return max(0, self.capacity - self.seats_taken)


@dataclass(frozen=True, slots=True)
class SessionDTO:
    id: int
    code: str | None
    group_id: int
    starts_at: datetime
    ends_at: datetime
    room: str | None
    cancelled: bool


@dataclass(frozen=True, slots=True)
class ApplicationDTO:
    id: int
    user_id: int
    course_id: int
    group_id: int | None
    full_name: str
    phone: str
    district_id: int | None
    status: str
    reason: str | None
    decided_by: int | None
    decided_at: datetime | None
    consent_at: datetime
    source: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def is_live(self) -> bool:
        return self.status in ("pending", "accepted", "waitlisted")


@dataclass(frozen=True, slots=True)
class AuditDTO:
    id: int
    actor_id: int
    action: str
    target_type: str
    target_id: str | None
    before: dict[str, object] | None
    after: dict[str, object] | None
    at: datetime


# ---- staff workspace ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CourseOverviewDTO:
    """A course with its queue: how many applications wait for a decision or a seat."""

    course: CourseDTO
    centre_name: dict[str, str]
    pending: int
    waitlisted: int


@dataclass(frozen=True, slots=True)
class GroupContextDTO:
    """A group with its course and centre (the centre's time zone places its classes)."""

    group: GroupDTO
    course: CourseDTO
    centre: CentreDTO


@dataclass(frozen=True, slots=True)
class ScheduleChangeDTO:
    """One change to a class, for the notice to the group's trainees."""

    kind: str  # added | moved | cancelled
    group_id: int
    before: SessionDTO | None
    after: SessionDTO | None


@dataclass(frozen=True, slots=True)
class CountDTO:
    """A labelled count for statistics; ``key`` is an id or a text (None: not given)."""

    key: int | str | None
    count: int


@dataclass(frozen=True, slots=True)
class GroupSeatsDTO:
    course_id: int
    group_id: int
    group_name: dict[str, str]
    capacity: int
    seats_taken: int


@dataclass(frozen=True, slots=True)
class StatsDTO:
    """Applications created in [since, until) and the sign-up funnel of that period;
    seats are the current state."""

    since: datetime | None
    until: datetime
    total: int
    by_status: dict[str, int]
    by_course: dict[int, dict[str, int]]
    by_district: list[CountDTO]
    by_source: list[CountDTO]
    seats: list[GroupSeatsDTO]
    started: int
    submitted: int
    accepted: int


# ---- outbox and broadcasts -----------------------------------------------------------

DELIVERY_FINAL = ("sent", "failed", "blocked", "skipped")


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A message to enqueue. ``dedupe_key`` is unique per logical message (e.g.
    ``broadcast:{id}:{user}``): enqueueing it again does nothing. ``not_before`` None
    means now (the repository's clock)."""

    kind: str  # broadcast | reminder | notice
    dedupe_key: str
    user_id: int
    payload: dict[str, Any]
    broadcast_id: int | None = None
    session_id: int | None = None
    not_before: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery this worker has claimed, with its recipient (None: no such user)."""

    id: int
    kind: str
    user_id: int
    payload: dict[str, Any]
    attempts: int
    broadcast_id: int | None
    session_id: int | None
    expires_at: datetime | None
    user: UserDTO | None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What became of a claimed delivery.

    ``status``: sent | failed | blocked | skipped (final); ``retry`` (back to pending at
    ``not_before``, one attempt more); ``release`` (back to pending, attempt not counted).
    """

    id: int
    status: str
    error: str | None = None
    message_id: int | None = None
    not_before: datetime | None = None
    user_id: int | None = None  # for ``blocked``: the user to mark inactive


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    pending: int = 0
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    blocked: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.claimed + self.sent + self.failed + self.blocked + self.skipped

    @property
    def remaining(self) -> int:
        return self.pending + self.claimed

    @property
    def processed(self) -> int:
        return self.sent + self.failed + self.blocked + self.skipped


@dataclass(frozen=True, slots=True)
class DeliveryFailureDTO:
    """A delivery that did not reach its recipient, for the staff's CSV."""

    user_id: int
    status: str
    attempts: int
    last_error: str | None
    first_name: str | None
    username: str | None


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a broadcast goes to: active users, narrowed by any combination of filters
    (an application filter means "has an application with all of these")."""

    locale: str | None = None
    course_id: int | None = None
    group_id: int | None = None
    district_id: int | None = None
    status: str | None = None
    # Only people who applied to these centres (centre staff's announcements); None:
    # no such limit (a programme admin's).
    centres: tuple[int, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self._values().items() if v is not None}
        if self.centres is not None:
            out["centres"] = list(self.centres)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Audience:
        data = data or {}

        def number(key: str) -> int | None:
            value = data.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) and value else None

        raw_centres = data.get("centres")
        centres = (
            tuple(sorted({c for c in raw_centres if isinstance(c, int)}))
            if isinstance(raw_centres, list)
            else None
        )
        return cls(
            locale=text("locale"),
            course_id=number("course_id"),
            group_id=number("group_id"),
            district_id=number("district_id"),
            status=text("status"),
            centres=centres,
        )

    def _values(self) -> dict[str, Any]:
        return {
            "locale": self.locale,
            "course_id": self.course_id,
            "group_id": self.group_id,
            "district_id": self.district_id,
            "status": self.status,
        }

    @property
    def is_everyone(self) -> bool:
        """No filter chosen (the centres limit is not a choice: it always applies)."""
        return not self._values() or all(v is None for v in self._values().values())


@dataclass(frozen=True, slots=True)
class BroadcastDTO:
    id: int
    author_id: int
    source_chat_id: int | None
    source_message_id: int | None
    audience: Audience
    scheduled_at: datetime | None
    status: str  # scheduled | sending | done | cancelled | stopped
    progress_chat_id: int | None
    progress_message_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    # What goes out, frozen at confirm time (see db/models.py Broadcast.content).
    content: dict[str, Any] | None = None


# ---- reminders and attendance ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReminderSessionDTO:
    """A class with its group, course and centre: what a reminder about it shows."""

    session: SessionDTO
    context: GroupContextDTO


@dataclass(frozen=True, slots=True)
class AttendanceCounts:
    """Answers of a class's trainees: yes, no, not answered; and who was marked present."""

    yes: int = 0
    no: int = 0
    unknown: int = 0
    present: int = 0
    absent: int = 0

    @property
    def total(self) -> int:
        return self.yes + self.no + self.unknown


@dataclass(frozen=True, slots=True)
class AttendanceRowDTO:
    """One trainee of a class: their answer (yes | no | None) and the staff's mark."""

    user_id: int
    full_name: str
    username: str | None
    answer: str | None
    answered_at: datetime | None
    present: bool | None
    marked_by: int | None


@dataclass(frozen=True, slots=True)
class DigestSessionDTO:
    """A class of tomorrow for the staff digest, with its expected attendance."""

    session: SessionDTO
    context: GroupContextDTO
    counts: AttendanceCounts
