"""The per-update path: user cache, catalogue snapshot, one write per update, reads on
their own SQLite connections (issue 15). The speed itself is measured by
bench/signup.py; these tests prove that nothing is given up for it."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine

from bot.fsm_storage import SQLStorage
from bot.i18n import LANGUAGE_NAMES
from db.database import Database
from db.models import FsmState
from db.repo import Repos
from sandbox.harness import BotHarness
from tests.e2e import Chat


class Statements:
    def __init__(self) -> None:
        self.sql: list[str] = []
        self.commits = 0

    @property
    def writes(self) -> int:
        return len([s for s in self.sql if s.lstrip().upper().startswith(("INSERT", "DELETE"))])

    @property
    def count(self) -> int:
        return len([s for s in self.sql if not s.lstrip().upper().startswith(("BEGIN", "PRAGMA"))])


@contextmanager
def counting() -> Iterator[Statements]:
    """Every SQL statement and COMMIT of every engine while inside."""
    seen = Statements()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.sql.append(statement)

    def commit(_conn: Any) -> None:
        seen.commits += 1

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "commit", commit)


async def test_user_record_cached_and_kept_true(sqlite_db: Database) -> None:
    repo = Repos.create(sqlite_db, cache=True)
    profile = {"first_name": "Aida", "username": None, "language_code": "kk"}
    user, created = await repo.users.upsert_seen(7, **profile)
    assert created
    with counting() as seen:
        again, created = await repo.users.upsert_seen(7, **profile)
    assert not created and again == user and seen.count == 0
    # A write through the repository changes the cached record too.
    await repo.users.set_locale(7, "ru")
    with counting() as seen:
        cached, _ = await repo.users.upsert_seen(7, **profile)
    assert cached.locale == "ru" and seen.count == 0
    assert (await repo.users.get(7)).locale == "ru"  # type: ignore[union-attr]
    # A changed Telegram profile is written (and the write is seen).
    renamed, _ = await repo.users.upsert_seen(7, **{**profile, "first_name": "Aidana"})
    assert renamed.first_name == "Aidana"
    assert (await repo.users.get(7)).first_name == "Aidana"  # type: ignore[union-attr]
    # Any write to the staff table (a role granted or taken away, by any repository)
    # empties the cache, so a cached record never outlives someone's reach.
    await repo.staff.set_role(1, 7, "staff")
    with counting() as seen:
        await repo.users.upsert_seen(7, **{**profile, "first_name": "Aidana"})
    assert seen.count == 1
    # Without the cache (webhook workers, Redis) every update reads the database.
    plain = Repos.create(sqlite_db)
    with counting() as seen:
        await plain.users.upsert_seen(7, **{**profile, "first_name": "Aidana"})
    assert seen.count == 1


async def test_catalogue_snapshot_follows_every_write(
    sqlite_url: str, template_db: Path, tmp_path: Path
) -> None:
    path = tmp_path / "snap.sqlite3"
    shutil.copyfile(template_db, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        repo = Repos.create(db, cache=True)
        centres = await repo.catalogue.centres()
        course = (await repo.catalogue.courses(centres[0].id))[0]
        with counting() as seen:
            assert (await repo.catalogue.course(course.id)) == course
            assert await repo.catalogue.districts(centres[0].region_id)
            assert await repo.catalogue.course_by_code(course.code) == course
        assert seen.count == 0
        # A staff edit through another repository is seen at once.
        await repo.courses.set_enrolment(course.id, not course.enrolment_open, actor_id=1)
        changed = await repo.catalogue.course(course.id)
        assert changed is not None and changed.enrolment_open is not course.enrolment_open
        # So is a seat taken (an UPDATE of groups) anywhere in this process.
        group = (await repo.catalogue.groups(course.id))[0]
        async with db.transaction_core() as conn:
            await conn.execute(
                text("UPDATE groups SET seats_taken = seats_taken + 1 WHERE id = :id"),
                {"id": group.id},
            )
        after = await repo.catalogue.course(course.id)
        assert after is not None and after.seats_taken == changed.seats_taken + 1
    finally:
        await db.dispose()


async def test_reads_do_not_wait_for_a_write_transaction(sqlite_db: Database) -> None:
    """On a SQLite file reads have their own connections (WAL): a read answers while a
    write transaction is open, and sees only what was committed."""
    repo = Repos.create(sqlite_db)
    await repo.users.upsert_seen(1, first_name="A", username=None, language_code="en")
    async with sqlite_db.transaction_core() as conn:
        await conn.execute(text("UPDATE users SET first_name = 'B' WHERE id = 1"))
        user = await asyncio.wait_for(repo.users.get(1), 5)
        assert user is not None and user.first_name == "A"
    assert (await repo.users.get(1)).first_name == "B"  # type: ignore[union-attr]


async def test_form_state_is_one_write_per_update(sqlite_db: Database) -> None:
    storage = SQLStorage(sqlite_db, cache=True)
    key = StorageKey(bot_id=1, chat_id=5, user_id=5)
    with counting() as seen:
        async with storage.unit_of_work():
            await storage.update_data(key, {"full_name": "Serikova Aida"})
            await storage.set_state(key, "SignUp:phone")
            await storage.update_data(key, {"phone": "+77001234567"})
            assert seen.writes == 0  # nothing written yet: collected for the end
        assert seen.commits == 1 and seen.writes == 1
    # A new process (no cache) reads the form back: it survives a restart.
    fresh = SQLStorage(sqlite_db)
    assert await fresh.get_state(key) == "SignUp:phone"
    assert await fresh.get_data(key) == {"full_name": "Serikova Aida", "phone": "+77001234567"}
    # A flush (the bot does one before every Bot API request) writes what was collected.
    async with storage.unit_of_work():
        await storage.set_state(key, "SignUp:district")
        await sqlite_db.flush()
        assert await fresh.get_state(key) == "SignUp:district"
        await storage.set_state(key, None)
        await storage.set_data(key, {})
    async with sqlite_db.read() as s:
        assert (await s.scalar(select(FsmState.key))) is None


async def test_failed_write_leaves_no_false_state_in_the_cache(sqlite_db: Database) -> None:
    storage = SQLStorage(sqlite_db, cache=True)
    key = StorageKey(bot_id=1, chat_id=6, user_id=6)
    await storage.set_state(key, "SignUp:name")
    try:
        async with storage.unit_of_work():
            await storage.set_state(key, "SignUp:phone")
            sqlite_db.defer(text("INSERT INTO no_such_table VALUES (1)"))
    except Exception:
        pass
    else:  # pragma: no cover - the write must fail
        raise AssertionError("the deferred write should have failed")
    # The transaction rolled back; the cache must say what the database says.
    assert await storage.get_state(key) == "SignUp:name"


async def test_signup_saves_each_answer_before_the_next_question(harness: BotHarness) -> None:
    """The reply to an answer is sent only after the answer is saved: a new process
    started the moment the question arrives continues from there."""
    h = harness
    centre = (await h.repo.catalogue.centres())[0]
    course = (await h.repo.catalogue.courses(centre.id))[0]
    user = h.user(8101, language_code="en")
    chat = Chat(h, user, "en")
    user.send_command("start", f"c_{course.code}")
    await chat.expect("Choose your language")
    await chat.press(f"✓ {LANGUAGE_NAMES['en']}")
    await chat.expect(chat.label("course-signup"), button=True)
    await chat.press_key("course-signup")
    await chat.expect(chat.label("signup-consent-agree"), button=True)
    await chat.press_key("signup-consent-agree")
    await chat.expect(chat.text("signup-ask-phone")[:20])
    chat.say("0555 123 456")
    await chat.expect(chat.text("signup-ask-name")[:20])
    # Read the database directly, as a new process would, at the moment the question
    # arrived: the phone and the name step are there.
    async with h.app.db.read() as s:
        row = (await s.execute(select(FsmState.state, FsmState.data))).one()
    assert row.state == "SignUp:name" and row.data["phone"] == "+996555123456"


async def test_deferred_writes_join_the_next_transaction(sqlite_db: Database) -> None:
    storage = SQLStorage(sqlite_db, cache=True)
    repo = Repos.create(sqlite_db, cache=True)
    key = StorageKey(bot_id=1, chat_id=9, user_id=9)
    fresh = SQLStorage(sqlite_db)
    with counting() as seen:
        async with storage.unit_of_work():
            await storage.set_state(key, "SignUp:name")
            # A first contact: the new user's row waits for the update's other writes.
            _, created = await repo.users.upsert_seen(
                9, first_name="A", username=None, language_code="en"
            )
            assert created and sqlite_db.is_deferred(("user", 9))
            async with sqlite_db.read() as s:
                assert await s.scalar(text("SELECT count(*) FROM users")) == 0
            # A write of the handler's own: what was collected runs first, in its
            # transaction (the row it updates exists by then).
            await repo.users.set_source_if_empty(9, "channel")
            assert await fresh.get_state(key) == "SignUp:name"
            stored = await Repos.create(sqlite_db).users.get(9)
            assert stored is not None and stored.source == "channel"
            # A transaction that fails gives the collected writes back for the next one.
            await storage.set_state(key, "SignUp:phone")
            try:
                async with sqlite_db.transaction_core() as conn:
                    await conn.execute(text("INSERT INTO no_such_table VALUES (1)"))
            except Exception:
                pass
            assert await fresh.get_state(key) == "SignUp:name"
        assert await fresh.get_state(key) == "SignUp:phone"
    assert seen.commits == 2  # the handler's own (with the user and form) and the end
    # A task started inside the update and still running after it writes at once.
    leftover: list[asyncio.Task[None]] = []

    async def late_write() -> None:
        await asyncio.sleep(0.05)
        await repo.applications.record_funnel(9, "started", None)

    async with storage.unit_of_work():
        leftover.append(asyncio.create_task(late_write()))
    await leftover[0]
    async with sqlite_db.read() as s:
        assert await s.scalar(text("SELECT count(*) FROM funnel_events")) == 1


async def test_staff_role_cache_follows_the_staff_table(sqlite_db: Database) -> None:
    repo = Repos.create(sqlite_db, cache=True)
    await repo.users.upsert_seen(11, first_name="A", username=None, language_code="en")
    assert await repo.staff.role_of(11) is None
    with counting() as seen:
        assert await repo.staff.role_of(11) is None
    assert seen.count == 0
    await repo.staff.set_role(1, 11, "staff")
    assert await repo.staff.role_of(11) == "staff"
    await repo.staff.remove(1, 11)
    assert await repo.staff.role_of(11) is None  # removing someone removes their reach


async def test_writes_of_concurrent_updates_are_committed_together(any_db: Database) -> None:
    """Updates flushing while a commit runs share the next one (group commit); a write
    that fails there fails its own update only, and the others are still saved (SQLite
    and PostgreSQL)."""
    storage = SQLStorage(any_db, cache=True)
    fresh = SQLStorage(any_db)
    keys = [StorageKey(bot_id=1, chat_id=20 + i, user_id=20 + i) for i in range(6)]

    async def update(key: StorageKey, *, broken: bool = False) -> None:
        async with storage.unit_of_work():
            await storage.set_state(key, "SignUp:phone")
            if broken:
                any_db.defer(text("INSERT INTO no_such_table VALUES (1)"))

    for key in keys:  # known to the cache: the updates below never wait for a read
        await storage.set_state(key, "SignUp:name")
    before = any_db.group_commit.commits
    with counting() as seen:
        await asyncio.gather(*(update(k) for k in keys[:5]))
    # All five flushed before the committer ran: one transaction for the five.
    assert any_db.group_commit.commits - before == 1 and seen.commits == 1
    for key in keys[:5]:
        assert await fresh.get_state(key) == "SignUp:phone"

    outcomes = await asyncio.gather(
        update(keys[0]), update(keys[5], broken=True), update(keys[1]), return_exceptions=True
    )
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], Exception)
    assert await fresh.get_state(keys[5]) == "SignUp:name"  # its write rolled back
    assert await storage.get_state(keys[5]) == "SignUp:name"  # and the cache says so


def test_staff_routers_behind_a_gate_all_check_the_role() -> None:
    """A citizen's update skips a Gate at one role check: that is only the same as
    offering it to each router inside if every one of them checks the role itself."""
    from aiogram import Router

    from bot.roles import RoleFilter
    from handlers import setup_routers

    gates = [r for r in setup_routers().sub_routers if r.name.startswith("gate: ")]
    assert len(gates) == 2

    def checks_role(router: Router, observer: str) -> bool:
        own = router.observers[observer]
        if any(isinstance(f.callback, RoleFilter) for f in own._handler.filters or ()):
            return True
        parent = router.parent_router
        return parent is not None and parent not in gates and checks_role(parent, observer)

    inside = [r for gate in gates for r in gate.chain_tail if r is not gate]
    assert len(inside) >= 17
    for router in inside:
        for observer in ("message", "callback_query"):
            if router.observers[observer].handlers:
                assert checks_role(router, observer), (router.name, observer)


def test_bound_translators_and_static_keyboards_are_built_once() -> None:
    from bot.i18n import Translator
    from bot.keyboards import form_keyboard, language_picker, main_menu

    translator = Translator()
    t = translator.bind("kk")
    assert translator.bind("kk") is t and translator.bind("en") is not t
    assert main_menu(t) is main_menu(translator.bind("kk"))
    assert main_menu(t, staff=True) is not main_menu(t)
    assert main_menu(t).keyboard[0][0].text == t.plain("menu-catalogue")
    assert main_menu(translator.bind("en")).keyboard[0][0].text == translator.plain(
        "en", "menu-catalogue"
    )
    assert form_keyboard(t) is form_keyboard(t)
    assert [b.text for b in form_keyboard(t, back=False).keyboard[-1]] == [t.plain("btn-cancel")]
    assert language_picker("ky") is language_picker("ky")
    first = language_picker("ky").inline_keyboard[0][0].text
    assert first == f"✓ {LANGUAGE_NAMES['ky']}"


def test_json_requests_are_the_bodies_aiogram_would_build() -> None:
    """The reply session's fast path builds the same JSON body as aiogram's own
    preparation, for the kinds of values replies carry."""
    from datetime import UTC, datetime

    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.methods import (
        AnswerCallbackQuery,
        BanChatMember,
        EditMessageText,
        RestrictChatMember,
        SendDocument,
        SendMessage,
        SetMyCommands,
        TelegramMethod,
    )
    from aiogram.types import (
        BotCommand,
        BotCommandScopeChat,
        ChatPermissions,
        ForceReply,
        InlineKeyboardButton,
        InlineKeyboardMarkup,
        KeyboardButton,
        LinkPreviewOptions,
        ReplyKeyboardMarkup,
        ReplyKeyboardRemove,
    )

    from bot.outbox import OutboxSession

    session = OutboxSession()
    bot = Bot("1:x", session=session, default=DefaultBotProperties(parse_mode="HTML"))
    inline = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="✓ Қазақша", callback_data="lang:kk")]]
    )
    reply = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="📱", request_contact=True)]], is_persistent=True
    )
    methods: list[TelegramMethod[Any]] = [
        SendMessage(chat_id=5, text="<b>a</b>", reply_markup=inline),
        SendMessage(chat_id=5, text="a", reply_markup=reply, disable_notification=False),
        SendMessage(chat_id=5, text="a", reply_markup=ReplyKeyboardRemove()),
        SendMessage(
            chat_id=5,
            text="a",
            reply_markup=ForceReply(),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
        EditMessageText(chat_id=5, message_id=7, text="b", reply_markup=inline),
        AnswerCallbackQuery(callback_query_id="q", text="c", show_alert=True, cache_time=0),
        BanChatMember(chat_id=5, user_id=6, until_date=datetime(2030, 1, 1, tzinfo=UTC)),
        RestrictChatMember(
            chat_id=-100, user_id=6, permissions=ChatPermissions(can_send_messages=False)
        ),
        SetMyCommands(
            commands=[BotCommand(command="start", description="Бастау")],
            scope=BotCommandScopeChat(chat_id=5),
            language_code="kk",
        ),
        SendDocument(chat_id=5, document="file-id", caption="<i>list</i>", protect_content=True),
    ]
    for method in methods:
        files: dict[str, Any] = {}
        expected = {
            key: prepared
            for key, value in method.model_dump(warnings=False).items()
            if (prepared := session.prepare_value(value, bot=bot, files=files, _dumps_json=False))
            is not None
        }
        built = session.build_form_data(bot, method)
        assert json.loads(built._value) == json.loads(json.dumps(expected)), method  # type: ignore[attr-defined]


def test_a_sent_message_comes_back_with_the_keyboard_it_was_sent_with() -> None:
    """The reply session parses Telegram's answer to a message with an inline keyboard
    into the same Message as aiogram does (the request's keyboard standing in for the
    echo); other answers and errors go through aiogram's own parsing."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.exceptions import TelegramBadRequest
    from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

    from bot.outbox import OutboxSession

    session, plain = OutboxSession(), AiohttpSession()
    bot = Bot("1:x", session=session)
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=f"District {i}", callback_data=f"d:{i}")] for i in range(3)
        ]
    )
    sent = SendMessage(chat_id=5, text="<b>Where?</b>", reply_markup=markup)
    echo = {
        "message_id": 9,
        "date": 1_800_000_000,
        "chat": {"id": 5, "type": "private", "first_name": "Aida"},
        "from": {"id": 1, "is_bot": True, "first_name": "Bot"},
        "text": "Where?",
        "entities": [{"type": "bold", "offset": 0, "length": 6}],
        "reply_markup": markup.model_dump(exclude_none=True),
    }
    answer = json.dumps({"ok": True, "result": echo})
    ours = session.check_response(bot, sent, 200, answer).result
    theirs = plain.check_response(bot, sent, 200, answer).result
    assert ours is not None and theirs is not None
    assert ours.model_dump() == theirs.model_dump()
    assert ours.reply_markup is markup and ours.bot is bot and ours.chat.id == 5
    # An edit of an inline message answers True; a keyboard-less answer; an error.
    edit = EditMessageText(inline_message_id="i", text="b", reply_markup=markup)
    assert session.check_response(bot, edit, 200, '{"ok": true, "result": true}').result is True
    no_markup = json.dumps({"ok": True, "result": {**echo, "reply_markup": None}})
    bare = session.check_response(bot, sent, 200, no_markup).result
    assert bare is not None and bare.reply_markup is None
    refused = {"ok": False, "error_code": 400, "description": "Bad Request: not modified"}
    with pytest.raises(TelegramBadRequest, match="not modified"):
        session.check_response(bot, sent, 400, json.dumps(refused))
    assert session.check_response(
        bot, AnswerCallbackQuery(callback_query_id="q"), 200, '{"ok": true, "result": true}'
    ).result


