"""Outcomes without the bot: catalogue questions, answer checks, progress and follow-ups
in the database, the programme report checked against a data set built to known figures,
the attendance journal, the certificate PDF, settings, and the migration with data."""

from __future__ import annotations

import io
import textwrap
import warnings
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text

from bot.config import ConfigError, load_settings
from bot.outcomes import follow_up_rows
from bot.services.catalog import CatalogError, apply_catalog, parse_catalog
from bot.services.export import to_xlsx_book
from bot.services.outcomes.answers import (
    AnswerError,
    check_choice,
    check_multi,
    check_typed,
    shown,
)
from bot.services.outcomes.certificate import CertificateText, render_certificate
from bot.services.outcomes.journal import journal_table
from bot.services.outcomes.report import build_report, report_tables
from db.database import Database
from db.dto_outcomes import OptionDTO, QuestionDTO, missed_in_a_row
from db.models import (
    Answer,
    Application,
    AuditLog,
    Certificate,
    ClassSession,
    Delivery,
    FollowUp,
    Question,
)
from db.repo import Repos
from db.repo.outcomes import report_rows
from tests.catalog_text import english
from tests.factories import make_catalogue, make_users

LOCALES = ("kk", "ky", "ru", "en")
NOW = datetime(2027, 6, 1, 6, 0, tzinfo=UTC)


def loc(value: str) -> str:
    return "{" + ", ".join(f"{x}: {value}" for x in LOCALES) + "}"


BASE = textwrap.dedent(
    f"""\
    regions:
      - code: r
        country: KG
        name: {loc("R")}
    centres:
      - code: c1
        region: r
        name: {loc("Centre")}
        city: {loc("City")}
        address: {loc("Street")}
        latitude: 42.87
        longitude: 74.57
        timezone: Asia/Bishkek
    courses:
      - code: web
        centre: c1
        title: {loc("Web")}
        description: {loc("About")}
        languages: [ky, ru]
        duration_weeks: 36
        start_date: 2027-01-11
        enrolment_open: true
        free_of_charge: true
        questions: [work, born]
    questions:
      - code: work
        kind: choice
        text: {{ru: "Чем заняты?", en: "What do you do?"}}
        fallback: ru
        options:
          - code: referral
            text: {loc("Referral")}
          - code: student
            text: {{en: Student}}
      - code: born
        kind: number
        min: 1950
        max: 2012
        required: false
        text: {loc("Year of birth")}
    """
)


# ---------------------------------------------------------------- the catalogue format


async def test_questions_import_with_fallback_and_order(sqlite_db: Database) -> None:
    data = parse_catalog(BASE)
    work = data.questions[0]
    # Missing languages take the fallback language (or the first one given).
    assert work.text == {
        "kk": "Чем заняты?",
        "ky": "Чем заняты?",
        "ru": "Чем заняты?",
        "en": "What do you do?",
    }
    assert work.options[1].text["kk"] == "Student"
    report = await apply_catalog(sqlite_db, data)
    assert report.questions.created == 2
    repo = Repos.create(sqlite_db)
    course = (await repo.catalogue.courses())[0]
    asked = await repo.outcomes.course_questions(course.id)
    assert [q.code for q in asked] == ["work", "born"]
    assert asked[1].required is False and (asked[1].min_value, asked[1].max_value) == (1950, 2012)
    # Importing again changes nothing; a new order is an update of the course.
    again = await apply_catalog(sqlite_db, parse_catalog(BASE))
    assert not again.changed
    swapped = await apply_catalog(
        sqlite_db, parse_catalog(BASE.replace("questions: [work, born]", "questions: [born]"))
    )
    assert swapped.courses.updated == 1
    assert [q.code for q in await repo.outcomes.course_questions(course.id)] == ["born"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("kind: number", "kind: slider", "'kind'"),
        ("    min: 1950\n", "", "needs 'min' and 'max'"),
        ("    kind: choice\n", "    kind: choice\n    min: 1\n", "only 'number'"),
        ("    fallback: ru", "    fallback: kk", "'fallback' is 'kk'"),
        ("        text: {en: Student}", "        text: {de: Student}", "unknown language"),
        ("  - code: born", "  - code: work", "already used"),
    ],
)
def test_question_problems_are_named(old: str, new: str, message: str) -> None:
    assert old in BASE
    with pytest.raises(CatalogError) as info:
        parse_catalog(BASE.replace(old, new, 1))
    assert message in "\n".join(english(info.value))


