"""The fake Bot API answers a real aiogram bot the way Telegram does."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from sandbox.telegram import (
    Event,
    EventKind,
    FakeBotAPI,
    FormattingError,
    RateLimits,
    Sender,
    parse_html,
    render_html,
    utf16_len,
)
from sandbox.telegram.media import SAMPLE_PNG

REPO_ROOT = Path(__file__).resolve().parent.parent
TOKEN = "42:TEST"
USER_ID = 1001
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


class FastSession(AiohttpSession):
    """aiogram's session without the 250 ms TLS grace sleep on close (plain HTTP here)."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(server: FakeBotAPI, token: str = TOKEN, timeout: float = 10.0) -> Bot:
    api = TelegramAPIServer.from_base(server.api_base)
    return Bot(token, session=FastSession(api=api, timeout=timeout))


@pytest.fixture
async def server() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(server: FakeBotAPI) -> AsyncIterator[Bot]:
    client = make_bot(server)
    try:
        yield client
    finally:
        await client.session.close()


async def raw_call(
    server: FakeBotAPI, method: str, *, json: dict[str, Any] | None = None, query: str = ""
) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        url = f"{server.url}/bot{TOKEN}/{method}{query}"
        async with session.post(url, json=json) as response:
            body: dict[str, Any] = await response.json()
            return response.status, body


# --------------------------------------------------------------------------- protocol


async def test_get_me_token_and_unknown_method(server: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (42, True, "fake_test_bot")

    stranger = make_bot(server, token="43:OTHER")
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await stranger.get_me()
    finally:
        await stranger.session.close()

    status, body = await raw_call(server, "fooBar")
    assert status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
    status, body = await raw_call(server, "GETME")
    assert status == 200
    assert body["result"]["id"] == 42


async def test_json_body_and_query_string_params(server: FakeBotAPI) -> None:
    server.add_user(USER_ID)
    status, body = await raw_call(
        server,
        "sendMessage",
        json={"chat_id": USER_ID, "text": "123", "reply_markup": '{"remove_keyboard": true}'},
    )
    assert status == 200
    assert body["result"]["text"] == "123"  # a string parameter is never JSON-decoded
    recorded = server.requests_for("sendMessage")[-1]
    assert recorded.params["reply_markup"] == {"remove_keyboard": True}

    status, body = await raw_call(server, "sendMessage", query=f"?chat_id={USER_ID}&text=true")
    assert (status, body["result"]["text"]) == (200, "true")


async def test_html_message_is_stored_as_plain_text_entities_and_html(
    server: FakeBotAPI, bot: Bot
) -> None:
    user = server.add_user(USER_ID)
    source = '<b>Курс</b> &amp; <a href="https://example.org">сайт</a> 😀<i>!</i>'
    sent = await bot.send_message(USER_ID, source, parse_mode="HTML")

    assert sent.text == "Курс & сайт 😀!"
    assert sent.from_user is not None
    assert sent.from_user.id == 42
    assert sent.entities is not None
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 4),
        ("text_link", 7, 4),
        ("italic", 14, 1),  # the emoji counts as two UTF-16 code units
    ]
    stored = user.last_bot_message()
    assert (stored.sender, stored.kind, stored.text) == (Sender.BOT, "text", sent.text)
    assert stored.html == source


def test_html_parser_accepts_telegram_html() -> None:
    source = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        "<strike>k</strike><del>d</del><tg-spoiler>p</tg-spoiler>"
        '<span class="tg-spoiler">q</span><code>c</code>'
        '<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote>quote</blockquote><blockquote expandable>more</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
        "&lt;&gt;&amp;&quot;&#65;&#x42;"
    )
    parsed = parse_html(source)
    assert parsed.text.endswith('<>&"AB')
    types = [entity["type"] for entity in parsed.entities]
    assert types.count("bold") == 2
    assert types.count("spoiler") == 2
    assert {"pre", "blockquote", "expandable_blockquote", "custom_emoji", "code"} <= set(types)
    pre = next(e for e in parsed.entities if e["type"] == "pre")
    assert pre["language"] == "python"
    assert render_html(parsed.text, parsed.entities).startswith("<b>b</b><b>s</b><i>i</i>")
    assert utf16_len("😀a") == 3


