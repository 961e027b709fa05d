"""Plain data for the outcomes feature: questions and answers, trainees' progress,
certificates, follow-ups and the programme report's raw rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

STUDYING = "studying"
COMPLETED = "completed"
DROPPED = "dropped"
PROGRESS = (STUDYING, COMPLETED, DROPPED)
# Why a trainee left: a short list staff tap, plus a free-text note.
DROPOUT_REASONS = ("job", "health", "family", "moved", "hard", "time", "lost", "other")
# Follow-up answers: what a graduate does now; the first two count as employed.
FOLLOW_UP_OUTCOMES = ("it", "elsewhere", "studying", "looking", "other")
EMPLOYED = ("it", "elsewhere")


def missed_in_a_row(marks: Sequence[bool | None]) -> int:
    """Absences in a row at the end of a trainee's marks (classes in time order; None:
    not marked, which neither breaks nor extends the run)."""
    run = 0
    for present in reversed(marks):
        if present is None:
            continue
        if present:
            break
        run += 1
    return run


@dataclass(frozen=True, slots=True)
class OptionDTO:
    code: str
    text: dict[str, str]


@dataclass(frozen=True, slots=True)
class QuestionDTO:
    id: int
    code: str
    kind: str  # choice | multi | text | number | date
    text: dict[str, str]
    options: tuple[OptionDTO, ...]
    required: bool
    min_value: float | None
    max_value: float | None

    @property
    def is_choice(self) -> bool:
        return self.kind in ("choice", "multi")

    def option(self, code: str) -> OptionDTO | None:
        return next((o for o in self.options if o.code == code), None)


@dataclass(frozen=True, slots=True)
class CertificateDTO:
    id: int
    application_id: int
    number: str
    issued_on: date
    issuer: str
    file_id: str | None
    file_kind: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TraineeDTO:
    """A trainee of a group (an accepted application) with progress and attendance."""

    application_id: int
    user_id: int
    full_name: str
    phone: str
    progress: str | None
    dropout_reason: str | None
    marked: int  # classes with a mark
    present: int
    missed_in_a_row: int  # absent marks in a row up to the latest marked class
    has_certificate: bool

    @property
    def rate(self) -> int | None:
        """Attendance in percent of marked classes (None: nothing marked yet)."""
        return round(100 * self.present / self.marked) if self.marked else None


@dataclass(frozen=True, slots=True)
class FollowUpDTO:
    application_id: int
    wave: int
    outcome: str | None
    employer: str | None
    park_resident: bool | None
    contact_consent: bool | None
    answered_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One application, as the programme report needs it (no personal data)."""

    application_id: int
    centre_id: int
    course_id: int
    group_id: int | None
    district_id: int | None
    created_at: datetime
    status: str
    progress: str | None
    progress_at: datetime | None
    started: bool  # studying, completed or dropped, or the group's first class has begun
    dropout_reason: str | None
    certified: bool
    answers: dict[int, str] = field(default_factory=dict)  # question id → value
    follow_ups: dict[int, str | None] = field(default_factory=dict)  # wave → outcome
