"""Centre boundaries hold on every staff route: a manager of centre A, pressing forged
buttons, typing into forged form states and opening deep links that name centre B's
application, trainee, course, group, class, broadcast, staff member and chat, sees
nothing of B and changes nothing (the outcome screens included: progress, drop-outs,
the roster, certificates, the report and the journal).

Centre B's rows get ids (9001...) that no row of centre A has, so every forged id names
B's row or nothing; whatever the bot answers, none of B's names or numbers may reach the
intruder, and the database stays as it was.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import select, text

from db.dto_outcomes import COMPLETED, STUDYING
from db.models import (
    Application,
    AuditLog,
    Broadcast,
    Centre,
    CentreChat,
    CentreReach,
    Certificate,
    ClassSession,
    Course,
    Delivery,
    Group,
    Staff,
    StaffCentre,
)
from handlers import attendance, broadcast
from handlers.broadcast.base import BroadcastForm
from handlers.staff import staff_routers
from handlers.staff.common import StaffForm
from handlers.staff.outcomes.base import Out, OutCB, OutcomeForm
from sandbox.harness import ADMIN_ID, STAFF_CHAT_ID, BotHarness
from tests.test_staff_support import h, refused_requests

__all__ = ["h"]

B = 9001  # centre, course, group, class, application and broadcast of centre B
B_MEMBER = 9002  # B's staff member
B_APPLICANT = 9003
B_TRAINEE = 9004  # an accepted trainee of B's group who has completed (user 9005)
B_CHAT = -100_9001
A_CHAT = -100_8001
INTRUDER = 8001
MARKERS = (
    "Zetaville",
    "Zeta Centre",
    "Zeta Course",
    "Zeta Group",
    "Zeta Applicant",
    "+77019999999",
    "Zeta Trainee",
    "+77019999998",
    "ZetaStaff",
    "№ 9001",
    "#9001",
    "R-901",
)
NAME = '{"en": "%s", "ru": "%s", "kk": "%s", "ky": "%s"}'


def loc(value: str) -> str:
    return NAME % (value, value, value, value)


async def make_centre_b(h: BotHarness) -> None:
    region = (await h.repo.catalogue.regions())[0]
    starts = datetime(2026, 12, 10, 9, 0)
    async with h.app.db.transaction() as s:
        for sql, params in [
            (
                "INSERT INTO centres (id, code, region_id, name, city, address, latitude,"
                " longitude, timezone, sort, contacts) VALUES (:b, 'zeta', :r, :n, :c, :c, 43.0,"
                " 76.0, 'Asia/Almaty', 99, '{}')",
                {"b": B, "r": region.id, "n": loc("Zeta Centre"), "c": loc("Zetaville")},
            ),
            (
                "INSERT INTO courses (id, code, centre_id, title, description, languages,"
                " duration_weeks, certificate, enrolment_open, free_of_charge, sort) VALUES"
                " (:b, 'zeta-course', :b, :t, :t, 'ru', 8, :t, true, true, 0)",
                {"b": B, "t": loc("Zeta Course")},
            ),
            (
                "INSERT INTO groups (id, code, course_id, name, capacity, seats_taken) VALUES"
                " (:b, 'zeta-group', :b, :n, 5, 0)",
                {"b": B, "n": loc("Zeta Group")},
            ),
            (
                "INSERT INTO class_sessions (id, code, group_id, starts_at, ends_at, room,"
                " cancelled, updated_at) VALUES (:b, 'zeta-class', :b, :s, :e, 'R-901', false,"
                " :s)",
                {"b": B, "s": starts, "e": starts.replace(hour=11)},
            ),
        ]:
            await s.execute(text(sql), params)
    for uid, name in (
        (B_MEMBER, "ZetaStaff"),
        (B_APPLICANT, "ZetaPerson"),
        (B_TRAINEE + 1, "ZetaPupil"),
    ):
        await h.repo.users.upsert_seen(uid, first_name=name, username=None, language_code="ru")
        await h.repo.users.set_locale(uid, "ru")
    await h.repo.staff.grant(ADMIN_ID, B_MEMBER, B, "manager")
    async with h.app.db.transaction() as s:
        await s.execute(
            text(
                "INSERT INTO applications (id, user_id, course_id, group_id, full_name, phone,"
                " status, consent_at, created_at, updated_at) VALUES (:b, :u, :b, :b,"
                " 'Zeta Applicant', '+77019999999', 'pending', :t, :t, :t)"
            ),
            {
                "b": B,
                "u": B_APPLICANT,
                "t": datetime(2026, 11, 20, tzinfo=UTC).replace(tzinfo=None),
            },
        )
        await s.execute(
            text(
                "INSERT INTO applications (id, user_id, course_id, group_id, full_name, phone,"
                " status, progress, consent_at, created_at, updated_at) VALUES (:a, :u, :b, :b,"
                " 'Zeta Trainee', '+77019999998', 'accepted', :p, :t, :t, :t)"
            ),
            {
                "a": B_TRAINEE,
                "b": B,
                "u": B_TRAINEE + 1,
                "p": COMPLETED,
                "t": datetime(2026, 11, 2),
            },
        )
        await s.execute(
            text(
                "INSERT INTO broadcasts (id, author_id, source_chat_id, source_message_id,"
                " audience, scheduled_at, status, created_at) VALUES (:b, :m, :m, 1, :a, :t,"
                " 'scheduled', :n)"
            ),
            {
                "b": B,
                "m": B_MEMBER,
                "a": '{"centres": [9001]}',
                "t": datetime(2026, 12, 1, 9, 0),
                "n": datetime(2026, 11, 21, 9, 0),
            },
        )
    await h.repo.centres.bind_chat(ADMIN_ID, B, B_CHAT, "Zeta staff")


async def snapshot(h: BotHarness) -> dict[str, Any]:
    queries = {
        "applications": select(
            Application.id,
            Application.status,
            Application.group_id,
            Application.progress,
            Application.dropout_reason,
        ),
        "certificates": select(Certificate.id),
        "groups": select(Group.id, Group.capacity, Group.seats_taken),
        "courses": select(Course.id, Course.enrolment_open),
        "sessions": select(ClassSession.id, ClassSession.starts_at, ClassSession.cancelled),
        "staff": select(Staff.user_id, Staff.role),
        "grants": select(StaffCentre.user_id, StaffCentre.centre_id, StaffCentre.role),
        "chats": select(CentreChat.centre_id, CentreChat.chat_id),
        "contacts": select(Centre.id, Centre.contacts),
        "reach": select(CentreReach.centre_id, CentreReach.reach),
        "broadcasts": select(Broadcast.id, Broadcast.status),
        "deliveries": select(Delivery.id),
        "audit": select(AuditLog.id),
    }
    async with h.app.db.transaction() as s:
        return {
            k: sorted(map(tuple, (await s.execute(q)).all()), key=repr) for k, q in queries.items()
        }


def callback_classes() -> set[type[CallbackData]]:
    from handlers.staff.chats import ChatsCB

    found: set[type[CallbackData]] = {ChatsCB}
    recipes = [*staff_routers(), broadcast.router, attendance.router]
    for recipe in recipes:
        router = recipe.build()
        for sub in [router, *router.sub_routers]:
            for handler in sub.callback_query.handlers:
                for flt in handler.filters or []:
                    if isinstance(flt.callback, CallbackQueryFilter):
                        found.add(flt.callback.callback_data)
    return found


# The outcome screens' arguments that would pass every check but the centre's.
OUTCOME_ARGS = {
    Out.progress: STUDYING,
    Out.drop_reason: "job",
    Out.drop_skip: "job",
    Out.report_period: "30",
    Out.journal: "202612",
}


def forged(cls: type[CallbackData]) -> list[str]:
    """Every action of a class, each number naming one of centre B's rows."""
    if cls is OutCB:
        # B's trainee or B's group and centre (9001), and "all centres" (0) for the report.
        return [
            OutCB(action=action, id=id_, arg=OUTCOME_ARGS.get(action, "")).pack()
            for action in Out
            for id_ in (B, B_TRAINEE, *((0,) if action.name.startswith("report") else ()))
        ]
    choices: list[list[Any]] = []
    for name, field in cls.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, Enum):
            choices.append(list(kind))
        elif kind is int:
            choices.append(
                [
                    B_MEMBER
                    if (cls.__prefix__, name) == ("stm", "id")
                    else B_APPLICANT
                    if (cls.__prefix__, name) == ("sat", "value")
                    else B
                ]
            )
        elif name == "value" and cls.__prefix__ == "stm":
            choices.append(["s", "m"])
        elif name == "seen":
            choices.append(["p"])
        else:
            choices.append([""])
    names = list(cls.model_fields)
    return [
        cls(**dict(zip(names, combo, strict=True))).pack() for combo in itertools.product(*choices)
    ]