async def test_unknown_question_of_a_course_is_refused(sqlite_db: Database) -> None:
    broken = BASE.replace("questions: [work, born]", "questions: [wrok]")
    with pytest.raises(CatalogError) as info:
        await apply_catalog(sqlite_db, parse_catalog(broken))
    [error] = english(info.value)
    assert "question 'wrok' is neither in this file nor in the database" in error
    assert "did you mean 'work'" in error


# ---------------------------------------------------------------------- answer checks


def _q(kind: str, **kw: Any) -> QuestionDTO:
    options = tuple(OptionDTO(c, {"en": c.title()}) for c in ("a", "b", "c"))
    return QuestionDTO(
        1, "q", kind, {"en": "Q"}, options, kw.get("required", True), kw.get("low"), kw.get("high")
    )


def test_answer_checks() -> None:
    number = _q("number", low=1950, high=2012)
    assert check_typed(number, " 1 999 ") == "1999"
    for bad in ("199", "2013", "１９９９", "1999.5", "abc"):
        with pytest.raises(AnswerError) as info:
            check_typed(number, bad)
        assert info.value.key == "q-error-number" and info.value.params["min"] == "1950"
    day = _q("date")
    assert check_typed(day, "25.12.2000") == "2000-12-25"
    assert check_typed(day, "2000-12-25") == "2000-12-25"
    for bad in ("31.02.2000", "25.12.1800", "tomorrow"):
        with pytest.raises(AnswerError):
            check_typed(day, bad)
    txt = _q("text")
    assert check_typed(txt, " Bilim\u202e  LLP ") == "Bilim LLP"  # bidi mark dropped
    with pytest.raises(AnswerError):
        check_typed(txt, "x" * 121)
    with pytest.raises(AnswerError):
        check_typed(_q("choice"), "a")  # a choice is answered with buttons
    assert check_choice(_q("choice"), "b") == "b"
    with pytest.raises(AnswerError):
        check_choice(_q("choice"), "z")
    multi = _q("multi")
    assert check_multi(multi, ["c", "a"]) == "a,c"  # in the question's order
    with pytest.raises(AnswerError):
        check_multi(multi, [])
    assert check_multi(_q("multi", required=False), []) == ""
    assert shown(multi, "a,c", "en") == "A, C"
    assert shown(day, "2000-12-25", "en") == "25.12.2000"


def test_missed_in_a_row() -> None:
    assert missed_in_a_row([True, False, None, False]) == 2
    assert missed_in_a_row([False, True]) == 0
    assert missed_in_a_row([]) == 0


# ------------------------------------------------- progress and follow-ups in the database


async def _trainees(db: Database, n: int) -> tuple[Any, list[int]]:
    cat = await make_catalogue(
        db, capacities=(50,), sessions_per_group=4, first_session=NOW - timedelta(days=20)
    )
    await make_users(db, range(1, n + 1))
    ids = []
    async with db.transaction() as s:
        for uid in range(1, n + 1):
            app = Application(
                user_id=uid,
                course_id=cat.course_id,
                group_id=cat.group_ids[0],
                full_name=f"Trainee {uid}",
                phone="+77010000000",
                status="accepted",
                consent_at=NOW,
            )
            s.add(app)
            await s.flush()
            ids.append(app.id)
    return cat, ids