@pytest.mark.parametrize(
    ("source", "detail"),
    [
        ("Hello, world<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 12'),
        ("<b>never closed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("stray</b>", "Unexpected end tag at byte offset 5"),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("Tom & Jerry", 'Character "&" at byte offset 4'),
        ("a&nbsp;b", 'Character "&" at byte offset 1'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
def test_html_parser_rejects_bad_markup(source: str, detail: str) -> None:
    with pytest.raises(FormattingError) as exc_info:
        parse_html(source)
    assert exc_info.value.detail.startswith(detail)


async def test_bad_html_is_rejected_like_telegram(server: FakeBotAPI, bot: Bot) -> None:
    server.add_user(USER_ID)
    with pytest.raises(TelegramBadRequest) as exc_info:
        await bot.send_message(USER_ID, "Hello, world<foo>x</foo>", parse_mode="HTML")
    assert exc_info.value.message == (
        'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 12'
    )
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(USER_ID, "R&D", parse_mode="HTML")
    assert server.chat_messages(USER_ID) == []


async def test_text_and_caption_limits(server: FakeBotAPI, bot: Bot) -> None:
    server.add_user(USER_ID)
    await bot.send_message(USER_ID, "x" * 4096)
    await bot.send_message(USER_ID, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(USER_ID, "😀" * 2048)
    for too_long in ("x" * 4097, "😀" * 2049):
        with pytest.raises(TelegramBadRequest) as exc_info:
            await bot.send_message(USER_ID, too_long)
        assert exc_info.value.message == "Bad Request: message is too long"
    with pytest.raises(TelegramBadRequest) as exc_info:
        await bot.send_message(USER_ID, "")
    assert exc_info.value.message == "Bad Request: message text is empty"
    with pytest.raises(TelegramBadRequest, match="text must be non-empty"):
        await bot.send_message(USER_ID, "  \n ")
    photo = BufferedInputFile(SAMPLE_PNG, "chart.png")
    with pytest.raises(TelegramBadRequest) as exc_info:
        await bot.send_photo(USER_ID, photo, caption="c" * 1025)
    assert exc_info.value.message == "Bad Request: message caption is too long"
    await bot.send_photo(USER_ID, photo, caption="c" * 1024)


async def test_keyboard_validation(server: FakeBotAPI, bot: Bot) -> None:
    server.add_user(USER_ID)

    def markup(button: InlineKeyboardButton) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(inline_keyboard=[[button]])

    ok_data = "й" * 32  # 64 bytes in UTF-8
    await bot.send_message(
        USER_ID, "ok", reply_markup=markup(InlineKeyboardButton(text="a", callback_data=ok_data))
    )
    with pytest.raises(TelegramBadRequest) as exc_info:
        await bot.send_message(
            USER_ID,
            "x",
            reply_markup=markup(InlineKeyboardButton(text="a", callback_data=ok_data + "!")),
        )
    assert exc_info.value.message == "Bad Request: BUTTON_DATA_INVALID"
    with pytest.raises(TelegramBadRequest) as exc_info:
        await bot.send_message(
            USER_ID, "x", reply_markup=markup(InlineKeyboardButton(text="no action"))
        )
    assert exc_info.value.message == (
        "Bad Request: can't parse inline keyboard button: "
        "Text buttons are unallowed in the inline keyboard"
    )
    with pytest.raises(TelegramBadRequest, match="is invalid: Unsupported URL protocol"):
        await bot.send_message(
            USER_ID,
            "x",
            reply_markup=markup(InlineKeyboardButton(text="a", url="ftp://example.com")),
        )
    keyboard = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text=" ")]])
    with pytest.raises(TelegramBadRequest, match="BUTTON_TEXT_INVALID"):
        await bot.send_message(USER_ID, "x", reply_markup=keyboard)


# --------------------------------------------------------------------------- chats and users


async def test_unknown_blocked_and_never_started_chats(server: FakeBotAPI, bot: Bot) -> None:
    user = server.add_user(USER_ID)
    shy = server.add_user(2002, first_name="Bekzat", started=False)

    with pytest.raises(TelegramBadRequest) as exc_info:
        await bot.send_message(999, "hi")
    assert exc_info.value.message == "Bad Request: chat not found"
    with pytest.raises(TelegramForbiddenError) as forbidden:
        await bot.send_message(shy.id, "hi")
    assert forbidden.value.message == "Forbidden: bot can't initiate conversation with a user"
    shy.send_command("start")
    await bot.send_message(shy.id, "welcome")

    user.block()
    with pytest.raises(TelegramForbiddenError) as forbidden:
        await bot.send_message(USER_ID, "hi")
    assert forbidden.value.message == "Forbidden: bot was blocked by the user"
    user.unblock()
    await bot.send_message(USER_ID, "welcome back")

    updates = await bot.get_updates(timeout=0)
    member_updates = [u.my_chat_member for u in updates if u.my_chat_member is not None]
    assert [(m.old_chat_member.status, m.new_chat_member.status) for m in member_updates] == [
        ("member", "kicked"),
        ("kicked", "member"),
    ]
    assert member_updates[0].new_chat_member.user.id == 42
    assert member_updates[0].from_user.id == USER_ID


async def test_ban_and_unban_chat_member_like_telegram(server: FakeBotAPI, bot: Bot) -> None:
    member = server.add_user(2101, first_name="Olga")
    owner = server.add_user(2102, first_name="Owner")
    group = server.add_group_chat(-100_555, title="Staff")
    group.add_member(member)
    group.add_member(owner, status="creator")
    group.set_bot_status("member")
    # A bot that is not an administrator cannot ban anyone.
    with pytest.raises(TelegramBadRequest, match="not enough rights"):
        await bot.ban_chat_member(group.id, member.id)
    assert group.member_status(member.id) == "member"
    with pytest.raises(TelegramBadRequest, match="private chats"):
        await bot.ban_chat_member(member.id, member.id)
    group.set_bot_status("administrator")
    with pytest.raises(TelegramBadRequest, match="owner"):
        await bot.ban_chat_member(group.id, owner.id)
    assert await bot.ban_chat_member(group.id, member.id)
    assert group.member_status(member.id) == "kicked"
    assert (await bot.get_chat_member(group.id, member.id)).status == "kicked"
    # Unbanned: out of the chat, free to join again by a link.
    assert await bot.unban_chat_member(group.id, member.id, only_if_banned=True)
    assert (await bot.get_chat_member(group.id, member.id)).status == "left"
    # Without only_if_banned, unban removes a current member too (as Telegram does).
    group.add_member(member)
    assert await bot.unban_chat_member(group.id, member.id)
    assert group.member_status(member.id) == "left"


async def test_per_chat_history_copy_and_forward(server: FakeBotAPI, bot: Bot) -> None:
    user = server.add_user(USER_ID)
    staff = server.add_group_chat(-1001234567890, "Staff")
    question = user.send_text("When does the Python course start?")
    first = await bot.send_message(USER_ID, "Thanks, we will answer soon")

    copied = await bot.copy_message(staff.id, USER_ID, question["message_id"])
    forwarded = await bot.forward_message(staff.id, USER_ID, question["message_id"])
    own_copy = await bot.copy_message(USER_ID, USER_ID, first.message_id)

    assert question["message_id"] == 1
    assert first.message_id == 2
    assert own_copy.message_id == 3
    assert copied.message_id == 1  # message ids are per chat
    assert forwarded.message_id == 2
    assert forwarded.forward_origin is not None
    assert forwarded.forward_origin.type == "user"
    copy = staff.bot_messages()[0]
    assert (copy.text, copy.sender) == ("When does the Python course start?", Sender.BOT)
    assert [m.sender for m in user.messages()] == [Sender.USER, Sender.BOT, Sender.BOT]

    with pytest.raises(TelegramBadRequest) as exc_info:
        await bot.copy_message(staff.id, USER_ID, 99)
    assert exc_info.value.message == "Bad Request: message to copy not found"

    answer = user.send_text("thanks", chat_id=staff.id, reply_to=copy.message_id)
    assert answer["reply_to_message"]["message_id"] == copy.message_id
    staff.set_bot_status("kicked", by=user)
    with pytest.raises(TelegramForbiddenError, match="bot was kicked from the supergroup chat"):
        await bot.send_message(staff.id, "still here?")


async def test_edit_and_delete_rules(server: FakeBotAPI, bot: Bot) -> None:
    user = server.add_user(USER_ID)
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Next", callback_data="next")]]
    )
    sent = await bot.send_message(
        USER_ID, "<b>Page 1</b>", parse_mode="HTML", reply_markup=keyboard
    )

    with pytest.raises(TelegramBadRequest) as exc_info:
        await bot.edit_message_text(
            text="<b>Page 1</b>",
            chat_id=USER_ID,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=keyboard,
        )
    assert exc_info.value.message == NOT_MODIFIED
    # The same text without the keyboard is a modification: the keyboard goes away.
    edited = await bot.edit_message_text(
        text="<b>Page 1</b>", chat_id=USER_ID, message_id=sent.message_id, parse_mode="HTML"
    )
    assert isinstance(edited, Message)
    assert edited.reply_markup is None
    assert user.last_bot_message().edit_count == 1

    with pytest.raises(TelegramBadRequest) as exc_info:
        await bot.edit_message_text(text="x", chat_id=USER_ID, message_id=77)
    assert exc_info.value.message == "Bad Request: message to edit not found"
    with pytest.raises(TelegramBadRequest, match="there is no caption in the message to edit"):
        await bot.edit_message_caption(chat_id=USER_ID, message_id=sent.message_id, caption="c")
    user_message = user.send_text("mine")
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text(
            text="x", chat_id=USER_ID, message_id=user_message["message_id"]
        )

    assert await bot.delete_message(USER_ID, sent.message_id)
    with pytest.raises(TelegramBadRequest) as exc_info:
        await bot.delete_message(USER_ID, sent.message_id)
    assert exc_info.value.message == "Bad Request: message to delete not found"
    deleted = user.bot_messages(include_deleted=True)[0]
    assert deleted.deleted
    assert user.bot_messages() == []


async def test_answer_callback_query_once(server: FakeBotAPI, bot: Bot) -> None:
    user = server.add_user(USER_ID)
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Sign up", callback_data="apply:7")]]
    )
    await bot.send_message(USER_ID, "Python basics", reply_markup=keyboard)

    with pytest.raises(TelegramBadRequest) as exc_info:
        await bot.answer_callback_query("12345")
    assert exc_info.value.message == QUERY_TOO_OLD

    query = user.press_button("Sign up")
    assert query["data"] == "apply:7"
    assert await bot.answer_callback_query(query["id"], text="Done", show_alert=True)
    answer = server.callback_answer(query["id"])
    assert answer is not None
    assert (answer.text, answer.show_alert) == ("Done", True)
    with pytest.raises(TelegramBadRequest) as exc_info:
        await bot.answer_callback_query(query["id"])
    assert exc_info.value.message == QUERY_TOO_OLD

    second = user.press("apply:7", query["message"]["message_id"])
    with pytest.raises(TelegramBadRequest, match="MESSAGE_TOO_LONG"):
        await bot.answer_callback_query(second["id"], text="x" * 201)

    with pytest.raises(
        AssertionError, match=r"buttons on recent bot messages: \{1: \['Sign up'\]\}"
    ):
        user.press_button("Cancel")


