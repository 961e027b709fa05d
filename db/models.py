"""SQLAlchemy ORM models. Times are stored in UTC; per-locale texts are JSON maps."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

LIVE_STATUSES = ("pending", "accepted", "waitlisted")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on SQLite and PostgreSQL alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


LocalizedText = dict[str, str]


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        dict[str, str]: JSON,
        list[dict[str, Any]]: JSON,
        datetime: UTCDateTime,
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    locale: Mapped[str | None] = mapped_column(String(2))
    language_code: Mapped[str | None] = mapped_column(String(16))
    first_name: Mapped[str | None] = mapped_column(String(128))
    # Unique: the latest user seen with a username holds it (older sightings are cleared).
    username: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    reminders_enabled: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=text("true")
    )
    source: Mapped[str | None] = mapped_column(String(64))
    consent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Staff(Base):
    __tablename__ = "staff"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # admin: a programme admin, who sees and manages every centre; staff: sees only the
    # centres granted in staff_centres (as a centre manager or centre staff).
    role: Mapped[str] = mapped_column(String(16))  # admin | staff
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The row came from ADMIN_IDS (the bootstrap list): demoted at start-up once the id
    # is no longer listed there. A grant by another admin clears it.
    bootstrap: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


CENTRE_ROLES = ("manager", "staff")


class StaffCentre(Base):
    """A centre granted to a staff member: as its manager (adds and removes the centre's
    staff, edits its contacts) or as centre staff."""

    __tablename__ = "staff_centres"
    __table_args__ = (Index("ix_staff_centres_centre", "centre_id"),)

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("staff.user_id", ondelete="CASCADE"), primary_key=True
    )
    centre_id: Mapped[int] = mapped_column(
        ForeignKey("centres.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))  # manager | staff
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


# Whom a centre's own staff reach with an announcement ("plus whatever the admin
# allows"): its applicants only (no row), plus people of its region, or everyone.
REACHES = ("applicants", "region", "everyone")


class CentreReach(Base):
    """A centre's announcement reach, widened by a programme admin (no row: the centre's
    own applicants only). Applied when the audience is counted and again when the
    announcement fires."""

    __tablename__ = "centre_reach"

    centre_id: Mapped[int] = mapped_column(
        ForeignKey("centres.id", ondelete="CASCADE"), primary_key=True
    )
    reach: Mapped[str] = mapped_column(String(16))  # region | everyone
    set_by: Mapped[int | None] = mapped_column(BigInteger)
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class CentreChat(Base):
    """The staff chat bound to a centre (new applications, digests, questions go there;
    STAFF_CHAT_ID is the programme-wide fallback). One chat may serve several centres."""

    __tablename__ = "centre_chats"
    __table_args__ = (Index("ix_centre_chats_chat", "chat_id"),)

    centre_id: Mapped[int] = mapped_column(
        ForeignKey("centres.id", ondelete="CASCADE"), primary_key=True
    )
    chat_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str | None] = mapped_column(String(128))
    bound_by: Mapped[int | None] = mapped_column(BigInteger)
    bound_at: Mapped[datetime] = mapped_column(default=utcnow)


class Region(Base):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2: KZ, KG
    kind: Mapped[str] = mapped_column(String(16), default="region")  # region | city
    name: Mapped[dict[str, str]]
    sort: Mapped[int] = mapped_column(Integer, default=0)


class District(Base):
    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"))
    name: Mapped[dict[str, str]]
    sort: Mapped[int] = mapped_column(Integer, default=0)


class Centre(Base):
    __tablename__ = "centres"
    # The contacts' server default is not fetched back after an INSERT (see contacts).
    __mapper_args__ = {"eager_defaults": False}  # noqa: RUF012

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    name: Mapped[dict[str, str]]
    city: Mapped[dict[str, str]]
    address: Mapped[dict[str, str]]
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64))
    sort: Mapped[int] = mapped_column(Integer, default=0)
    # Optional contacts (db/dto.py CentreContacts): phones, hours, contact person, map
    # link, website, Instagram, Telegram channel; texts per language.
    # No Python default: an INSERT that does not name it leaves it to the server default,
    # so code written against an older schema (and tests of older migrations) still works.
    contacts: Mapped[dict[str, Any]] = mapped_column(JSON, server_default=text("'{}'"))


class Course(Base):
    __tablename__ = "courses"
    __table_args__ = (Index("ix_courses_centre", "centre_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id", ondelete="RESTRICT"))
    title: Mapped[dict[str, str]]
    description: Mapped[dict[str, str]]
    # Languages of instruction as locale codes, e.g. "kk,ru".
    languages: Mapped[str] = mapped_column(String(32))
    duration_weeks: Mapped[int] = mapped_column(Integer)
    modules: Mapped[int | None] = mapped_column(Integer)
    certificate: Mapped[dict[str, str]]
    start_date: Mapped[date | None] = mapped_column(Date)
    enrolment_open: Mapped[bool] = mapped_column(Boolean, default=True)
    free_of_charge: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    name: Mapped[dict[str, str]]
    capacity: Mapped[int] = mapped_column(Integer)
    # Accepted applications in this group; changed only together with them, in one
    # transaction, by a conditional UPDATE that checks capacity.
    seats_taken: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class ClassSession(Base):
    __tablename__ = "class_sessions"
    __table_args__ = (Index("ix_class_sessions_group_start", "group_id", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    room: Mapped[str | None] = mapped_column(String(64))
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (
        Index(
            "uq_applications_live",
            "user_id",
            "course_id",
            unique=True,
            sqlite_where=text("status IN ('pending', 'accepted', 'waitlisted')"),
            postgresql_where=text("status IN ('pending', 'accepted', 'waitlisted')"),
        ),
        # Also one centre's lists and exports: course_id IN (the centre's courses) is
        # answered from this index (bench/centres.py).
        Index("ix_applications_course_status", "course_id", "status"),
        # A group's trainees: reminders, attendance rosters, schedule notices, seats.
        Index("ix_applications_group_status", "group_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="RESTRICT"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    full_name: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str] = mapped_column(String(16))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None]
    consent_at: Mapped[datetime]
    waitlisted_at: Mapped[datetime | None]
    source: Mapped[str | None] = mapped_column(String(64))
    # After "accepted": studying | completed | dropped (None: not started yet).
    progress: Mapped[str | None] = mapped_column(String(16))
    progress_at: Mapped[datetime | None]
    dropout_reason: Mapped[str | None] = mapped_column(String(32))
    dropout_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Question(Base):
    """An extra sign-up question from the catalogue (kinds in bot/services/questions.py);
    texts per language, options as ``[{"code": …, "text": {lang: …}}]``."""

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # choice | multi | text | number | date
    text: Mapped[dict[str, str]]
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    min_value: Mapped[float | None] = mapped_column(Float)
    max_value: Mapped[float | None] = mapped_column(Float)
    sort: Mapped[int] = mapped_column(Integer, default=0)


class CourseQuestion(Base):
    """Which questions a course asks, in order."""

    __tablename__ = "course_questions"

    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True
    )
    sort: Mapped[int] = mapped_column(Integer, default=0)


class Answer(Base):
    """An applicant's answer to an extra question: an option code, option codes joined
    by commas, a text, a number or an ISO date, as text."""

    __tablename__ = "answers"
    __table_args__ = (Index("ix_answers_question", "question_id", "value"),)

    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[str] = mapped_column(String(256))


class Certificate(Base):
    """One certificate per trainee (application): number, date, issuer, and its file
    (a Telegram file id of a PDF or image staff attached, or of the generated PDF)."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), unique=True
    )
    number: Mapped[str] = mapped_column(String(64))
    issued_on: Mapped[date] = mapped_column(Date)
    issuer: Mapped[str] = mapped_column(String(128))
    file_id: Mapped[str | None] = mapped_column(String(256))
    file_kind: Mapped[str | None] = mapped_column(String(16))  # document | photo
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FollowUp(Base):
    """A graduate's answer to the follow-up ``wave`` (months after completion)."""

    __tablename__ = "follow_ups"

    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True
    )
    wave: Mapped[int] = mapped_column(Integer, primary_key=True)
    # it | elsewhere | studying | looking | other
    outcome: Mapped[str | None] = mapped_column(String(16))
    employer: Mapped[str | None] = mapped_column(String(128))
    park_resident: Mapped[bool | None] = mapped_column(Boolean)
    contact_consent: Mapped[bool | None] = mapped_column(Boolean)
    answered_at: Mapped[datetime | None]