async def test_progress_attendance_and_follow_ups(sqlite_db: Database) -> None:
    repo = Repos.create(sqlite_db, now=lambda: NOW)
    cat, (a1, a2) = await _trainees(sqlite_db, 2)
    async with sqlite_db.read() as s:
        sessions = list(await s.scalars(select(ClassSession.id).order_by(ClassSession.starts_at)))
    marks = [(True, True), (True, False), (None, False), (True, None)]
    for sid, (p1, p2) in zip(sessions, marks, strict=True):
        for uid, present in ((1, p1), (2, p2)):
            if present is not None:
                await repo.attendance.mark(sid, uid, present, actor_id=9)
    one, two = await repo.outcomes.trainees(cat.group_ids[0], NOW)
    assert (one.present, one.marked, one.rate, one.missed_in_a_row) == (3, 3, 100, 0)
    assert (two.present, two.marked, two.rate, two.missed_in_a_row) == (1, 3, 33, 2)
    assert one.progress == "studying"  # the group has started
    # Completion is audited and plans the follow-ups; a second completion adds nothing.
    assert await repo.outcomes.set_progress([a1], "completed", actor_id=9, now=NOW) == [a1]
    assert await repo.outcomes.set_progress([a1], "completed", actor_id=9, now=NOW) == []
    app = await repo.applications.get(a1)
    assert app is not None
    rows = follow_up_rows(app, {"en": "Web"}, NOW, (1, 3, 6))
    assert await repo.deliveries.enqueue(rows) == 6
    assert await repo.deliveries.enqueue(rows) == 0
    # Answering skips that wave's reminder only.
    await repo.outcomes.answer_follow_up(a1, 3, NOW, outcome="it", park_resident=True)
    async with sqlite_db.read() as s:
        status = dict((await s.execute(select(Delivery.dedupe_key, Delivery.status))).all())
    assert status[f"followup-again:{a1}:3"] == "skipped"
    assert status[f"followup-again:{a1}:1"] == "pending"
    assert status[f"followup:{a1}:3"] == "pending"
    # Undoing the completion skips what is still to be sent.
    await repo.outcomes.set_progress([a1], "studying", actor_id=9, now=NOW)
    async with sqlite_db.read() as s:
        status = dict((await s.execute(select(Delivery.dedupe_key, Delivery.status))).all())
        actions = list(await s.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert {v for k, v in status.items() if k.startswith("followup")} == {"skipped"}
    assert actions.count("progress.completed") == 1 and "progress.studying" in actions
    # A drop-out keeps its reason; an application that is not accepted is left alone.
    await repo.outcomes.set_progress(
        [a2], "dropped", actor_id=9, now=NOW, reason="job", note="Works at a bank"
    )
    assert await repo.outcomes.progress_of(a2) == ("dropped", "job")
    async with sqlite_db.transaction() as s:
        row = await s.get(Application, a2)
        assert row is not None and row.dropout_note == "Works at a bank"
        row.status = "cancelled"
    assert await repo.outcomes.set_progress([a2], "completed", actor_id=9, now=NOW) == []


# ------------------------------------------------------- the report, by construction


async def test_programme_report_matches_the_data_set(sqlite_db: Database) -> None:
    """40 applications whose every figure is known by construction."""
    repo = Repos.create(sqlite_db)
    cat = await make_catalogue(
        sqlite_db,
        capacities=(50, 50),
        sessions_per_group=2,
        first_session=NOW - timedelta(days=300),
    )
    await apply_catalog(sqlite_db, parse_catalog(BASE))  # the questions (and another centre)
    async with sqlite_db.read() as s:
        work = await s.scalar(select(Question).where(Question.code == "work"))
        assert work is not None
    await make_users(sqlite_db, range(1, 41))
    completed_at = NOW - timedelta(days=200)  # 6 months ago and more: every wave is due
    plan: list[dict[str, Any]] = []
    for i in range(40):
        row: dict[str, Any] = {"status": "accepted", "progress": None, "reason": None}
        if i < 5:
            row["status"] = "pending"
        elif i < 8:
            row["status"] = "rejected"
        elif i < 12:
            row["progress"] = "dropped"
            row["reason"] = "job" if i < 10 else "hard"
        else:
            row["progress"] = "completed"
        row["group"] = cat.group_ids[i % 2]
        row["district"] = cat.district_ids[0] if i < 20 else None
        row["answer"] = "referral" if i % 4 == 0 else ("student" if i % 4 == 1 else None)
        plan.append(row)
    async with sqlite_db.transaction() as s:
        for i, row in enumerate(plan):
            app = Application(
                user_id=i + 1,
                course_id=cat.course_id,
                group_id=row["group"],
                district_id=row["district"],
                full_name=f"T {i}",
                phone="+77010000000",
                status=row["status"],
                progress=row["progress"],
                dropout_reason=row["reason"],
                progress_at=completed_at if row["progress"] else None,
                consent_at=NOW,
                created_at=NOW - timedelta(days=250),
            )
            s.add(app)
            await s.flush()
            row["id"] = app.id
            if row["answer"]:
                s.add(Answer(application_id=app.id, question_id=work.id, value=row["answer"]))
            if row["progress"] == "completed":
                # certificates for 12..29; answers at 3 months for 12..31 (20 of 28),
                # at 6 months for 12..21 (10 of 28); employed: even i
                if i < 30:
                    s.add(
                        Certificate(
                            application_id=app.id,
                            number=f"N-{i}",
                            issued_on=date(2027, 1, 1),
                            issuer="ISDEL",
                        )
                    )
                if i < 32:
                    s.add(
                        FollowUp(
                            application_id=app.id,
                            wave=3,
                            outcome="it" if i % 2 == 0 else "looking",
                            answered_at=NOW,
                        )
                    )
                if i < 22:
                    s.add(
                        FollowUp(
                            application_id=app.id,
                            wave=6,
                            outcome="elsewhere" if i % 2 == 0 else "studying",
                            answered_at=NOW,
                        )
                    )
        # An application of another period is not counted.
        s.add(
            Application(
                user_id=40,
                course_id=cat.course_id,
                full_name="Old",
                phone="+7",
                status="cancelled",
                consent_at=NOW,
                created_at=NOW - timedelta(days=900),
            )
        )
    since = NOW - timedelta(days=365)
    rows = await report_rows(sqlite_db, since, NOW, NOW)
    questions = await repo.outcomes.questions()
    report = build_report(rows, questions, since=since, until=NOW, now=NOW)
    t = report.total
    completed = [r for r in plan if r["progress"] == "completed"]
    assert (t.applied, t.accepted, t.started) == (40, 32, 32)
    assert (t.completed, t.dropped, t.certified) == (len(completed), 4, 18)
    assert report.dropout_reasons == {"job": 2, "hard": 2}
    assert (t.asked[3], t.answered[3], t.employed[3]) == (28, 20, 10)
    assert (t.asked[6], t.answered[6], t.employed[6]) == (28, 10, 5)
    assert report.follow_up_outcomes[3] == {"it": 10, "looking": 10}
    assert sum(f.applied for f in report.by_group.values()) == 40
    assert report.by_district[cat.district_ids[0]].applied == 20
    assert report.by_district[None].applied == 20
    by_answer = report.by_answer[work.id]
    assert (by_answer["referral"].applied, by_answer["student"].applied) == (10, 10)
    assert by_answer["referral"].completed == sum(1 for r in completed if r["answer"] == "referral")
    # Centre boundary: another centre's report is empty.
    assert await report_rows(sqlite_db, since, NOW, NOW, frozenset({cat.centre_id + 100})) == []
    # The XLSX: one sheet per table, figures as numbers.
    names: dict[str, dict[Any, str]] = {"course": {cat.course_id: "Python"}}
    tables = report_tables(report, lambda key, **p: key, names, questions, lambda m: m["en"])
    book = load_workbook(io.BytesIO(to_xlsx_book(tables)))
    assert book.sheetnames[:2] == ["report-sheet-summary", "report-sheet-dropouts"]
    assert "What do you do" in book.sheetnames  # "?" is not allowed in a sheet name
    summary = {r[0]: r[1] for r in book["report-sheet-summary"].iter_rows(values_only=True)}
    assert summary["report-col-applied"] == 40 and summary["report-col-certified"] == 18
    courses = list(book["report-sheet-courses"].iter_rows(values_only=True))
    assert courses[1][:7] == ("Python", 40, 32, 32, 28, 4, 18)


def test_a_choice_question_such_as_gender_gets_its_own_sheet() -> None:
    """Gender is collected by a programme as a catalogue choice question; the report
    breaks the funnel down by it on a sheet of its own, like every choice question that
    its applications answered (one nobody here was asked gets no sheet)."""
    from db.dto_outcomes import ReportRow

    def question(id_: int, code: str, text: str, options: tuple[str, ...]) -> QuestionDTO:
        opts = tuple(OptionDTO(o, {"en": o.title()}) for o in options)
        return QuestionDTO(id_, code, "choice", {"en": text}, opts, False, None, None)

    gender = question(1, "gender", "Gender", ("female", "male"))
    laptop = question(2, "laptop", "Laptop at home", ("yes", "no"))
    rows = [
        ReportRow(i, 1, 1, None, None, NOW, "accepted" if i < 3 else "pending", None, None,
                  False, None, False, {1: value} if value else {1: ""})
        for i, value in enumerate(("female", "female", "male", None), start=1)
    ]  # fmt: skip
    report = build_report(rows, [gender, laptop], since=None, until=NOW, now=NOW)
    tables = {t.title: t for t in report_tables(report, lambda k, **p: k, {}, [gender, laptop],
                                                lambda m: m["en"])}  # fmt: skip
    assert "Laptop at home" not in tables
    sheet = tables["Gender"]
    assert [row[:3] for row in sheet.rows] == [
        ["Female", 2, 2],
        ["Male", 1, 0],
        ["report-not-given", 1, 0],
    ]


# ------------------------------------------------------- journal, certificate, settings


def test_journal_table() -> None:
    s1 = datetime(2027, 3, 1, 12, 30, tzinfo=UTC)
    s2 = s1 + timedelta(days=2)
    table = journal_table(
        "G 03.2027",
        "Name",
        "Total",
        [(1, s1), (2, s2)],
        [("Aida", 5, {1: True, 2: False}), ("Bek", 6, {2: True})],
        "Asia/Almaty",
        absent="abs",
    )
    assert table.headers == ["Name", "01.03 17:30", "03.03 17:30", "Total"]
    assert table.rows == [["Aida", "+", "abs", "1/2"], ["Bek", "", "+", "1/1"]]


def test_certificate_pdf_has_every_kazakh_and_kyrgyz_letter() -> None:
    letters = "ӘәҒғҚқҢңӨөҰұҮүҺһІі"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns of a glyph missing from the font
        pdf = render_certificate(
            CertificateText(
                "СЕРТИФИКАТ",
                "берілді",
                f"Әлия {letters}",
                "«Java» курсын аяқтағаны",
                "120 сағат",
                "Тараз IT-орталығы",
                "№ TRZ-0001",
                "ISDEL",
            )
        )
    assert pdf.startswith(b"%PDF") and b"DejaVuSans" in pdf
    # The check can fail: a letter DejaVu Sans lacks (CJK) is reported.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning):
            render_certificate(CertificateText("証明書", "", "", "", "", "", "", ""))


def test_follow_up_and_absence_settings() -> None:
    base = {"BOT_TOKEN": "1:x"}
    settings = load_settings(base)
    assert settings.follow_up_months == (1, 3, 6) and settings.absence_streak == 2
    settings = load_settings(base | {"FOLLOW_UP_MONTHS": "6, 12", "ABSENCE_STREAK": "3"})
    assert settings.follow_up_months == (6, 12) and settings.absence_streak == 3
    for name, value in (
        ("FOLLOW_UP_MONTHS", "1,1"),
        ("FOLLOW_UP_MONTHS", "0"),
        ("FOLLOW_UP_MONTHS", "one"),
        ("ABSENCE_STREAK", "0"),
    ):
        with pytest.raises(ConfigError, match=name):
            load_settings(base | {name: value})


# --------------------------------------------------------------- the migration, with data


async def test_migration_keeps_applications(any_db: Database) -> None:
    db = any_db
    await db.downgrade("0003_conversations")  # before the outcomes migration
    cat = await make_catalogue(db)
    await make_users(db, [1])
    async with db.transaction() as s:
        await s.execute(
            text(
                "INSERT INTO applications (user_id, course_id, group_id, full_name, phone, "
                "status, consent_at, created_at, updated_at) VALUES (1, :c, :g, 'Aida', "
                "'+77010000001', 'accepted', :t, :t, :t)"
            ),
            {"c": cat.course_id, "g": cat.group_ids[0], "t": NOW.replace(tzinfo=None)},
        )
    await db.migrate()
    async with db.read() as s:
        app = await s.scalar(select(Application))
        assert app is not None and (app.full_name, app.progress) == ("Aida", None)
        app_id = app.id
    async with db.transaction() as s:
        row = await s.get(Application, app_id)
        assert row is not None
        row.progress = "completed"
        s.add(
            Certificate(
                application_id=app_id, number="N-1", issued_on=date(2027, 1, 1), issuer="ISDEL"
            )
        )
    await db.downgrade("-1")
    async with db.transaction() as s:
        names = (await s.execute(text("SELECT full_name, status FROM applications"))).all()
    assert names == [("Aida", "accepted")]
    await db.migrate()
    async with db.read() as s:
        assert (await s.scalar(select(Application.full_name))) == "Aida"


async def test_erasure_removes_answers_certificates_and_follow_ups(any_db: Database) -> None:
    repo = Repos.create(any_db)
    _, (app_id,) = await _trainees(any_db, 1)
    async with any_db.transaction() as s:
        s.add(
            Question(
                id=1, code="q", kind="text", text={"en": "Q"}, options=[], required=True, sort=0
            )
        )
        await s.flush()
        s.add(Answer(application_id=app_id, question_id=1, value="Free text about me"))
        s.add(
            Certificate(
                application_id=app_id, number="N-1", issued_on=date(2027, 1, 1), issuer="ISDEL"
            )
        )
        s.add(FollowUp(application_id=app_id, wave=1, outcome="it", employer="Bilim LLP"))
    await repo.outcomes.set_progress(
        [app_id], "dropped", actor_id=9, now=NOW, reason="job", note="Private note"
    )
    async with any_db.transaction() as s:
        app = await s.get(Application, app_id)
        assert app is not None
        app.status = "cancelled"
    await repo.users.erase(1)
    async with any_db.read() as s:
        for model in (Answer, Certificate, FollowUp, Application):
            assert (await s.scalar(select(model).limit(1))) is None, model
        audit = [str(a) for a in await s.scalars(select(AuditLog.after))]
    assert not any("Private note" in a for a in audit)  # the note never reaches the log


def test_the_centre_boundary_of_the_report() -> None:
    """The report counts a programme admin's every centre, and a centre member's own
    centres only: "all" means all of theirs, and another centre is refused."""
    from db.dto import StaffScope
    from handlers.staff.outcomes.reports import report_centres

    admin = StaffScope("admin")
    assert report_centres(admin, 0) == (True, None)
    assert report_centres(admin, 7) == (True, frozenset({7}))
    member = StaffScope("staff", centres=frozenset({3, 4}))
    assert report_centres(member, 0) == (True, frozenset({3, 4}))
    assert report_centres(member, 3) == (True, frozenset({3}))
    assert report_centres(member, 7)[0] is False  # refused
    assert report_centres(StaffScope("staff"), 0) == (True, frozenset())  # nothing to count
