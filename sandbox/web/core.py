"""The sandbox world: the fake Bot API server, the personas, the real bot and its clock.

Everything a person does on the page goes through here as a simulated Telegram user, and
every change in the simulated world is turned into JSON for the page's WebSocket.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TextIO

from bot.clock import OffsetClock
from bot.config import PROJECT_ROOT, Settings
from bot.runner import BotProcess
from sandbox.telegram import ChatMessage, Event, EventKind, FakeBotAPI, FakeUser
from sandbox.web.personas import (
    ASEL,
    CENTRE_CHAT_ID,
    CENTRE_CHAT_TITLE,
    CENTRE_MANAGER_CENTRE,
    CHATS,
    CHATS_BY_KEY,
    COORDINATOR,
    PERSONAS,
    STAFF_CHAT_ID,
    STAFF_CHAT_TITLE,
    ChatView,
)
from sandbox.web.view import message_json, reply_keyboard

log = logging.getLogger(__name__)

# A made-up token: only the local fake server accepts it.
SANDBOX_TOKEN: Final = "7000000001:sandbox-local-only"
BOT_USERNAME: Final = "itcourses_sandbox_bot"
BOT_NAME: Final = "IT Courses"
DEFAULT_DATA_DIR: Final = PROJECT_ROOT / "data" / "sandbox"
DATABASE_NAME: Final = "bot.sqlite3"
MAX_TEXT: Final = 4096
MAX_CLOCK_STEP: Final = timedelta(days=366)
# Where the "send my location" reply button puts a persona (central Almaty).
_LOCATION: Final = (43.238949, 76.889709)
_COMMAND_RE: Final = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_LISTENER_BACKLOG: Final = 2000
_TICK_KINDS: Final = frozenset({EventKind.MESSAGE_SENT, EventKind.USER_MESSAGE})
_MESSAGE_KINDS: Final = frozenset(
    {EventKind.MESSAGE_SENT, EventKind.USER_MESSAGE, EventKind.MESSAGE_EDITED}
)


class SandboxError(ValueError):
    """Something the page asked for that a Telegram client could not do; one line."""


def database_file(data_dir: Path) -> Path:
    return data_dir / DATABASE_NAME


def sandbox_settings(base: Settings, *, api_url: str, data_dir: Path) -> Settings:
    """The bot's settings in the sandbox: the fake server, a SQLite file of its own, the
    personas as admin and staff chat. Nothing of production (token, database, Redis,
    webhook, admins) is kept."""
    database = database_file(data_dir).resolve()
    if base.database_url.startswith("sqlite") and _sqlite_path(base.database_url) == database:
        raise SandboxError(
            f"the sandbox would use the bot's own database {database}; "
            "give the sandbox another data directory"
        )
    return dataclasses.replace(
        base,
        bot_token=SANDBOX_TOKEN,
        bot_api_url=api_url,
        database_url=f"sqlite+aiosqlite:///{database}",
        redis_url=None,
        admin_ids=frozenset({COORDINATOR.user_id}),
        staff_chat_id=STAFF_CHAT_ID,
        webhook_url=None,
        webhook_secret=None,
        scheduler_enabled=True,
    )


def _sqlite_path(url: str) -> Path | None:
    _, _, path = url.partition(":///")
    return Path(path).resolve() if path and path != ":memory:" else None


class Sandbox:
    """The real bot (BotProcess) against a FakeBotAPI peopled by the personas.

    ``async with Sandbox(settings, data_dir=...) as sandbox:`` starts both; the web page
    (``sandbox.web.server``) is a thin HTTP layer over the methods here.
    """

    def __init__(
        self, settings: Settings, *, data_dir: Path | None = None, fresh: bool = True
    ) -> None:
        self.base_settings = settings
        self.data_dir = data_dir or DEFAULT_DATA_DIR
        self.fresh = fresh
        self.clock = OffsetClock()
        self.api = FakeBotAPI(
            token=SANDBOX_TOKEN, bot_username=BOT_USERNAME, bot_first_name=BOT_NAME
        )
        self.process: BotProcess | None = None
        self.settings: Settings | None = None
        self._listeners: set[asyncio.Queue[dict[str, Any]]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        # Seconds the sandbox clock was ahead when each message was sent, by (chat, id):
        # the page shows sandbox time, the fake server stamps real time.
        self._offsets: dict[tuple[int, int], int] = {}
        self._clock_lock = asyncio.Lock()
        self._lock_handle: TextIO | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        # Checked before anything is touched: never the production database.
        sandbox_settings(self.base_settings, api_url="http://127.0.0.1", data_dir=self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            if self.fresh:
                self._forget()
            await self.api.start("127.0.0.1", 0)
        except BaseException:
            self._unlock()
            raise
        try:
            staff = self.api.add_group_chat(STAFF_CHAT_ID, STAFF_CHAT_TITLE, supergroup=True)
            centre_chat = self.api.add_group_chat(
                CENTRE_CHAT_ID, CENTRE_CHAT_TITLE, supergroup=True
            )
            for persona in PERSONAS:
                user = self.api.add_user(
                    persona.user_id,
                    first_name=persona.first_name,
                    last_name=persona.last_name,
                    language_code=persona.language_code,
                    username=persona.username,
                )
                if persona.role == "staff" and persona is not ASEL:
                    staff.add_member(user, "administrator")
                elif persona is ASEL:
                    centre_chat.add_member(user, "administrator")
            self._unsubscribe = self.api.subscribe(self._on_event)
            self.settings = sandbox_settings(
                self.base_settings, api_url=self.api.api_base, data_dir=self.data_dir
            )
            self.process = BotProcess(self.settings, clock=self.clock)
            await self.process.start()
            await self._seat_centre_manager()
            await self.api.wait_until_polling(timeout=30)
        except BaseException:
            await self.stop()
            raise

    async def _seat_centre_manager(self) -> None:
        """Asel manages one lyceum, whose staff chat is bound to it: a visitor sees the
        centre boundary (her lists, chat and team hold that centre only)."""
        assert self.process is not None and self.process.app is not None
        repo = self.process.app.repo
        centre = await repo.catalogue.centre_by_code(CENTRE_MANAGER_CENTRE)
        if centre is None:  # a catalogue without that lyceum: she stays a plain user
            return
        await repo.users.upsert_seen(
            ASEL.user_id,
            first_name=ASEL.first_name,
            username=ASEL.username,
            language_code=ASEL.language_code,
        )
        await repo.staff.grant(COORDINATOR.user_id, ASEL.user_id, centre.id, "manager")
        bound = await repo.centres.chat_of(centre.id)
        if bound is None or bound.chat_id != CENTRE_CHAT_ID:
            await repo.centres.bind_chat(
                COORDINATOR.user_id, centre.id, CENTRE_CHAT_ID, CENTRE_CHAT_TITLE
            )

    def _lock(self) -> None:
        """One sandbox per data directory: a second would wipe the first one's database."""
        try:
            import fcntl
        except ImportError:  # not on this platform; nothing to guard with
            return
        handle = (self.data_dir / ".lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise SandboxError(
                f"another sandbox is running with {self.data_dir}; stop it first"
            ) from None
        self._lock_handle = handle

    def _unlock(self) -> None:
        handle, self._lock_handle = self._lock_handle, None
        if handle is not None:
            handle.close()  # closing releases the lock

    def _forget(self) -> None:
        """Start from an empty database: the simulated Telegram (chats, message ids,
        files) lives in memory, and a database kept from an earlier run would remember
        message ids that now belong to other messages."""
        database = database_file(self.data_dir)
        for suffix in ("", "-wal", "-shm", "-journal"):
            database.with_name(database.name + suffix).unlink(missing_ok=True)

    async def stop(self) -> None:
        if self.process is not None:
            await self.process.stop()
            self.process = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self.api.stop()
        self._unlock()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ reading

    @property
    def chats(self) -> tuple[ChatView, ...]:
        return CHATS

    def view(self, key: str) -> ChatView:
        view = CHATS_BY_KEY.get(key)
        if view is None:
            raise KeyError(key)
        return view

    def user(self, view: ChatView) -> FakeUser:
        return self.api.user(view.persona.user_id)

    def state_json(self) -> dict[str, Any]:
        bot = self.api.bot_user
        return {
            "bot": {"name": bot["first_name"], "username": bot["username"]},
            "chats": [self._chat_summary(view) for view in CHATS],
            "clock": self.clock_json(),
        }

    def _chat_summary(self, view: ChatView) -> dict[str, Any]:
        summary = view.as_json()
        messages = self.api.chat_messages(view.chat_id)
        summary["last"] = self._message_json(messages[-1]) if messages else None
        return summary

    def chat_json(self, view: ChatView) -> dict[str, Any]:
        """Everything the page needs to draw a chat: history, keyboard, command menu."""
        return {
            "chat": view.as_json(),
            "messages": [self._message_json(m) for m in self.api.chat_messages(view.chat_id)],
            "reply_keyboard": self._reply_keyboard(view.chat_id),
            "commands": self.commands(view),
            "description": self.description(view),
        }

    def commands(self, view: ChatView) -> list[dict[str, str]]:
        """The bot's command menu as this persona's Telegram shows it in this chat."""
        return self.api.effective_commands(
            view.chat_id,
            view.persona.language_code,
            user_id=view.persona.user_id if view.kind == "group" else None,
        )

    def description(self, view: ChatView) -> str | None:
        """ "What can this bot do?" text, in the persona's language (private chats)."""
        if view.kind != "private":
            return None
        descriptions = self.api.sim.descriptions
        return descriptions.get(view.persona.language_code) or descriptions.get("") or None

    def _reply_keyboard(self, chat_id: int) -> dict[str, Any] | None:
        return reply_keyboard(self.api.sim.chat(chat_id).reply_keyboard)

    def _message_json(self, message: ChatMessage) -> dict[str, Any]:
        offset = self._offsets.get((message.chat_id, message.message_id), 0)
        return message_json(message, date_offset=offset)

    def clock_json(self) -> dict[str, Any]:
        return {
            "now": self.clock.now().isoformat(timespec="seconds"),
            "offset_seconds": int(self.clock.offset.total_seconds()),
        }

    # ------------------------------------------------------------------ acting

    def send_text(self, view: ChatView, text: str, reply_to: int | None = None) -> dict[str, Any]:
        """A text message; ``reply_to`` makes it a Telegram reply to a message of the chat
        (how staff answer a citizen's question: a reply to its card in the staff chat)."""
        text = text.strip()
        if not text:
            raise SandboxError("the message is empty")
        if len(text) > MAX_TEXT:
            raise SandboxError(f"the message is longer than {MAX_TEXT} characters")
        if reply_to is not None:
            chat = self.api.sim.chat(view.chat_id)
            if self.api.sim.find_message(chat, reply_to) is None:
                raise SandboxError("the message to reply to is not in this chat")
        return self._act(
            view, lambda user: user.send_text(text, chat_id=view.chat_id, reply_to=reply_to)
        )

    def send_command(self, view: ChatView, command: str, args: str | None = None) -> dict[str, Any]:
        command = command.strip().lstrip("/").split("@", 1)[0]
        if not _COMMAND_RE.match(command):
            raise SandboxError("a command is 1-32 letters, digits or underscores")
        args = (args or "").strip() or None
        if args is not None and len(args) > MAX_TEXT - 40:
            raise SandboxError("the command is too long")
        return self._act(view, lambda user: user.send_command(command, args, chat_id=view.chat_id))

    def send_contact(self, view: ChatView) -> dict[str, Any]:
        """The persona shares their own contact (what a request_contact button sends)."""
        phone = view.persona.phone
        return self._act(view, lambda user: user.send_contact(phone, chat_id=view.chat_id))

    def send_location(self, view: ChatView) -> dict[str, Any]:
        latitude, longitude = _LOCATION
        return self._act(
            view, lambda user: user.send_location(latitude, longitude, chat_id=view.chat_id)
        )

    def send_file(
        self,
        view: ChatView,
        data: bytes,
        filename: str,
        mime_type: str | None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """An upload: a picture goes as a photo (as Telegram apps send it), anything else
        as a document."""
        from sandbox.telegram.media import is_image

        if not data:
            raise SandboxError("the file is empty")
        caption = (caption or "").strip() or None
        if caption is not None and len(caption) > 1024:
            raise SandboxError("a caption is at most 1024 characters")
        name = Path(filename or "file").name[:200] or "file"
        if is_image(data) and (mime_type or "").startswith("image/"):
            return self._act(
                view, lambda user: user.send_photo(data, caption=caption, chat_id=view.chat_id)
            )
        return self._act(
            view,
            lambda user: user.send_document(
                data, name, mime_type=mime_type, caption=caption, chat_id=view.chat_id
            ),
        )

    def press_inline(self, view: ChatView, message_id: int, data: str) -> str:
        """Press a callback button shown under a bot message; returns the query id."""
        message = next(
            (m for m in self.api.chat_messages(view.chat_id) if m.message_id == message_id),
            None,
        )
        if message is None:
            raise SandboxError("that message is gone")
        if not any(
            button.get("callback_data") == data
            for row in (message.reply_markup or {}).get("inline_keyboard") or []
            for button in row
        ):
            raise SandboxError("that button is no longer there")
        query = self._act(view, lambda user: user.press(data, message_id, chat_id=view.chat_id))
        return str(query["id"])

    def press_reply(self, view: ChatView, text: str) -> dict[str, Any]:
        """Tap a reply keyboard button: it sends its text, or the contact it asks for."""
        keyboard = self.api.sim.chat(view.chat_id).reply_keyboard or {}
        for row in keyboard.get("keyboard") or []:
            for button in row:
                if button.get("text") != text:
                    continue
                if button.get("request_contact"):
                    return self.send_contact(view)
                if button.get("request_location"):
                    return self.send_location(view)
                return self._act(view, lambda user: user.send_text(text, chat_id=view.chat_id))
        raise SandboxError("that keyboard button is no longer shown")

    def _act(self, view: ChatView, action: Callable[[FakeUser], dict[str, Any]]) -> dict[str, Any]:
        """Do something as the view's persona; a refusal becomes a one-line SandboxError."""
        user = self.api.user(view.persona.user_id)
        try:
            return action(user)
        except (AssertionError, KeyError, ValueError) as exc:
            raise SandboxError(str(exc).splitlines()[0] if str(exc) else "refused") from exc

    async def move_clock(self, delta: timedelta) -> dict[str, Any]:
        """Move the bot's time forward and let reminders and schedules catch up."""
        if delta <= timedelta(0):
            raise SandboxError("time only moves forward")
        if delta > MAX_CLOCK_STEP:
            raise SandboxError("move at most a year at a time")
        async with self._clock_lock:
            self.clock.advance(delta)
            self._broadcast({"type": "clock", "clock": self.clock_json()})
            if self.process is not None:
                await self.process.time_moved()
        return self.clock_json()

    async def reset(self) -> None:
        """Start again from nothing: a fresh database with the demo catalogue, empty chats,
        the clock back to now. Open pages are told to reload."""
        async with self._clock_lock:
            await self.stop()
            self.clock = OffsetClock()
            self.api = FakeBotAPI(
                token=SANDBOX_TOKEN, bot_username=BOT_USERNAME, bot_first_name=BOT_NAME
            )
            self._offsets.clear()
            self.fresh = True
            await self.start()
        self._broadcast({"type": "reset"})

    # ------------------------------------------------------------------ events

    def listen(self) -> asyncio.Queue[dict[str, Any]]:
        """A queue of page events (JSON objects) from now on; call ``unlisten`` after."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=_LISTENER_BACKLOG)
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._listeners.discard(queue)

    def _broadcast(self, payload: dict[str, Any]) -> None:
        for queue in tuple(self._listeners):
            try:
                queue.put_nowait(payload)
            except asyncio.QueueFull:
                # A page that stopped reading: drop its backlog, tell it to reload.
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait({"type": "resync"})

    def _on_event(self, event: Event) -> None:
        payload = self._event_json(event)
        if payload is not None:
            self._broadcast(payload)

    def _event_json(self, event: Event) -> dict[str, Any] | None:
        kind = event.kind
        if kind in _MESSAGE_KINDS and event.message is not None and event.chat_id is not None:
            message = event.message
            if kind in _TICK_KINDS:
                offset = int(self.clock.offset.total_seconds())
                self._offsets[(message.chat_id, message.message_id)] = offset
            return {
                "type": "message",
                "chat_id": event.chat_id,
                "edited": kind is EventKind.MESSAGE_EDITED,
                "message": self._message_json(message),
                "reply_keyboard": self._reply_keyboard(event.chat_id),
            }
        if kind is EventKind.MESSAGE_DELETED:
            return {
                "type": "deleted",
                "chat_id": event.chat_id,
                "message_id": event.data.get("message_id"),
            }
        if kind is EventKind.CALLBACK_ANSWERED:
            return {
                "type": "callback_answer",
                "chat_id": event.chat_id,
                "query_id": event.data.get("query_id"),
                "text": event.data.get("text"),
                "show_alert": bool(event.data.get("show_alert")),
                "url": event.data.get("url"),
            }
        if kind is EventKind.CHAT_ACTION:
            return {
                "type": "chat_action",
                "chat_id": event.chat_id,
                "action": event.data.get("action"),
            }
        if kind in {EventKind.COMMANDS_CHANGED, EventKind.PROFILE_CHANGED}:
            return {"type": "profile_changed"}
        return None
