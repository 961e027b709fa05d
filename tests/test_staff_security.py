"""Every staff route, found by walking the staff routers (the staff workspace, the
announcements wizard and the attendance section), gives a non-staff user nothing:
commands, menu buttons, forged callback data, and staff form states reached directly."""

from __future__ import annotations

import itertools
from enum import Enum
from typing import Any

from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import select

from bot.filters import TextKey
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.staff_callbacks import CourseAction, CoursesCB
from db.models import (
    Application,
    AuditLog,
    Broadcast,
    ClassSession,
    Course,
    Delivery,
    FsmState,
    Group,
    Staff,
)
from handlers.staff import staff_routers
from sandbox.harness import ADMIN_ID, STAFF_CHAT_ID, BotHarness
from tests.test_staff_support import (
    applicant,
    first_course,
    h,
    open_menu,
    refused_requests,
    staff_member,
    staff_message,
)

__all__ = ["h"]


def walked_routers() -> list[FeatureRouter]:
    """Every router that serves staff only: the workspace, announcements, attendance."""
    from handlers import attendance, broadcast

    return [*staff_routers(), broadcast.router, attendance.router]


def staff_routes() -> tuple[set[str], set[str], set[type[CallbackData]], set[str]]:
    """(commands, reply-button keys, callback data classes, FSM states) of every handler."""
    commands: set[str] = set()
    keys: set[str] = set()
    callbacks: set[type[CallbackData]] = set()
    states: set[str] = set()
    for recipe in walked_routers():
        router = recipe.build()
        for observer in (router.message, router.callback_query):
            for handler in observer.handlers:
                for flt in handler.filters or []:
                    cb = flt.callback
                    if isinstance(cb, Command):
                        commands |= {c for c in cb.commands if isinstance(c, str)}
                    elif isinstance(cb, TextKey):
                        keys |= set(cb.keys)
                    elif isinstance(cb, CallbackQueryFilter):
                        callbacks.add(cb.callback_data)
                    elif isinstance(cb, StateFilter):
                        states |= {
                            str(s.state) if isinstance(s, State) else str(s)
                            for s in cb.states
                            if s is not None
                        }
                    elif isinstance(cb, State):
                        states.add(str(cb.state))
    return commands, keys, callbacks, states


def test_every_staff_router_checks_the_role() -> None:
    for recipe in walked_routers():
        router = recipe.build()
        for observer in (router.message, router.callback_query):
            role_filters = [
                f.callback
                for f in observer._handler.filters or []
                if isinstance(f.callback, RoleFilter)
            ]
            assert role_filters, f"{router.name}.{observer.event_name} has no RoleFilter"
        if router.name.endswith(".team"):
            assert all(f.admin_only for f in role_filters)


def test_routes_found() -> None:
    commands, keys, callbacks, states = staff_routes()
    assert "admin" in commands
    assert "menu-staff" in keys
    assert {c.__prefix__ for c in callbacks} >= {
        "sm",
        "shm",
        "sdc",
        "sap",
        "scr",
        "ssc",
        "sst",
        "stm",
        "sau",
        "sxc",
        "bc",  # announcements
        "sat",  # attendance
    }
    assert {s.split(":")[1] for s in states} >= {
        "reject_reason",
        "capacity",
        "group_name",
        "group_capacity",
        "session_add",
        "session_move",
        "timetable",
        "team_add",
        "compose",  # announcements: the message, the audience, the time
        "audience",
        "when",
    }


def test_callback_prefixes_are_unique() -> None:
    from handlers import setup_routers

    setup_routers()  # imports every feature's callback data

    def subclasses(cls: type[CallbackData]) -> list[type[CallbackData]]:
        found = []
        for sub in cls.__subclasses__():
            found += [sub, *subclasses(sub)]
        return found

    prefixes = [c.__prefix__ for c in subclasses(CallbackData)]
    assert len(prefixes) == len(set(prefixes)), sorted(prefixes)


def forged(cls: type[CallbackData], ids: dict[str, int]) -> list[str]:
    """Callback data of every action of a class, naming rows that really exist."""
    choices: list[list[Any]] = []
    names = list(cls.model_fields)
    for name, field in cls.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, Enum):
            choices.append(list(kind))
        elif kind is int:
            choices.append([ids.get(name, ids["id"])])
        else:
            choices.append(["p"])
    out = []
    for combo in itertools.product(*choices):
        data = cls(**dict(zip(names, combo, strict=True))).pack()
        assert len(data.encode()) <= 64
        out.append(data)
    return out


async def snapshot(h: BotHarness) -> dict[str, Any]:
    async with h.app.db.transaction() as s:
        return {
            "applications": (
                await s.execute(
                    select(Application.id, Application.status, Application.group_id).order_by(
                        Application.id
                    )
                )
            ).all(),
            "groups": (
                await s.execute(
                    select(Group.id, Group.capacity, Group.seats_taken).order_by(Group.id)
                )
            ).all(),
            "courses": (
                await s.execute(select(Course.id, Course.enrolment_open).order_by(Course.id))
            ).all(),
            "sessions": (
                await s.execute(
                    select(
                        ClassSession.id,
                        ClassSession.starts_at,
                        ClassSession.room,
                        ClassSession.cancelled,
                    ).order_by(ClassSession.id)
                )
            ).all(),
            "staff": (
                await s.execute(select(Staff.user_id, Staff.role).order_by(Staff.user_id))
            ).all(),
            "audit": (await s.execute(select(AuditLog.id).order_by(AuditLog.id))).all(),
            "broadcasts": (await s.execute(select(Broadcast.id).order_by(Broadcast.id))).all(),
            "deliveries": (await s.execute(select(Delivery.id).order_by(Delivery.id))).all(),
        }


