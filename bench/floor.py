"""The stack's floor: the deep-link sign-up on aiogram alone (``bench/signup.py --floor``).

The same conversation as the bot's deep link — the same questions, about the same texts
and keyboards, and the same Bot API requests per step — on aiogram with its own session
and in-memory form state, and nothing else: no database, no outbox, no translations, no
middlewares of ours. It has the bot's process-level tuning (``pin_response_models`` and
``settle_heap`` in ``bot/factory.py``), which is not the bot's logic. Its CPU per update
is what aiogram, aiohttp and pydantic cost for this conversation on this machine,
measured in the same run as the bot: the floor under the bot's own figure.

Requests per sign-up as the bot makes them (tests/test_signup_requests.py; counted by
the fake server for one citizen: 9 sendMessage, 5 editMessageText, 6
answerCallbackQuery): /start c_<course> sends the language picker; the language edits
it and sends the course card and the main menu; "sign up" sends the consent notice;
"I agree" edits it and sends the phone question with its reply keyboard; the shared
contact is answered with two messages (saved, and the district question); a district
and "any group" edit the question in place; "confirm" edits in the result, sends the
main menu and the staff card. Every button press is answered (answerCallbackQuery).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from html import escape
from typing import Any

LABELS = {
    "picker": "✓ English",
    "catalogue": "📚 Courses",
    "centre": None,
    "course": None,
    "signup": "✍️ Sign up",
    "ask_name": "",
    "use_contact_name": None,
    "share_phone": "📱 Send my number",
    "district": "Taraz (city)",
    "any_group": "Any group",
    "consent": "✅ I agree",
    "confirm": "✅ Confirm",
    "done": "Application No.",
    "deeplink": "start c_taraz-java",
}
DISTRICTS = [
    "Taraz (city)",
    "Bayzak district",
    "Zhambyl district",
    "Zhualy district",
    "Korday district",
    "Merki district",
    "Moyynkum district",
    "Sarysu district",
    "Talas district",
    "Shu district",
    "T. Ryskulov district",
]
CARD = (
    "<b>Java developer</b>\nTaraz IT centre · Taraz\n\n"
    + escape(
        "Three months of Java from the first line of code to a web service: syntax, "
        "object-oriented design, collections, SQL and Spring Boot, with a project of "
        "your own at the end. Classes are free for citizens of the region."
    )
    + "\n\n🗓 Starts 7 December 2026\n⏱ 12 weeks\n"
    "👥 Group 1: Mon, Wed, Fri 18:30–20:30\n👥 Group 2: Tue, Thu 10:00–13:00\n"
    "🪑 12 of 25 seats left\n🗣 Kazakh, Russian"
)
CONSENT = (
    "<b>Before you sign up</b>\n\nTaraz IT centre keeps your name, phone and district "
    "for this application, and your answers while you fill in the form. Staff of the "
    "centre see them. You can delete them at any time: 🔒 My data.\n\nDo you agree?"
)


def build(bot: Any) -> Any:
    from aiogram import Dispatcher, F, Router
    from aiogram.filters import CommandStart
    from aiogram.fsm.storage.memory import MemoryStorage
    from aiogram.types import (
        CallbackQuery,
        InlineKeyboardButton,
        InlineKeyboardMarkup,
        KeyboardButton,
        Message,
        ReplyKeyboardMarkup,
        ReplyKeyboardRemove,
    )

    def inline(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=t, callback_data=d) for t, d in row] for row in rows
            ]
        )

    menu = ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text="📚 Courses"), KeyboardButton(text="📝 My applications")],
            [KeyboardButton(text="🎓 My courses"), KeyboardButton(text="❓ Ask a question")],
            [KeyboardButton(text="🔒 My data"), KeyboardButton(text="🌐 Language")],
        ],
        resize_keyboard=True,
    )
    phone = ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text="📱 Send my number", request_contact=True)],
            [KeyboardButton(text="⬅️ Back")],
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    picker = inline(
        [("Қазақша", "lang:kk"), ("Кыргызча", "lang:ky")],
        [("Русский", "lang:ru"), ("✓ English", "lang:en")],
    )
    card = inline(
        [("✍️ Sign up", "su:start:1")], [("📍 Location", "cat:v:1"), ("⬅️ Back", "cat:c:1")]
    )
    consent = inline([("✅ I agree", "su:ok")], [("✖️ No, thanks", "su:no")])
    districts = inline(
        *[[(name, f"su:d:{i}")] for i, name in enumerate(DISTRICTS)], [("⬅️ Back", "su:back")]
    )
    groups = inline(
        [("Group 1 · Mon, Wed, Fri 18:30–20:30", "su:g:1")],
        [("Group 2 · Tue, Thu 10:00–13:00", "su:g:2")],
        [("Any group", "su:g:0")],
        [("⬅️ Back", "su:back")],
    )
    confirm = inline(
        [("✅ Confirm", "su:cf")], [("✏️ Change", "su:edit")], [("✖️ Cancel", "su:cancel")]
    )
    staff = inline([("✅ Accept", "sdc:a:1"), ("🕒 Waitlist", "sdc:w:1"), ("✖️ Reject", "sdc:r:1")])
    router = Router(name="floor")
    numbers = iter(range(1, 10**9))

    @router.message(CommandStart(deep_link=True))
    async def start(message: Message) -> None:
        await message.answer("Choose your language 👇", reply_markup=picker)

    @router.callback_query(F.data.startswith("lang:"))
    async def language(callback: CallbackQuery) -> None:
        await callback.answer()
        assert isinstance(callback.message, Message)
        await callback.message.edit_text("✓ English")
        await callback.message.answer(CARD, reply_markup=card)
        await callback.message.answer("Main menu 👇", reply_markup=menu)

    @router.callback_query(F.data == "su:start:1")
    async def signup(callback: CallbackQuery, state: Any) -> None:
        await callback.answer()
        await state.update_data(course=1)
        assert isinstance(callback.message, Message)
        await callback.message.answer(CONSENT, reply_markup=consent)

    @router.callback_query(F.data == "su:ok")
    async def agree(callback: CallbackQuery, state: Any) -> None:
        await callback.answer()
        await state.update_data(consent=True)
        assert isinstance(callback.message, Message)
        await callback.message.edit_text("✅ Thank you. Step 1 of 3.")
        await callback.message.answer(
            "📱 Your phone number: press the button below.", reply_markup=phone
        )

    @router.message(F.contact)
    async def contact(message: Message, state: Any) -> None:
        assert message.contact is not None
        await state.update_data(phone=message.contact.phone_number)
        await message.answer("✅ Number saved.", reply_markup=ReplyKeyboardRemove())
        await message.answer(
            "🏘 Step 2 of 3. Which district do you live in?", reply_markup=districts
        )

    @router.callback_query(F.data.startswith("su:d:"))
    async def district(callback: CallbackQuery, state: Any) -> None:
        await callback.answer()
        await state.update_data(district=callback.data)
        assert isinstance(callback.message, Message)
        await callback.message.edit_text(
            "👥 Step 3 of 3. Which group suits you?", reply_markup=groups
        )

    @router.callback_query(F.data.startswith("su:g:"))
    async def group(callback: CallbackQuery, state: Any) -> None:
        await callback.answer()
        await state.update_data(group=callback.data)
        data = await state.get_data()
        assert isinstance(callback.message, Message)
        summary = (
            "<b>Check your application</b>\n\nCourse: Java developer\n"
            f"Name: Aida Serikova\nPhone: {escape(str(data['phone']))}\n"
            f"District: {DISTRICTS[0]}\nGroup: any\n\nAll correct?"
        )
        await callback.message.edit_text(summary, reply_markup=confirm)

    @router.callback_query(F.data == "su:cf")
    async def done(callback: CallbackQuery, state: Any) -> None:
        await callback.answer()
        await state.clear()
        number = next(numbers)
        assert isinstance(callback.message, Message)
        await callback.message.edit_text(
            f"✅ Application No. {number} sent. The centre will answer here."
        )
        await callback.message.answer("Main menu 👇", reply_markup=menu)
        await callback.bot.send_message(  # type: ignore[union-attr]
            STAFF_CHAT,
            f"🆕 <b>Application No. {number}</b>\nJava developer · Taraz IT centre\n"
            "Aida Serikova · Taraz (city)\nGroup: any",
            reply_markup=staff,
            protect_content=True,
        )

    dispatcher = Dispatcher(storage=MemoryStorage())
    dispatcher.include_router(router)
    return dispatcher


STAFF_CHAT = -100_777


async def run_floor(api: str) -> None:
    """Like ``bench.signup.run_bot``: print the labels, count between GO and STOP."""
    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from bench.signup import TOKEN, cpu_until_stop

    session = AiohttpSession(api=TelegramAPIServer.from_base(api))
    bot = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    dispatcher = build(bot)
    updates = 0

    async def count(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        nonlocal updates
        updates += 1
        return await handler(event, data)

    dispatcher.update.outer_middleware(count)
    # The same process-level tuning as the bot's (bot/factory.py), none of it the bot's
    # own logic: pydantic's Response[T] models held (else the collector drops them and
    # each answer rebuilds a model class), long-lived objects frozen, young objects
    # collected less often. Without it the floor would carry a stack bug the bot avoids.
    from bot.factory import pin_response_models, settle_heap

    pinned = pin_response_models()
    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False))
    await asyncio.sleep(0)
    settle_heap()
    print(json.dumps({"labels": LABELS}), flush=True)
    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    assert line.strip() == "GO", line
    updates = 0
    figures: dict[str, Any] = await cpu_until_stop()
    # Let the replies still in flight finish while the fake server is up.
    busy = asyncio.all_tasks() - {asyncio.current_task(), polling}
    if busy:
        await asyncio.wait(busy, timeout=10)
    figures.update(statements=0, writes=0, updates=updates, translations=0)
    # Cancelled under a long poll, the closed session fails it: not worth a warning.
    logging.getLogger("aiogram.dispatcher").setLevel(logging.CRITICAL)
    polling.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await polling
    await bot.session.close()
    del pinned
    print(json.dumps(figures), flush=True)