PERSONAL = (
    "Zeta Applicant",
    "+77019999999",
    "Zeta Trainee",
    "+77019999998",
    "ZetaStaff",
    "№ 9001",
    "#9001",
)


def leaked(h: BotHarness, markers: tuple[str, ...] = MARKERS) -> list[str]:
    """Bot API calls to the intruder (texts, captions, buttons, files) showing centre B."""
    out = []
    for r in h.server.requests:
        if str(r.params.get("chat_id")) != str(INTRUDER) and r.method != "answerCallbackQuery":
            continue
        seen = repr(dict(r.params)) + "".join(
            f.data.decode("utf-8", "replace") for f in r.files.values()
        )
        out += [f"{r.method} {marker} {seen[:300]}" for marker in markers if marker in seen]
    return out


async def test_centre_staff_get_nothing_of_another_centre(h: BotHarness) -> None:
    await make_centre_b(h)
    centre_a = (await h.repo.catalogue.centres())[0]
    intruder = h.user(INTRUDER, first_name="Anna", language_code="en")
    await h.repo.users.upsert_seen(INTRUDER, first_name="Anna", username=None, language_code="en")
    await h.repo.users.set_locale(INTRUDER, "en")
    await h.repo.staff.grant(ADMIN_ID, INTRUDER, centre_a.id, "manager")
    await h.repo.centres.bind_chat(ADMIN_ID, centre_a.id, A_CHAT, "A staff")
    h.server.add_group_chat(A_CHAT, title="A staff", members=[intruder])
    h.staff_group.add_member(intruder)
    intruder.send_command("admin")
    menu = await intruder.wait_reply()
    assert "Zeta" not in menu.content
    before = await snapshot(h)
    stale = h.app.translator.plain("en", "error-stale-button")

    assert h.process is not None and h.process.bot is not None
    posts: dict[int | None, int] = {None: menu.message_id}
    for group in (STAFF_CHAT_ID, A_CHAT):  # a bot message to press under in each group
        posts[group] = (await h.process.bot.send_message(group, "·")).message_id
    refused = 0
    for cls in sorted(callback_classes(), key=lambda c: c.__prefix__):
        for data in forged(cls):
            for chat_id, message_id in posts.items():
                query = intruder.press(data, message_id, chat_id=chat_id)
                answer = await intruder.wait_callback_answer(query["id"])
                refused += (answer.text, answer.show_alert) == (stale, True)
    assert refused > 250, refused
    # Sections that name no row (menus, lists, statistics) open on centre A's data only.
    assert leaked(h) == []

    # Form states reached directly, holding B's rows.
    key = StorageKey(bot_id=h.server.sim.bot_id, chat_id=INTRUDER, user_id=INTRUDER)
    form = {
        "app_id": B,
        "seen": "p",
        "group_id": B,
        "course_id": B,
        "session_id": B,
        "role": "staff",
        "centre": B,
        "centre_role": "staff",
        "field": "phones",
        "name": "Hijack",
        "draft": [INTRUDER, menu.message_id],
        "aud": {"course_id": B, "centres": [B]},
        "app": B_TRAINEE,
        "reason": "job",
    }
    states = [
        s.state for form_ in (StaffForm, BroadcastForm, OutcomeForm) for s in form_.__states__
    ]
    for state in states:
        for reply in ("7", str(B_APPLICANT), "2026-12-20 10:00-12:00 101"):
            await h.app.storage.set_state(key, state)
            await h.app.storage.set_data(key, form)
            intruder.send_text(reply)
            await intruder.wait_reply()
        await h.app.storage.set_state(key, StaffForm.timetable.state)
        await h.app.storage.set_data(key, form)
        intruder.send_document(
            b"groups:\n  - code: zeta-group\n    sessions:\n      - date: 2026-12-21\n"
            b"        start: '10:00'\n        end: '12:00'\n",
            "timetable.yaml",
        )
        await intruder.wait_reply()
    # B's certificate file sent in the attach step, and B's roster confirmed.
    await h.app.storage.set_state(key, OutcomeForm.certificate_file.state)
    await h.app.storage.set_data(key, form)
    intruder.send_document(b"%PDF-1.4 Zeta", "cert.pdf", mime_type="application/pdf")
    await intruder.wait_reply()
    await h.app.storage.set_state(key, None)
    await h.app.storage.set_data(key, {"roster_group": B, "roster_out": [B_TRAINEE]})
    for data in (
        OutCB(action=Out.roster_toggle, id=B_TRAINEE).pack(),
        OutCB(action=Out.roster_confirm, id=B).pack(),
    ):
        query = intruder.press(data, menu.message_id)
        answer = await intruder.wait_callback_answer(query["id"])
        assert (answer.text, answer.show_alert) == (stale, True)
    # A broadcast draft naming B's course, sent now: nobody of B is reached.
    await h.app.storage.set_state(key, BroadcastForm.audience.state)
    await h.app.storage.set_data(key, form)
    from handlers.broadcast.base import BcAction, BcCB

    query = intruder.press(BcCB(action=BcAction.now).pack(), menu.message_id)
    await intruder.wait_callback_answer(query["id"])

    assert leaked(h) == [], leaked(h)
    # A centre manager cannot widen even their own centre's announcement reach: only a
    # programme admin can, and the refusal says so.
    from handlers.staff.team_reach import ReachAction, ReachCB

    only_admin = h.app.translator.plain("en", "centres-reach-admin-only")
    for centre_id in (centre_a.id, B):
        for action, value in (
            (ReachAction.set, "e"),
            (ReachAction.set, "r"),
            (ReachAction.centre, ""),
        ):
            data = ReachCB(action=action, centre=centre_id, value=value).pack()
            query = intruder.press(data, menu.message_id)
            answer = await intruder.wait_callback_answer(query["id"])
            assert (answer.text, answer.show_alert) == (only_admin, True)

    # Deep links to B's course and centre open the public catalogue, never staff data.
    intruder.send_command("start", "c_zeta-course")
    await intruder.wait_reply()
    intruder.send_command("start", "ctr_zeta")
    await intruder.wait_reply()

    assert await snapshot(h) == before
    assert leaked(h, PERSONAL) == [], leaked(h, PERSONAL)
    # Nothing reached B's applicant or B's staff chat.
    assert not [
        r
        for r in h.server.requests
        if str(r.params.get("chat_id")) in (str(B_APPLICANT), str(B_CHAT))
    ]
    # Pressing the same section twice edits a message to what it shows ("not modified",
    # which the bot tolerates); nothing else may be refused.
    assert [
        r
        for r in refused_requests(h)
        if r.method != "answerCallbackQuery"
        and "not modified" not in str(r.response_body.get("description"))
    ] == []