async def test_first_contact_creates_the_user_in_one_statement(any_db: Database) -> None:
    """Created by INSERT … RETURNING on both databases; a later profile change updates
    the row, and a username moves to its newest holder."""
    repo = Repos.create(any_db)  # no cache: every call reaches the database
    user, created = await repo.users.upsert_seen(
        31, first_name="Aida", username="Aida_S", language_code="kk"
    )
    assert created and user.username == "aida_s" and user.created_at is not None
    assert user.is_active and user.reminders_enabled and user.locale is None
    again, created = await repo.users.upsert_seen(
        31, first_name="Aida", username="aida_s", language_code="kk"
    )
    assert not created and again == user
    other, created = await repo.users.upsert_seen(
        32, first_name="Bek", username="aida_s", language_code="ru"
    )
    assert created and other.username == "aida_s"
    assert (await repo.users.get(31)).username is None  # type: ignore[union-attr]
    renamed, created = await repo.users.upsert_seen(
        31, first_name="Aidana", username=None, language_code="kk"
    )
    assert not created and renamed.first_name == "Aidana"
    assert renamed.created_at == user.created_at


async def test_a_user_without_applications_is_not_looked_up_again(sqlite_db: Database) -> None:
    """A new citizen's steps look for their applications (the menu, the course card,
    the sign-up's checks) without a query each time; an application submitted by them is
    seen at once, and a write to the table during the read stores nothing."""

    from tests.factories import make_catalogue, make_users, submit_application

    repo = Repos.create(sqlite_db, cache=True)
    cat = await make_catalogue(sqlite_db, capacities=(25,))
    await make_users(sqlite_db, [41, 42])
    assert await repo.applications.for_user(41) == []
    with counting() as seen:
        assert await repo.applications.live_for_user(41) == []
        assert await repo.applications.for_user(41) == []
    assert seen.count == 0
    outcome = await submit_application(repo, 41, cat.course_id)
    with counting() as seen:
        assert [a.id for a in await repo.applications.for_user(41)] == [outcome.application.id]
    assert seen.count == 1
    # Read while the table moved on (another update's write): not remembered as empty.
    assert repo.users.cache is not None
    before = sqlite_db.changes.generation(("applications",))
    await repo.applications.decide(outcome.application.id, actor_id=1, action="reject")
    repo.users.cache.put_no_applications(42, before)
    assert not repo.users.cache.has_no_applications(42)
    # Without the cache (webhook workers, several processes) every call reads.
    plain = Repos.create(sqlite_db)
    await plain.applications.for_user(42)
    with counting() as seen:
        await plain.applications.for_user(42)
    assert seen.count == 1


