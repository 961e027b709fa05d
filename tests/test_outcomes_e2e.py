"""From applicant to graduate, end to end: the real bot over the fake Bot API with a manual
clock. A citizen signs up answering the course's extra questions (a wrong year, Back, a
multiple choice); staff accept four trainees; classes are marked and a second absence in
a row flags a trainee; one drops out (reason and note); the end-of-term roster completes
two and drops one; certificates are generated and sent, asked for again from "My
courses"; follow-ups are answered (or reminded once); the programme report's figures
match the data set."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.clock import ManualClock
from bot.i18n import pick_text
from db.models import Answer, AuditLog, Delivery, FollowUp, Question
from handlers.attendance import AttAction, AttendanceCB, Mark
from handlers.staff.common import clip
from handlers.staff.decisions import card_text
from handlers.staff.export import build_table
from sandbox.harness import ADMIN_ID, BotHarness
from tests.e2e import Chat
from tests.test_e2e_signup import agree_to_consent, open_course, start_and_choose_language
from tests.test_staff_support import applicant, refused_requests

T0 = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
async def h(tmp_path: Path, template_db: Path) -> AsyncIterator[BotHarness]:
    async with BotHarness(tmp_path, template=template_db, clock=ManualClock(T0)) as harness:
        yield harness


async def moved(h: BotHarness, to: datetime) -> None:
    assert isinstance(h.clock, ManualClock) and h.process is not None
    h.clock.set(to)
    await h.process.time_moved()


def documents(user_messages: list, filename_part: str) -> list:  # type: ignore[type-arg]
    return [
        m for m in user_messages if m.file is not None and filename_part in (m.file.filename or "")
    ]


async def test_from_applicant_to_graduate(h: BotHarness) -> None:
    centre = (await h.repo.catalogue.centres())[0]
    course = (await h.repo.catalogue.courses(centre.id))[1]  # taraz-python: extra questions
    assert course.code == "taraz-python"
    group = (await h.repo.catalogue.groups(course.id))[0]  # the morning group
    asked = await h.repo.outcomes.course_questions(course.id)
    assert [q.code for q in asked] == [
        "employment",
        "birth-year",
        "education",
        "laptop",
        "experience",
    ]

    # ---- 1. sign-up with the extra questions, in Russian -------------------------------
    aida = h.user(8001, first_name="Aida", language_code="ru")
    chat = Chat(h, aida, "ru")
    await start_and_choose_language(chat, "ru")
    await open_course(chat, centre, course)
    await chat.press_key("course-signup")
    await agree_to_consent(chat)  # consent first, before any question
    await chat.expect(chat.text("signup-ask-phone")[:20])
    chat.tap_key("signup-share-phone")
    await chat.expect(chat.text("signup-ask-name").split(".")[0][:20])
    chat.say("Серикова Аида")
    await chat.expect(chat.text("signup-ask-district", region="")[:15])
    districts = await h.repo.catalogue.districts(centre.region_id)
    await chat.press(pick_text(districts[0].name, "ru"))
    await chat.expect(chat.text("signup-ask-group")[:15])
    await chat.press_key("signup-any-group")
    step = await chat.expect("Чем вы сейчас заняты?")
    assert "Шаг 6 из 10" in step.content  # consent, phone, name, district, group, 5 questions
    await chat.press("Направление центра занятости")
    await chat.expect("Год рождения")
    chat.say("１９９９")  # not ASCII digits: refused like a bad phone, nothing stored
    await chat.expect(chat.text("q-error-number", min="1950", max="2012"))
    chat.tap_key("btn-back")  # back to the previous question, which can be changed
    await chat.expect("Чем вы сейчас заняты?")
    await chat.press("Студент(ка)")
    await chat.expect("Год рождения")
    chat.say("1999")
    await chat.expect("Ваше образование")
    await chat.press("Колледж")
    await chat.expect("компьютер или ноутбук")
    await chat.press("Нет")
    await chat.expect("опыт программирования")
    await chat.press("▫️ Онлайн-курсы")
    await chat.expect("☑️ Онлайн-курсы", button=True)
    await chat.press("▫️ В школе")
    await chat.press_key("q-done")
    summary = await chat.expect(chat.label("signup-confirm"), button=True)
    for line in (
        "Чем вы сейчас заняты?: Студент(ка)",
        "Год рождения (например 1998): 1999",
        "Был ли у вас опыт программирования?: В школе, Онлайн-курсы",
    ):
        assert line in summary.content
    await chat.press_key("signup-confirm")
    await chat.expect(chat.text("signup-done", id=1)[:25])
    app_a = (await h.repo.applications.for_user(aida.id))[0]
    async with h.app.db.read() as s:
        stored = dict(
            (
                await s.execute(
                    select(Question.code, Answer.value)
                    .join(Answer, Answer.question_id == Question.id)
                    .where(Answer.application_id == app_a.id)
                )
            ).all()
        )
    assert stored == {
        "employment": "student",
        "birth-year": "1999",
        "education": "college",
        "laptop": "no",
        "experience": "school,online",
    }

    # ---- 2. three more applicants; staff accept all four into the morning group -------
    people = {"ru": aida}
    apps = {"ru": app_a}
    for uid, locale in ((8002, "kk"), (8003, "ky"), (8004, "en")):
        fake, app = await applicant(
            h, uid, locale, course.id, post=False, name=f"Trainee {locale.upper()} Test"
        )
        people[locale], apps[locale] = fake, app
    for app in apps.values():
        await h.repo.applications.decide(
            app.id, actor_id=ADMIN_ID, action="accept", group_id=group.id
        )

    # ---- 3. classes; the kk trainee misses two in a row: staff are flagged -----------
    sessions = await h.repo.catalogue.sessions([group.id], limit=3)
    await moved(h, sessions[2].ends_at + timedelta(hours=1))
    for i, sess in enumerate(sessions):
        for locale, app in apps.items():
            present = not (locale == "kk" and i >= 1)
            if (locale, i) == ("kk", 2):
                continue  # marked through the bot below
            await h.repo.attendance.mark(sess.id, app.user_id, present, actor_id=ADMIN_ID)
    admin = h.admin("en")
    staff = Chat(h, admin, "en")
    centre_label = clip(f"{pick_text(centre.city, 'en')} · {pick_text(centre.name, 'en')}", 64)
    admin.send_command("attendance")
    menu = await staff.expect(staff.text("attendance-choose-centre")[:12])
    for mark in (Mark.present, Mark.absent):  # the toggle: present, then absent
        data = AttendanceCB(
            action=AttAction.mark, id=sessions[2].id, value=people["kk"].id, mark=mark
        ).pack()
        await admin.wait_callback_answer(admin.press(data, menu.message_id)["id"])
    flag = await staff.expect("has missed 2 classes in a row")
    assert "Trainee KK Test" in flag.content and "+7701" in flag.content
    assert flag.buttons() == [staff.label("outcomes-btn-card"), staff.label("outcomes-btn-dropped")]

    # ---- 4. the group in the outcomes section: rates, the flag; a drop-out -----------
    admin.send_command("admin")
    await staff.expect(staff.label("outcomes-section-button"), button=True)
    await staff.press_key("outcomes-section-button")
    await staff.press(centre_label)
    await staff.expect("Choose a group")
    await staff.press(f"{pick_text(course.title, 'en')} · {pick_text(group.name, 'en')}")
    roster = await staff.expect("Trainees: 4")
    assert "attendance 83%" in roster.content  # 10 of 12 marks present
    assert "📖 Trainee KK Test · 33% ⚠️" in roster.buttons()
    await staff.press("📖 Trainee KK Test · 33% ⚠️")
    card = await staff.expect("Attendance: 1 of 3 (33%)")
    assert "Missed 2 classes in a row" in card.content
    await staff.press_key("outcomes-btn-dropped")
    await staff.press_key("dropout-reason-job")
    await staff.expect(staff.text("outcomes-drop-note")[:20])
    admin.send_text("Works at a bank now")
    await staff.expect("Reason: Found a job")
    kk = Chat(h, people["kk"], "kk")
    await kk.expect("шығып қалды деп белгілендіңіз")
    assert await h.repo.outcomes.progress_of(apps["kk"].id) == ("dropped", "job")

    # ---- 5. end of term: everyone completed unless tapped ----------------------------
    last = (await h.repo.catalogue.sessions([group.id]))[-1]
    end = last.ends_at + timedelta(hours=2)
    await moved(h, end)
    admin.send_command("admin")
    await staff.expect(staff.label("outcomes-section-button"), button=True)
    await staff.press_key("outcomes-section-button")
    await staff.expect(centre_label, button=True)
    await staff.press(centre_label)
    await staff.expect("Choose a group")
    await staff.press(f"{pick_text(course.title, 'en')} · {pick_text(group.name, 'en')}")
    await staff.expect("Trainees: 4")
    await staff.press_key("outcomes-btn-roster")
    sheet = await staff.expect(
        staff.label("outcomes-btn-roster-confirm", completed=3, dropped=0), button=True
    )
    assert not any("Trainee KK" in b for b in sheet.buttons())  # already dropped out
    await staff.press(next(b for b in sheet.buttons() if "Trainee KY Test" in b))
    await staff.expect(
        staff.label("outcomes-btn-roster-confirm", completed=2, dropped=1), button=True
    )
    await staff.press_key("outcomes-btn-roster-confirm", completed=2, dropped=1)
    await staff.expect("✅ Серикова Аида · 100%", button=True)
    assert await h.repo.outcomes.progress_of(apps["ru"].id) == ("completed", None)
    assert await h.repo.outcomes.progress_of(apps["en"].id) == ("completed", None)
    assert (await h.repo.outcomes.progress_of(apps["ky"].id))[0] == "dropped"
    await chat.expect("Вы окончили курс")
    async with h.app.db.read() as s:
        actions = list(await s.scalars(select(AuditLog.action)))
    assert actions.count("progress.completed") == 2 and actions.count("progress.dropped") == 2

    # ---- 6. certificates: generated in the trainee's language, sent, asked again -----
    await staff.press("✅ Серикова Аида · 100%")
    await staff.press_key("outcomes-btn-cert-make")
    await staff.expect(
        "🎓 Certificate No. TARAZIT-0001",
    )
    sent = documents(aida.bot_messages(), "certificate-")
    assert len(sent) == 1 and sent[0].file.data.startswith(b"%PDF")
    assert "Ваш сертификат" in sent[0].content
    en = Chat(h, people["en"], "en")
    # The en trainee's certificate is the centre's scan (a PDF), its caption the number.
    await staff.press_key("btn-back")
    await staff.press("✅ Trainee EN Test · 100%")
    await staff.press_key("outcomes-btn-cert-attach")
    await staff.expect("Send the certificate of")
    admin.send_document(
        b"%PDF-1.4 scan", "scan.pdf", mime_type="application/pdf", caption="ISDEL-2027-77"
    )
    await staff.expect(staff.text("outcomes-cert-sent"))
    got = await en.expect("No. ISDEL-2027-77")
    assert got.file is not None and got.file.data == b"%PDF-1.4 scan"
    # "My courses": status, attendance, certificate, and the certificate again.
    chat.tap_key("menu-my-applications")
    await chat.expect(chat.label("mycourses-button"), button=True)
    await chat.press_key("mycourses-button")
    mine = await chat.expect(chat.text("mycourses-header"))
    assert "курс окончил" in mine.content or "окончил(а) курс" in mine.content
    assert "Сертификат № TARAZIT-0001" in mine.content
    await chat.press(next(b for b in mine.buttons() if b.startswith("🎓")))
    await chat.expect("Ваш сертификат")
    again = documents(aida.bot_messages(), "certificate-")
    # Sent again by its file id: the same file, not generated twice.
    assert len(again) == 2 and again[0].file.file_id == again[1].file.file_id

    # The staff card and the export show the answers, the progress and the certificate.
    t_en = h.app.translator.bind("en")
    card_a = await card_text(t_en, h.repo, app_a)
    assert (
        "• What do you do now?: Student" in card_a and "• Year of birth (e.g. 1998): 1999" in card_a
    )
    current = [await h.repo.applications.get(a.id) for a in apps.values()]
    table = await build_table(t_en, h.repo, [a for a in current if a], trainees=True)
    column = {name: i for i, name in enumerate(table.headers)}
    row_a = next(r for r in table.rows if r[0] == app_a.id)
    assert row_a[column["Progress"]] == "completed"
    assert row_a[column["Certificate No."]] == "TARAZIT-0001"
    assert row_a[column["Any programming experience?"]] == "At school, Online courses"
    row_kk = next(r for r in table.rows if r[0] == apps["kk"].id)
    assert (
        row_kk[column["Progress"]] == "dropped out" and row_kk[column["What do you do now?"]] == ""
    )

    # ---- 7. follow-ups: answered by one, reminded once to the other, never more ------
    await moved(h, end + 31 * DAY)
    ask = await chat.expect("Месяцев после окончания курса")
    assert "1" in ask.content
    await en.expect("What do you do now?")
    await chat.press("💻 Работаю в IT")
    await chat.expect("Парка высоких технологий")
    await chat.press("Да")
    await chat.expect("центру занятости")
    await chat.press("Да")
    await chat.expect(chat.text("followup-employer"))
    chat.say("Bilim Soft LLP")
    await chat.expect(chat.text("followup-thanks"))
    await moved(h, end + 39 * DAY)
    await en.expect("A reminder")
    await moved(h, end + 80 * DAY)
    reminders_en = [m for m in people["en"].bot_messages() if "What do you do now?" in m.content]
    assert len(reminders_en) == 2  # the question and one reminder, never more
    assert len([m for m in aida.bot_messages() if "Напоминаем" in m.content]) == 0
    async with h.app.db.read() as s:
        answer = await s.get(FollowUp, (apps["ru"].id, 1))
        again = await s.scalar(
            select(Delivery.status).where(
                Delivery.dedupe_key == f"followup-again:{apps['ru'].id}:1"
            )
        )
    assert answer is not None
    assert (answer.outcome, answer.park_resident, answer.contact_consent, answer.employer) == (
        "it",
        True,
        True,
        "Bilim Soft LLP",
    )
    assert again == "skipped"

    # "My data" lists what is kept beyond the form: answers, certificate, follow-ups.
    chat.tap_key("menu-my-data")
    mydata = await chat.expect("Bilim Soft LLP")
    assert "Ваше образование: Колледж" in mydata.content
    assert "Сертификат № TARAZIT-0001" in mydata.content

    # ---- 8. the programme report, checked against what happened above ----------------
    admin.send_command("admin")
    await staff.expect(staff.label("outcomes-section-button"), button=True)
    await staff.press_key("outcomes-section-button")
    await staff.expect(centre_label, button=True)
    await staff.press_key("outcomes-btn-report")
    await staff.press("all time")
    text = await staff.expect("Applied 4 → accepted 4 → started 4 → completed 2")
    assert "dropped out 2; certified 2" in text.content
    assert "Found a job 1; Other 1" in text.content
    assert "▓▓▓▓▓░░░░░ 2 Completed" in text.content  # bars a phone shows as they are
    report = await staff.expect("📑 Programme report · all time")
    assert report.file is not None
    book = load_workbook(io.BytesIO(report.file.data))
    summary_rows = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True)}
    assert summary_rows["Applied"] == 4 and summary_rows["Completed"] == 2
    assert summary_rows["Employed at 3 mo. (of those who answered)"] == 0
    assert "What do you do now" in book.sheetnames
    employment = {r[0]: r[1] for r in book["What do you do now"].iter_rows(values_only=True)}
    # Only Aida was asked (the others applied without the form): one row, hers.
    assert employment["Student"] == 1 and len(employment) == 2
    # Statistics break the applications down by the choice questions' answers.
    admin.send_command("admin")
    await staff.expect(staff.label("staff-section-stats"), button=True)
    await staff.press_key("staff-section-stats")
    await staff.expect(staff.text("stats-choose-period"))
    await staff.press_key("stats-period-all")
    stats = await staff.expect("❓ What do you do now? — answers: Student 1")
    assert "❓ Any programming experience? — answers: At school 1; Online courses 1" in (
        stats.content
    )
    # A free date range: the period of the sign-ups above, typed as two dates.
    await staff.press_key("outcomes-btn-range")
    await staff.expect(staff.text("outcomes-range-ask"))
    admin.send_text("31.12.2026 - 01.12.2026")
    await staff.expect(staff.text("outcomes-range-invalid"))
    # (applications are stamped by the database's wall clock, not the test's clock)
    admin.send_text("01.01.2026 - 31.12.2030")
    ranged = await staff.expect("January 1, 2026 – December 31, 2030")
    assert "❓ What do you do now? — answers: Student 1" in ranged.content
    assert refused_requests(h) == []