# --------------------------------------------------------------------------- updates


async def test_long_polling_returns_as_soon_as_an_update_arrives(
    server: FakeBotAPI, bot: Bot
) -> None:
    user = server.add_user(USER_ID)
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await server.wait_until_polling()
    started = time.monotonic()
    user.send_text("ping")
    updates = await asyncio.wait_for(poll, timeout=2)
    assert time.monotonic() - started < 1.0
    assert [u.message.text for u in updates if u.message is not None] == ["ping"]

    # Unconfirmed updates are delivered again; an offset confirms them.
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [updates[0].update_id]
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == []

    # allowed_updates filters updates created afterwards.
    assert await bot.get_updates(allowed_updates=["message"], timeout=0) == []
    user.block()
    assert server.pending_updates == []


async def test_second_poller_terminates_the_first(server: FakeBotAPI, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await server.wait_until_polling()
    second = asyncio.create_task(bot.get_updates(timeout=30))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first
    server.add_user(USER_ID).send_text("hi")
    assert len(await second) == 1


async def test_wait_for_sees_past_and_future_requests(server: FakeBotAPI, bot: Bot) -> None:
    server.add_user(USER_ID)
    await bot.send_message(USER_ID, "past")
    past = await server.wait_for(lambda r: r.method == "sendMessage")
    assert past.result["text"] == "past"

    future = asyncio.create_task(
        server.wait_for(lambda r: r.method == "sendChatAction" and r.chat_id == USER_ID)
    )
    await asyncio.sleep(0)
    await bot.send_chat_action(USER_ID, "typing")
    recorded = await future
    assert (recorded.ok, recorded.params["action"]) == (True, "typing")
    assert len(server.requests_for("sendmessage", chat_id=USER_ID)) == 1
    with pytest.raises(TimeoutError, match="no matching request"):
        await server.wait_for(lambda r: r.method == "sendPhoto", timeout=0.01)


# --------------------------------------------------------------------------- limits and faults


async def test_global_rate_limit_answers_429() -> None:
    # A slow refill (one token per 2 s) keeps the test deterministic on a slow machine.
    limits = RateLimits(global_per_second=0.5, global_burst=5, private_chat_per_second=None)
    async with FakeBotAPI(token=TOKEN, rate_limits=limits) as server:
        client = make_bot(server)
        try:
            for user_id in range(1, 7):
                server.add_user(user_id)
            for user_id in range(1, 6):
                await client.send_message(user_id, "news")
            with pytest.raises(TelegramRetryAfter) as exc_info:
                await client.send_message(6, "news")
            assert exc_info.value.retry_after == 2
            rejected = server.requests[-1]
            assert rejected.response_status == 429
            assert (
                rejected.description
                == f"Too Many Requests: retry after {exc_info.value.retry_after}"
            )
        finally:
            await client.session.close()


async def test_per_chat_rate_limit() -> None:
    limits = RateLimits(global_per_second=None, private_chat_per_second=0.1, private_chat_burst=2)
    async with FakeBotAPI(token=TOKEN, rate_limits=limits) as server:
        client = make_bot(server)
        try:
            server.add_user(1)
            server.add_user(2)
            await client.send_message(1, "a")
            await client.send_message(1, "b")
            with pytest.raises(TelegramRetryAfter):
                await client.send_message(1, "c")
            await client.send_message(2, "other chat is fine")
        finally:
            await client.session.close()


async def test_injected_faults(server: FakeBotAPI, bot: Bot) -> None:
    server.add_user(USER_ID)
    server.add_user(2002)

    server.inject("sendMessage", status=500)
    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await bot.send_message(USER_ID, "a")
    await bot.send_message(USER_ID, "served again")

    server.inject("sendMessage", status=429, retry_after=7, times=2)
    for _ in range(2):
        with pytest.raises(TelegramRetryAfter) as exc_info:
            await bot.send_message(USER_ID, "b")
        assert exc_info.value.retry_after == 7

    server.inject(chat_id=2002, status=403, description="Forbidden: user is deactivated")
    await bot.send_message(USER_ID, "other chats are unaffected")
    with pytest.raises(TelegramForbiddenError, match="user is deactivated"):
        await bot.send_message(2002, "c")
    assert [m.text for m in server.chat_messages(USER_ID)] == [
        "served again",
        "other chats are unaffected",
    ]


async def test_injected_delay_times_out_the_client(server: FakeBotAPI) -> None:
    server.add_user(USER_ID)
    impatient = make_bot(server, timeout=0.1)
    try:
        server.inject("sendMessage", delay=0.5)
        with pytest.raises(TelegramNetworkError, match="Request timeout error"):
            await impatient.send_message(USER_ID, "lost")
        # status=None: hang, then serve normally (the message arrives late).
        server.inject("sendMessage", delay=0.05, status=None)
        late = await impatient.send_message(USER_ID, "late but delivered")
        assert late.text == "late but delivered"
    finally:
        await impatient.session.close()


# --------------------------------------------------------------------------- files and bot profile


async def test_files_round_trip(server: FakeBotAPI, bot: Bot) -> None:
    user = server.add_user(USER_ID)
    document = await bot.send_document(
        USER_ID, BufferedInputFile(b"name;phone\n", "applications.csv"), caption="Export"
    )
    assert document.document is not None
    assert (document.document.file_name, document.document.mime_type) == (
        "applications.csv",
        "text/csv",
    )
    upload = server.requests_for("sendDocument")[-1].file_for("document")
    assert upload is not None
    assert (upload.filename, upload.data) == ("applications.csv", b"name;phone\n")
    stored = user.last_bot_message()
    assert stored.kind == "document"
    assert stored.file is not None
    assert stored.file.data == b"name;phone\n"
    downloaded = await bot.download(document.document.file_id)
    assert downloaded is not None
    assert downloaded.read() == b"name;phone\n"

    photo_message = user.send_photo(caption="my certificate")
    file_id = photo_message["photo"][-1]["file_id"]
    photo = await bot.download(file_id)
    assert photo is not None
    assert photo.read() == SAMPLE_PNG

    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(USER_ID, BufferedInputFile(b"not an image", "x.png"))
    with pytest.raises(TelegramBadRequest, match="wrong file identifier/HTTP URL specified"):
        await bot.send_photo(USER_ID, "AgACAgIAAxkBAAIBOWZ")
    resent = await bot.send_photo(USER_ID, file_id)
    assert resent.photo is not None
    assert resent.photo[-1].file_id == file_id


async def test_commands_per_scope_and_language(server: FakeBotAPI, bot: Bot) -> None:
    server.add_user(USER_ID)
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands(
        [BotCommand(command="start", description="Бастау")], language_code="kk"
    )
    await bot.set_my_commands(
        [BotCommand(command="staff", description="Staff menu")],
        scope=BotCommandScopeChat(chat_id=USER_ID),
    )
    assert [c.description for c in await bot.get_my_commands()] == ["Start"]
    assert [c.description for c in await bot.get_my_commands(language_code="kk")] == ["Бастау"]
    assert await bot.get_my_commands(language_code="ru") == []
    scoped = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=USER_ID))
    assert [c.command for c in scoped] == ["staff"]
    assert server.commands({"type": "chat", "chat_id": USER_ID}) == [
        {"command": "staff", "description": "Staff menu"}
    ]
    assert server.effective_commands(USER_ID, "kk") == [
        {"command": "staff", "description": "Staff menu"}
    ]
    server.add_user(2002)
    assert server.effective_commands(2002, "kk")[0]["description"] == "Бастау"
    assert server.effective_commands(2002, "en")[0]["description"] == "Start"
    await bot.delete_my_commands(language_code="kk")
    assert server.commands(language_code="kk") == []
    with pytest.raises(TelegramBadRequest, match="invalid command name"):
        await bot.set_my_commands([BotCommand(command="sign-up", description="x")])
    assert await bot.set_my_description("Courses bot", language_code="en")
    assert (await bot.get_my_description(language_code="en")).description == "Courses bot"


