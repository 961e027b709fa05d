"""Outcomes: extra sign-up questions and answers, trainees' progress and attendance,
certificates and follow-ups. One short transaction per call; plain dataclasses out.

"Centres this staff member may see" is the ``centre_ids`` parameter of the staff-facing
queries: the ``StaffScope.centre_ids`` of the caller (None: every centre, a programme
admin; an empty set counts nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Select, Table, func, literal, or_, select, update

from db.database import Database
from db.dto_outcomes import (
    COMPLETED,
    DROPPED,
    FOLLOW_UP_OUTCOMES,
    PROGRESS,
    STUDYING,
    CertificateDTO,
    FollowUpDTO,
    OptionDTO,
    QuestionDTO,
    ReportRow,
    TraineeDTO,
)
from db.dto_outcomes import missed_in_a_row as streak
from db.models import (
    Answer,
    Application,
    Attendance,
    Certificate,
    ClassSession,
    Course,
    CourseQuestion,
    Delivery,
    FollowUp,
    Question,
)
from db.repo.audit import add_audit
from db.repo.memo import TableMemo

ANSWERS = cast(Table, Answer.__table__)
_CHUNK = 500


def answered(question_id: int, option: str) -> Select[Any]:
    """The applications whose answer to a choice question includes ``option``: the one
    option of a single choice, or one of a multiple choice's comma-joined options."""
    padded = literal(",") + Answer.value + literal(",")
    return select(Answer.application_id).where(
        Answer.question_id == question_id,
        or_(Answer.value == option, padded.contains(f",{option},", autoescape=True)),
    )


def question_dto(q: Question) -> QuestionDTO:
    return QuestionDTO(
        id=q.id,
        code=q.code,
        kind=q.kind,
        text=dict(q.text),
        options=tuple(OptionDTO(str(o["code"]), dict(o["text"])) for o in q.options or ()),
        required=q.required,
        min_value=q.min_value,
        max_value=q.max_value,
    )


def certificate_dto(c: Certificate) -> CertificateDTO:
    return CertificateDTO(
        c.id,
        c.application_id,
        c.number,
        c.issued_on,
        c.issuer,
        c.file_id,
        c.file_kind,
        c.created_at,
    )


def follow_up_dto(f: FollowUp) -> FollowUpDTO:
    return FollowUpDTO(
        f.application_id,
        f.wave,
        f.outcome,
        f.employer,
        f.park_resident,
        f.contact_consent,
        f.answered_at,
    )