async def test_a_new_citizen_is_never_looked_up_for_applications(sqlite_db: Database) -> None:
    """A person whose row did not exist has no application: their first update creates
    them, and the steps after it find none without a query, until they submit one."""

    from tests.factories import make_catalogue, submit_application

    repo = Repos.create(sqlite_db, cache=True)
    cat = await make_catalogue(sqlite_db, capacities=(25,))
    async with sqlite_db.unit_of_work():  # a first update: the row is written at its end
        await repo.users.upsert_seen(51, first_name="Aida", username=None, language_code="kk")
    await repo.users.upsert_seen(52, first_name="Bek", username=None, language_code="ky")
    with counting() as seen:
        assert await repo.applications.for_user(51) == []
        assert await repo.applications.live_for_user(52) == []
    assert seen.count == 0
    outcome = await submit_application(repo, 51, cat.course_id)
    assert [a.id for a in await repo.applications.for_user(51)] == [outcome.application.id]


async def test_a_user_created_in_this_update_is_found_by_id(sqlite_db: Database) -> None:
    """A staff check in a person's first update (their reply in a staff chat) reads their
    row by id: the deferred INSERT is written first, so they are found."""
    repo = Repos.create(sqlite_db, cache=True)
    async with sqlite_db.unit_of_work():
        await repo.users.upsert_seen(12, first_name="Dana", username="dana", language_code="ru")
        found = await repo.users.with_scope(12)
        assert found is not None and found.username == "dana"
        assert not sqlite_db.is_deferred(("user", 12))
        await repo.users.upsert_seen(13, first_name="Bek", username=None, language_code="ky")
        assert (await repo.users.get(13)) is not None