# --------------------------------------------------------------------------- simulated users


async def test_fake_user_helpers(server: FakeBotAPI, bot: Bot) -> None:
    aida = server.add_user(USER_ID, first_name="Aida", language_code="kk")
    other = server.add_user(2002, first_name="Timur", language_code="ru")

    start = aida.send_command("start", args="ref_42")
    assert start["text"] == "/start ref_42"
    assert start["entities"][0] == {"type": "bot_command", "offset": 0, "length": 6}
    contact = aida.send_contact("+77001234567")
    assert contact["contact"]["user_id"] == USER_ID
    assert aida.forward_from(other, "hello")["forward_origin"]["sender_user"]["id"] == 2002
    assert aida.send_sticker()["sticker"]["type"] == "regular"

    menu = ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text="Catalogue"), KeyboardButton(text="Share", request_contact=True)]
        ]
    )
    await bot.send_message(USER_ID, "Menu", reply_markup=menu)
    assert aida.reply_keyboard_buttons() == ["Catalogue", "Share"]
    shared = aida.press_reply_button("Share")
    assert shared["contact"]["user_id"] == USER_ID
    await bot.send_message(USER_ID, "Bye", reply_markup=ReplyKeyboardRemove())
    assert aida.reply_keyboard_buttons() == []

    updates = await bot.get_updates(timeout=0)
    messages = [u.message for u in updates if u.message is not None]
    assert [m.content_type for m in messages] == ["text", "contact", "text", "sticker", "contact"]
    assert messages[0].from_user is not None
    assert messages[0].from_user.language_code == "kk"