class FunnelEvent(Base):
    """Sign-up funnel steps (started, submitted) for statistics; no personal data."""

    __tablename__ = "funnel_events"
    __table_args__ = (Index("ix_funnel_events_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    course_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Broadcast(Base):
    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(BigInteger)
    # The author's own message, used while the draft is being written; Telegram lets the
    # author edit it, so it is never what goes out.
    source_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    source_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # The content frozen when the broadcast was confirmed (bot/broadcast_content.py):
    # {"kind": "text", "text", "entities"} or {"kind": "photo"|..., "file_id", "caption",
    # "caption_entities"}. Exactly what the preview showed is what is sent.
    content: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    audience: Mapped[dict[str, Any]]
    scheduled_at: Mapped[datetime | None]
    # draft | scheduled | sending | done | cancelled | stopped
    status: Mapped[str] = mapped_column(String(16), default="draft")
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Delivery(Base):
    """One message to one recipient; a row exists before the message is sent."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_status_due", "status", "not_before"),
        Index("ix_deliveries_broadcast", "broadcast_id", "status"),
        # A class moved or cancelled: its unsent reminders are re-timed or skipped.
        Index("ix_deliveries_session", "session_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # broadcast | reminder | notice
    kind: Mapped[str] = mapped_column(String(16))
    # Unique per logical message, e.g. "reminder:{session}:{offset}:{user}".
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE")
    )
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("class_sessions.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]]
    # pending | claimed | sent | failed | blocked | skipped
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attendance(Base):
    __tablename__ = "attendance"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("class_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    answer: Mapped[str | None] = mapped_column(String(8))  # yes | no
    answered_at: Mapped[datetime | None]
    present: Mapped[bool | None] = mapped_column(Boolean)
    marked_by: Mapped[int | None] = mapped_column(BigInteger)


class FsmState(Base):
    __tablename__ = "fsm_state"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_centre", "centre_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # The centre the action concerns (None: programme-wide); centre staff see their
    # centres' rows and their own.
    centre_id: Mapped[int | None] = mapped_column(Integer)


class KeyValue(Base):
    """Small persistent settings and markers (e.g. the last digest date)."""

    __tablename__ = "kv"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Conversation(Base):
    """A citizen's question to a centre and everything said about it, until closed.

    One open conversation per person and centre; follow-ups attach to it. ``waiting_since``
    is when the oldest message staff have not answered yet arrived (None once answered):
    the inbox puts the longest-waiting first."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_user_centre", "user_id", "centre_id", "status"),
        Index("ix_conversations_status_waiting", "status", "waiting_since"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    centre_id: Mapped[int | None] = mapped_column(ForeignKey("centres.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    waiting_since: Mapped[datetime | None]
    last_in_at: Mapped[datetime | None]
    answered_by: Mapped[int | None] = mapped_column(BigInteger)
    answered_at: Mapped[datetime | None]
    closed_by: Mapped[int | None] = mapped_column(BigInteger)
    closed_at: Mapped[datetime | None]
    # The card in the centre's staff chat (None if it could not be posted).
    staff_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)


class ConversationMessage(Base):
    """One message of a conversation: ``in`` (the citizen's), ``out`` (staff's answer),
    or a bot message staff can reply to (``card``, ``prompt``, ``note``). ``staff_chat_id``
    and ``staff_message_id`` say where staff see it, so a Telegram reply to it finds the
    conversation."""

    __tablename__ = "conversation_messages"
    __table_args__ = (
        Index("ix_conversation_messages_staff", "staff_chat_id", "staff_message_id"),
        Index("ix_conversation_messages_conversation", "conversation_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(8))  # in | out | card | prompt | note
    author_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16), default="text")  # text | photo | voice | …
    text: Mapped[str | None] = mapped_column(Text)  # the text or caption, clipped
    source_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    source_message_id: Mapped[int | None] = mapped_column(BigInteger)
    staff_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    staff_message_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CentreFaq(Base):
    """A centre's short FAQ from the catalogue: shown before a question goes to staff."""

    __tablename__ = "centre_faq"
    __table_args__ = (Index("ix_centre_faq_centre", "centre_id", "sort"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    centre_id: Mapped[int] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    question: Mapped[dict[str, str]]
    answer: Mapped[dict[str, str]]
    sort: Mapped[int] = mapped_column(Integer, default=0)


__all__ = [
    "CENTRE_ROLES",
    "LIVE_STATUSES",
    "Answer",
    "Application",
    "Attendance",
    "AuditLog",
    "Base",
    "Broadcast",
    "Centre",
    "CentreChat",
    "CentreFaq",
    "Certificate",
    "ClassSession",
    "Conversation",
    "ConversationMessage",
    "Course",
    "CourseQuestion",
    "Delivery",
    "District",
    "FollowUp",
    "FsmState",
    "FunnelEvent",
    "Group",
    "KeyValue",
    "Question",
    "Region",
    "Staff",
    "StaffCentre",
    "User",
    "utcnow",
]