async def test_staff_chats_and_course_questions_follow_every_write(
    sqlite_url: str, template_db: Path, tmp_path: Path
) -> None:
    """Read at every sign-up, kept in memory under long polling; a write to their tables
    (a chat bound, a catalogue import) is seen at once."""
    path = tmp_path / "memo.sqlite3"
    shutil.copyfile(template_db, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        repo = Repos.create(db, cache=True)
        asking = [  # a course of the demo catalogue with extra questions, and its centre
            (centre, course)
            for centre in await repo.catalogue.centres()
            for course in await repo.catalogue.courses(centre.id)
            if await Repos.create(db).outcomes.course_questions(course.id)
        ]
        centre, course = asking[0]
        assert await repo.centres.chat_of(centre.id) is None
        questions = await repo.outcomes.course_questions(course.id)
        assert questions
        with counting() as seen:
            assert await repo.centres.chat_of(centre.id) is None
            assert await repo.outcomes.course_questions(course.id) == questions
        assert seen.count == 0
        await repo.centres.bind_chat(1, centre.id, -100_555, "Staff")
        bound = await repo.centres.chat_of(centre.id)
        assert bound is not None and bound.chat_id == -100_555
        async with db.transaction_core() as conn:
            await conn.execute(text("DELETE FROM course_questions"))
        assert await repo.outcomes.course_questions(course.id) == []
        # Without the cache (several processes) every call reads.
        plain = Repos.create(db)
        with counting() as seen:
            await plain.centres.chat_of(centre.id)
            await plain.outcomes.course_questions(course.id)
        assert seen.count == 2
    finally:
        await db.dispose()


async def test_a_cached_user_record_answers_the_staff_role(sqlite_db: Database) -> None:
    repo = Repos.create(sqlite_db, cache=True)
    await repo.users.upsert_seen(21, first_name="A", username=None, language_code="en")
    with counting() as seen:
        assert await repo.staff.role_of(21) is None
    assert seen.count == 0
    await repo.staff.set_role(1, 21, "staff")  # empties the cache: read again
    assert await repo.staff.role_of(21) == "staff"