async def test_group_chat_messages(server: FakeBotAPI, bot: Bot) -> None:
    staff_user = server.add_user(USER_ID)
    staff = server.add_group_chat(-100200300, "Staff", members=[staff_user])
    assert staff.type == "group"
    staff_user.send_text("/stats", chat_id=staff.id)
    updates = await bot.get_updates(timeout=0)
    assert updates[-1].message is not None
    assert updates[-1].message.chat.id == staff.id
    await bot.send_message(staff.id, "Stats: 3 applications")
    reply = await staff.wait_reply()
    assert reply.text == "Stats: 3 applications"
    member = await bot.get_chat_member(staff.id, USER_ID)
    assert member.status == "member"


async def test_subscribe_receives_bot_and_user_events(server: FakeBotAPI, bot: Bot) -> None:
    user = server.add_user(USER_ID)
    seen: list[Event] = []
    async_seen: list[EventKind] = []

    async def on_event_async(event: Event) -> None:
        async_seen.append(event.kind)

    unsubscribe = server.subscribe(seen.append)
    server.subscribe(on_event_async)
    user.send_text("hi")
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Ok", callback_data="ok")]]
    )
    sent = await bot.send_message(USER_ID, "Hello", reply_markup=keyboard)
    query = user.press_button("Ok")
    await bot.answer_callback_query(query["id"], text="Noted")
    await bot.edit_message_text(text="Hello!", chat_id=USER_ID, message_id=sent.message_id)
    await bot.delete_message(USER_ID, sent.message_id)
    await bot.set_my_commands([BotCommand(command="help", description="Help")])
    await asyncio.sleep(0)
    unsubscribe()
    user.send_text("not seen by the unsubscribed callback")

    kinds = [event.kind for event in seen]
    assert kinds == [
        EventKind.USER_MESSAGE,
        EventKind.MESSAGE_SENT,
        EventKind.USER_CALLBACK,
        EventKind.CALLBACK_ANSWERED,
        EventKind.MESSAGE_EDITED,
        EventKind.MESSAGE_DELETED,
        EventKind.COMMANDS_CHANGED,
    ]
    answered = seen[3]
    assert (answered.data["text"], answered.data["show_alert"]) == ("Noted", False)
    assert seen[4].message is not None
    assert seen[4].message.text == "Hello!"
    assert async_seen[: len(kinds)] == kinds