async def test_non_staff_gets_nothing_from_any_staff_route(h: BotHarness) -> None:
    course, groups = await first_course(h)
    _, app = await applicant(h, 4001, "ru", course.id)
    member = await staff_member(h, 4002)
    sessions = await h.repo.catalogue.sessions([groups[0].id], limit=1)
    ids = {
        "id": app.id,
        "course": course.id,
        "group": groups[0].id,
        "value": groups[0].id,
        "district": 0,
        "page": 0,
        "export": 0,
        "days": 7,
    }
    intruder = h.user(4666, first_name="Intruder", language_code="en", username="intruder")
    h.staff_group.add_member(intruder)
    intruder.send_command("start")
    first = await intruder.wait_reply()
    before = await snapshot(h)
    unknown = h.app.translator.plain("en", "fallback-unknown")
    stale = h.app.translator.plain("en", "error-stale-button")
    commands, keys, callbacks, states = staff_routes()

    async def replied_unknown() -> None:
        reply = await intruder.wait_reply()
        assert reply.content == unknown, reply.content

    for command in sorted(commands):
        intruder.send_command(command)
        await replied_unknown()
        intruder.send_command(command, chat_id=STAFF_CHAT_ID)  # silent in the group
    for key in sorted(keys):
        for locale in h.app.translator.locales:
            intruder.send_text(h.app.translator.plain(locale, key))
            await replied_unknown()

    pressed = 0
    post = staff_message(h, app.id)
    for cls in sorted(callbacks, key=lambda c: c.__prefix__):
        extra = {"id": member.id} if cls.__prefix__ == "stm" else {}
        for data in forged(cls, {**ids, **extra}):
            for chat_id, message_id in ((None, first.message_id), (STAFF_CHAT_ID, post.message_id)):
                query = intruder.press(data, message_id, chat_id=chat_id)
                answer = await intruder.wait_callback_answer(query["id"])
                assert (answer.text, answer.show_alert) == (stale, True), data
                pressed += 1
    assert pressed > 90

    storage_key = StorageKey(bot_id=h.server.sim.bot_id, chat_id=intruder.id, user_id=intruder.id)
    for state in sorted(states):
        form: dict[str, Any] = {
            "app_id": app.id,
            "seen": "p",
            "group_id": groups[0].id,
            "course_id": course.id,
            "session_id": sessions[0].id,
            "role": "admin",
            "name": "Hijack",
            # An announcement's draft, audience and time, as the wizard keeps them.
            "draft": [intruder.id, first.message_id],
            "content": {"kind": "text", "text": "Hijack", "entities": []},
            "aud": {},
            "at": "2026-12-20T10:00:00+00:00",
        }
        await h.app.storage.set_state(storage_key, state)
        await h.app.storage.set_data(storage_key, form)
        intruder.send_text("7")
        await replied_unknown()
        intruder.send_text(f"{intruder.id}")
        await replied_unknown()
        intruder.send_text("2026-12-20 10:00-12:00 101")
        await replied_unknown()
        intruder.forward_from(intruder)
        await replied_unknown()
        intruder.send_document(b"groups: []\n", "timetable.yaml")
        await replied_unknown()

    # Nothing but "I didn't understand" ever reached the intruder: no staff text, no file.
    after_start = [m for m in intruder.bot_messages() if m.message_id > first.message_id]
    assert after_start and all(m.content == unknown for m in after_start)
    assert all(m.kind == "text" for m in after_start)
    assert await snapshot(h) == before
    # handlers/fallback.py answers forged callbacks itself and CallbackAnswerMiddleware then
    # answers a second time (refused, logged); that belongs to the catch-all, not to staff.
    assert [r for r in refused_requests(h) if r.method != "answerCallbackQuery"] == []


async def test_removed_staff_in_a_form_and_with_old_buttons(h: BotHarness) -> None:
    """A staff member removed while typing a capacity: the form no longer works for them."""
    _course, groups = await first_course(h)
    member = await staff_member(h, 4101, "en")
    from tests.e2e import Chat

    chat = Chat(h, member, "en")
    menu = await open_menu(chat)
    await chat.press_key("staff-section-courses")
    group_button = CoursesCB(action=CourseAction.capacity_ask, id=groups[0].id).pack()
    query = member.press(group_button, menu.message_id)
    await member.wait_callback_answer(query["id"])
    await chat.expect(chat.text("staff-capacity-ask", group="x", taken=0, max=1000)[:8])
    await h.repo.staff.remove(ADMIN_ID, member.id)
    before = await snapshot(h)
    chat.say("50")
    reply = await member.wait_reply()
    assert reply.content == chat.text("fallback-unknown")
    query = member.press(
        CoursesCB(action=CourseAction.capacity, id=groups[0].id, value=9).pack(), menu.message_id
    )
    answer = await member.wait_callback_answer(query["id"])
    assert answer.text == chat.label("error-stale-button")
    member.send_command("admin")
    reply = await member.wait_reply()
    assert reply.content == chat.text("fallback-unknown")
    assert await snapshot(h) == before
    # The form state is still there but inert; it is not a staff member's any more.
    async with h.app.db.transaction() as s:
        assert await s.scalar(select(FsmState.state).where(FsmState.key.like(f"%:{member.id}:%")))