class OutcomeRepo:
    def __init__(self, db: Database, *, memo_ttl: float | None = None) -> None:
        """``memo_ttl`` (long polling): a course's extra questions, read at every sign-up,
        are kept in memory (``TableMemo``)."""
        self.db = db
        self._questions_memo: TableMemo[tuple[QuestionDTO, ...]] | None = (
            TableMemo(db, ("questions", "course_questions"), memo_ttl)
            if memo_ttl is not None
            else None
        )

    # ---- questions and answers -------------------------------------------------------

    async def course_questions(self, course_id: int) -> list[QuestionDTO]:
        """The extra questions a course asks, in order."""
        if self._questions_memo is not None:
            return list(
                await self._questions_memo.get(
                    course_id, lambda: self._read_course_questions(course_id)
                )
            )
        return list(await self._read_course_questions(course_id))

    async def _read_course_questions(self, course_id: int) -> tuple[QuestionDTO, ...]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(Question)
                .join(CourseQuestion, CourseQuestion.question_id == Question.id)
                .where(CourseQuestion.course_id == course_id)
                .order_by(CourseQuestion.sort, Question.id)
            )
            return tuple(question_dto(q) for q in rows)

    async def questions(self, ids: Iterable[int] | None = None) -> list[QuestionDTO]:
        """Questions by id (all of them when ``ids`` is None), in catalogue order."""
        query = select(Question).order_by(Question.sort, Question.id)
        if ids is not None:
            query = query.where(Question.id.in_(sorted(set(ids))))
        async with self.db.read() as s:
            return [question_dto(q) for q in await s.scalars(query)]

    async def answers(self, application_ids: Iterable[int]) -> dict[int, dict[int, str]]:
        """application id → question id → stored value."""
        ids = sorted(set(application_ids))
        out: dict[int, dict[int, str]] = {i: {} for i in ids}
        async with self.db.read() as s:
            for start in range(0, len(ids), _CHUNK):
                rows = await s.execute(
                    select(Answer.application_id, Answer.question_id, Answer.value).where(
                        Answer.application_id.in_(ids[start : start + _CHUNK])
                    )
                )
                for app_id, question_id, value in rows.all():
                    out[int(app_id)][int(question_id)] = str(value)
        return out

    async def asked_by(self, course_ids: Iterable[int]) -> list[QuestionDTO]:
        """The questions any of these courses asks, in catalogue order."""
        query = (
            select(Question)
            .where(
                Question.id.in_(
                    select(CourseQuestion.question_id).where(
                        CourseQuestion.course_id.in_(sorted(set(course_ids)))
                    )
                )
            )
            .order_by(Question.sort, Question.id)
        )
        async with self.db.read() as s:
            return [question_dto(q) for q in await s.scalars(query)]

    async def courses_asking(self, question_id: int) -> set[int]:
        """The courses that ask a question."""
        async with self.db.read() as s:
            rows = await s.scalars(
                select(CourseQuestion.course_id).where(CourseQuestion.question_id == question_id)
            )
            return set(rows)

    async def answer_counts(
        self, since: datetime | None, until: datetime
    ) -> dict[int, dict[str, int]]:
        """Per question: stored value → applications made in [since, until) (statistics)."""
        query = (
            select(Answer.question_id, Answer.value, func.count())
            .join(Application, Application.id == Answer.application_id)
            .where(Application.created_at < until)
            .group_by(Answer.question_id, Answer.value)
        )
        if since is not None:
            query = query.where(Application.created_at >= since)
        out: dict[int, dict[str, int]] = {}
        async with self.db.read() as s:
            for question_id, value, n in (await s.execute(query)).all():
                out.setdefault(int(question_id), {})[str(value)] = int(n)
        return out

    # ---- trainees ----------------------------------------------------------------------

    async def trainees(self, group_id: int, now: datetime) -> list[TraineeDTO]:
        """A group's trainees (accepted) by name, with attendance of the classes held so
        far (not cancelled, started before ``now``) and whether a certificate exists."""
        async with self.db.read() as s:
            apps = (
                await s.execute(
                    select(
                        Application.id,
                        Application.user_id,
                        Application.full_name,
                        Application.phone,
                        Application.progress,
                        Application.dropout_reason,
                    )
                    .where(Application.group_id == group_id, Application.status == "accepted")
                    .order_by(Application.full_name, Application.id)
                )
            ).all()
            sessions = list(
                await s.scalars(
                    select(ClassSession.id)
                    .where(
                        ClassSession.group_id == group_id,
                        ClassSession.cancelled.is_(False),
                        ClassSession.starts_at <= now,
                    )
                    .order_by(ClassSession.starts_at, ClassSession.id)
                )
            )
            marks: dict[tuple[int, int], bool | None] = {}
            if sessions:
                rows = await s.execute(
                    select(Attendance.session_id, Attendance.user_id, Attendance.present).where(
                        Attendance.session_id.in_(sessions)
                    )
                )
                marks = {(int(sid), int(uid)): p for sid, uid, p in rows.all()}
            certified = set(
                await s.scalars(
                    select(Certificate.application_id).where(
                        Certificate.application_id.in_([a.id for a in apps])
                    )
                )
            )
        out = []
        for a in apps:
            series = [marks.get((sid, int(a.user_id))) for sid in sessions]
            marked = [m for m in series if m is not None]
            out.append(
                TraineeDTO(
                    application_id=int(a.id),
                    user_id=int(a.user_id),
                    full_name=str(a.full_name),
                    phone=str(a.phone),
                    progress=a.progress or (STUDYING if sessions else None),
                    dropout_reason=a.dropout_reason,
                    marked=len(marked),
                    present=sum(1 for m in marked if m),
                    missed_in_a_row=streak(series),
                    has_certificate=int(a.id) in certified,
                )
            )
        return out

    async def progress_of(self, application_id: int) -> tuple[str | None, str | None]:
        async with self.db.read() as s:
            row = await s.get(Application, application_id)
            return (row.progress, row.dropout_reason) if row else (None, None)

    async def set_progress(
        self,
        application_ids: Sequence[int],
        progress: str,
        *,
        actor_id: int,
        now: datetime,
        reason: str | None = None,
        note: str | None = None,
    ) -> list[int]:
        """Move accepted trainees to ``progress``; audited one by one. Returns the ids
        that changed (the others were already so, or are not accepted any more)."""
        if progress not in PROGRESS:
            raise ValueError(f"unknown progress {progress!r}")
        changed: list[int] = []
        async with self.db.transaction() as s:
            rows = await s.scalars(
                select(Application)
                .where(Application.id.in_(sorted(set(application_ids))))
                .with_for_update()
            )
            for app in rows:
                if app.status != "accepted":
                    continue
                same = app.progress == progress and (
                    progress != DROPPED or (app.dropout_reason, app.dropout_note) == (reason, note)
                )
                if same:
                    continue
                before = {"progress": app.progress, "reason": app.dropout_reason}
                app.progress = progress
                app.progress_at = now
                app.dropout_reason = reason if progress == DROPPED else None
                app.dropout_note = note if progress == DROPPED else None
                add_audit(
                    s,
                    actor_id,
                    f"progress.{progress}",
                    "application",
                    app.id,
                    before,
                    {"progress": progress, "reason": app.dropout_reason},
                )
                changed.append(app.id)
                if progress != COMPLETED:
                    # No follow-ups for someone who did not complete (undone by mistake).
                    await s.execute(
                        update(Delivery)
                        .where(
                            or_(
                                Delivery.dedupe_key.like(f"followup:{app.id}:%"),
                                Delivery.dedupe_key.like(f"followup-again:{app.id}:%"),
                            ),
                            Delivery.status == "pending",
                        )
                        .values(status="skipped", last_error="not completed")
                    )
        return changed

    async def journal(
        self, group_id: int, start: datetime, end: datetime
    ) -> tuple[list[tuple[int, datetime]], list[tuple[str, int, dict[int, bool | None]]]]:
        """The attendance journal of a group for [start, end): the classes held (id,
        start) and each trainee (name, user id, class id → present)."""
        async with self.db.read() as s:
            sessions = [
                (int(i), at)
                for i, at in (
                    await s.execute(
                        select(ClassSession.id, ClassSession.starts_at)
                        .where(
                            ClassSession.group_id == group_id,
                            ClassSession.cancelled.is_(False),
                            ClassSession.starts_at >= start,
                            ClassSession.starts_at < end,
                        )
                        .order_by(ClassSession.starts_at, ClassSession.id)
                    )
                ).all()
            ]
            people = (
                await s.execute(
                    select(Application.full_name, Application.user_id)
                    .where(Application.group_id == group_id, Application.status == "accepted")
                    .order_by(Application.full_name, Application.id)
                )
            ).all()
            marks: dict[int, dict[int, bool | None]] = {}
            if sessions:
                rows = await s.execute(
                    select(Attendance.session_id, Attendance.user_id, Attendance.present).where(
                        Attendance.session_id.in_([i for i, _ in sessions])
                    )
                )
                for sid, uid, present in rows.all():
                    marks.setdefault(int(uid), {})[int(sid)] = present
        return sessions, [(str(n), int(u), marks.get(int(u), {})) for n, u in people]

    async def progress_and_certificates(
        self, application_ids: Iterable[int]
    ) -> dict[int, tuple[str | None, str | None]]:
        """application id → (progress, certificate number), for exports."""
        ids = sorted(set(application_ids))
        out: dict[int, tuple[str | None, str | None]] = {}
        async with self.db.read() as s:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                rows = await s.execute(
                    select(Application.id, Application.progress, Certificate.number)
                    .outerjoin(Certificate, Certificate.application_id == Application.id)
                    .where(Application.id.in_(chunk))
                )
                out.update({int(i): (p, n) for i, p, n in rows.all()})
        return out

    # ---- certificates ------------------------------------------------------------------

    async def certificate(self, application_id: int) -> CertificateDTO | None:
        async with self.db.read() as s:
            row = await s.scalar(
                select(Certificate).where(Certificate.application_id == application_id)
            )
            return certificate_dto(row) if row else None

    async def save_certificate(
        self,
        application_id: int,
        *,
        number: str,
        issued_on: date,
        issuer: str,
        file_id: str | None,
        file_kind: str | None,
        actor_id: int,
    ) -> CertificateDTO:
        """Create or replace a trainee's certificate record; audited."""
        async with self.db.transaction() as s:
            row = await s.scalar(
                select(Certificate)
                .where(Certificate.application_id == application_id)
                .with_for_update()
            )
            before = None
            if row is None:
                row = Certificate(application_id=application_id, created_by=actor_id)
                s.add(row)
            else:
                before = {"number": row.number, "issuer": row.issuer}
            row.number = number
            row.issued_on = issued_on
            row.issuer = issuer
            row.file_id = file_id
            row.file_kind = file_kind
            await s.flush()
            add_audit(
                s,
                actor_id,
                "certificate.issue",
                "application",
                application_id,
                before,
                {"number": number, "issuer": issuer, "file": file_kind},
            )
            return certificate_dto(row)

    async def set_certificate_file(self, application_id: int, file_id: str, kind: str) -> None:
        """Remember the Telegram file id once a generated PDF has been sent."""
        async with self.db.transaction() as s:
            await s.execute(
                update(Certificate)
                .where(Certificate.application_id == application_id)
                .values(file_id=file_id, file_kind=kind)
            )

    async def next_certificate_number(self, prefix: str) -> str:
        """``{prefix}-{n}``, one more than the certificates with this prefix so far."""
        async with self.db.read() as s:
            numbers = await s.scalars(
                select(Certificate.number).where(Certificate.number.like(f"{prefix}-%"))
            )
            used = [int(n.rsplit("-", 1)[1]) for n in numbers if n.rsplit("-", 1)[1].isdigit()]
        return f"{prefix}-{max(used, default=0) + 1:04d}"

    # ---- follow-ups ----------------------------------------------------------------------

    async def follow_up(self, application_id: int, wave: int) -> FollowUpDTO | None:
        async with self.db.read() as s:
            row = await s.get(FollowUp, (application_id, wave))
            return follow_up_dto(row) if row else None

    async def answer_follow_up(
        self, application_id: int, wave: int, now: datetime, **fields: Any
    ) -> FollowUpDTO:
        """Store (part of) a follow-up answer; the unsent reminder of that wave is
        skipped, so nobody is asked again once they answered."""
        allowed = {"outcome", "employer", "park_resident", "contact_consent"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown follow-up fields {sorted(unknown)}")
        if "outcome" in fields and fields["outcome"] not in FOLLOW_UP_OUTCOMES:
            raise ValueError(f"unknown outcome {fields['outcome']!r}")
        async with self.db.transaction() as s:
            row = await s.get(FollowUp, (application_id, wave), with_for_update=True)
            if row is None:
                row = FollowUp(application_id=application_id, wave=wave)
                s.add(row)
            for key, value in fields.items():
                setattr(row, key, value)
            row.answered_at = now
            await s.execute(
                update(Delivery)
                .where(
                    Delivery.dedupe_key == f"followup-again:{application_id}:{wave}",
                    Delivery.status == "pending",
                )
                .values(status="skipped", last_error="answered")
            )
            await s.flush()
            return follow_up_dto(row)

    async def follow_ups(self, application_ids: Iterable[int]) -> dict[int, dict[int, FollowUpDTO]]:
        ids = sorted(set(application_ids))
        out: dict[int, dict[int, FollowUpDTO]] = {}
        async with self.db.read() as s:
            for start in range(0, len(ids), _CHUNK):
                rows = await s.scalars(
                    select(FollowUp).where(FollowUp.application_id.in_(ids[start : start + _CHUNK]))
                )
                for f in rows:
                    out.setdefault(f.application_id, {})[f.wave] = follow_up_dto(f)
        return out


async def save_answers(session: Any, application_id: int, answers: Mapping[int, str]) -> None:
    """Store answers inside the caller's transaction (the application's submit)."""
    for question_id, value in answers.items():
        session.add(Answer(application_id=application_id, question_id=question_id, value=value))


async def report_rows(
    db: Database,
    since: datetime | None,
    until: datetime,
    now: datetime,
    centre_ids: frozenset[int] | None = None,
) -> list[ReportRow]:
    """Every application created in [since, until) at the given centres (None: all),
    with what the programme report counts; five queries whatever the size."""
    a = Application
    query = (
        select(
            a.id,
            Course.centre_id,
            a.course_id,
            a.group_id,
            a.district_id,
            a.created_at,
            a.status,
            a.progress,
            a.progress_at,
            a.dropout_reason,
        )
        .join(Course, Course.id == a.course_id)
        .where(a.created_at < until)
        .order_by(a.id)
    )
    if since is not None:
        query = query.where(a.created_at >= since)
    if centre_ids is not None:
        query = query.where(Course.centre_id.in_(sorted(centre_ids)))
    async with db.read() as s:
        apps = (await s.execute(query)).all()
        first = select(ClassSession.group_id, func.min(ClassSession.starts_at)).where(
            ClassSession.cancelled.is_(False)
        )
        started_groups = {
            int(g)
            for g, at in (await s.execute(first.group_by(ClassSession.group_id))).all()
            if at is not None and at <= now
        }
        lo, hi = (apps[0].id, apps[-1].id) if apps else (0, -1)
        certified = set(
            await s.scalars(
                select(Certificate.application_id).where(Certificate.application_id.between(lo, hi))
            )
        )
        answers: dict[int, dict[int, str]] = {}
        for app_id, question_id, value in (
            await s.execute(
                select(Answer.application_id, Answer.question_id, Answer.value).where(
                    Answer.application_id.between(lo, hi)
                )
            )
        ).all():
            answers.setdefault(int(app_id), {})[int(question_id)] = str(value)
        follow_ups: dict[int, dict[int, str | None]] = {}
        for app_id, wave, outcome in (
            await s.execute(
                select(FollowUp.application_id, FollowUp.wave, FollowUp.outcome).where(
                    FollowUp.application_id.between(lo, hi)
                )
            )
        ).all():
            follow_ups.setdefault(int(app_id), {})[int(wave)] = outcome
    out = []
    for r in apps:
        app_id = int(r.id)
        accepted = r.status == "accepted"
        out.append(
            ReportRow(
                application_id=app_id,
                centre_id=int(r.centre_id),
                course_id=int(r.course_id),
                group_id=r.group_id,
                district_id=r.district_id,
                created_at=r.created_at,
                status=str(r.status),
                progress=r.progress if accepted else None,
                progress_at=r.progress_at,
                started=accepted and (r.progress is not None or r.group_id in started_groups),
                dropout_reason=r.dropout_reason if accepted else None,
                certified=app_id in certified,
                answers=answers.get(app_id, {}),
                follow_ups=follow_ups.get(app_id, {}),
            )
        )
    return out


__all__ = ["OutcomeRepo", "report_rows", "save_answers"]