# --------------------------------------------------------------------------- a real dispatcher


async def test_dispatcher_polling_round_trip(server: FakeBotAPI, bot: Bot) -> None:
    user = server.add_user(USER_ID, first_name="Aida")
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="More", callback_data="more")]]
        )
        await message.answer(
            f"Echo: <b>{message.text}</b>", parse_mode="HTML", reply_markup=keyboard
        )

    @dp.callback_query(F.data == "more")
    async def more(callback: CallbackQuery) -> None:
        await callback.answer("Loading")
        assert isinstance(callback.message, Message)
        await callback.message.edit_text("More details")

    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=False)
    )
    try:
        await server.wait_until_polling()
        user.send_text("hi")
        reply = await user.wait_reply()
        assert (reply.text, reply.html) == ("Echo: hi", "Echo: <b>hi</b>")
        assert reply.buttons() == ["More"]

        query = user.press_button("More")
        edited = await user.wait_reply()
        assert (edited.message_id, edited.text, edited.edit_count) == (
            reply.message_id,
            "More details",
            1,
        )
        answer = await user.wait_callback_answer(query["id"])
        assert answer.text == "Loading"
    finally:
        await dp.stop_polling()
        await polling


async def test_standalone_entry_point_prints_its_url() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.telegram",
        "--port",
        "0",
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
        url = line.decode().strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as session, session.get(f"{url}/bot1:x/getMe") as resp:
            assert (await resp.json())["ok"] is True
    finally:
        process.terminate()
        await process.wait()
