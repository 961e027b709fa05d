"""The simulator's state: the bot's identity, users and chats, files, rate limits."""

from __future__ import annotations

import asyncio
import itertools
import mimetypes
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..errors import bad_request, forbidden, too_many_requests
from ..models import CallbackAnswer, Event, StoredFile
from ..ratelimit import RateLimiter, RateLimits
from ..state import CallbackQueryState, ChatState

if TYPE_CHECKING:
    from ..actors import FakeUser


ALL_UPDATE_TYPES: Final = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
DEFAULT_ALLOWED_UPDATES: Final = frozenset(ALL_UPDATE_TYPES) - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}
DEFAULT_BOT_ID: Final = 7000000001
CONFLICT_POLL: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
CONFLICT_WEBHOOK: Final = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_FILE_FOLDERS: Final = {
    "photo": "photos",
    "document": "documents",
    "video": "videos",
    "animation": "animations",
    "audio": "music",
    "voice": "voice",
    "sticker": "stickers",
}

RESTRICTED_FLAGS: Final = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_react_to_messages",
    "can_edit_tag",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)

EventCallback = Callable[[Event], Awaitable[None] | None]
EventPredicate = Callable[[Event], bool]


@dataclass(slots=True)
class Poller:
    future: asyncio.Future[None]
    superseded: bool = False


class SimulatorBase:
    """State of the simulated Telegram; the groups of behaviour build on it in a chain
    (events → updates → messages), ``TelegramSimulator`` is the last."""

    def __init__(
        self,
        *,
        bot_id: int | None = None,
        bot_username: str = "fake_test_bot",
        bot_first_name: str = "Test Bot",
        strict_html: bool = True,
        rate_limits: RateLimits | None = None,
        privacy_mode: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._bot_id = bot_id
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.strict_html = strict_html
        self.privacy_mode = privacy_mode
        self.rate_limiter = RateLimiter(rate_limits) if rate_limits is not None else None
        self._clock = clock
        self.users: dict[int, FakeUser] = {}
        self.chats: dict[int, ChatState] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, CallbackQueryState] = {}
        self.callback_answers: dict[str, CallbackAnswer] = {}
        self.blocked: set[int] = set()
        self.commands: dict[tuple[tuple[str, int | None, int | None], str], list[dict[str, str]]]
        self.commands = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.webhook_url = ""
        self._updates: deque[dict[str, Any]] = deque()
        self._next_update_id = 1
        self.allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self._pollers: list[Poller] = []
        self._poll_started: list[asyncio.Future[None]] = []
        self._closing = False
        self._seq = 0
        self._file_counter = itertools.count(1)
        self._query_counter = itertools.count(1)
        self._subscribers: list[EventCallback] = []
        self._event_waiters: list[tuple[EventPredicate, asyncio.Future[Event]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ identity

    @property
    def bot_id(self) -> int:
        if self._bot_id is None:
            self._bot_id = DEFAULT_BOT_ID
        return self._bot_id

    def adopt_token(self, token: str) -> None:
        """Take the bot id from the first token seen, unless it was configured."""
        if self._bot_id is None:
            prefix = token.split(":", 1)[0]
            self._bot_id = int(prefix) if prefix.isdigit() else DEFAULT_BOT_ID

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def now(self) -> int:
        return int(self._clock())

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # ------------------------------------------------------------------ users and chats

    def chat(self, chat_id: int) -> ChatState:
        chat = self.chats.get(chat_id)
        if chat is None:
            msg = f"unknown chat {chat_id}"
            raise KeyError(msg)
        return chat

    def user_dict(self, user_id: int) -> dict[str, Any] | None:
        if user_id == self.bot_id:
            return self.bot_user
        user = self.users.get(user_id)
        return user.as_dict() if user is not None else None

    def resolve_chat(self, value: Any) -> ChatState:
        """Find the chat a ``chat_id`` parameter names (400 "chat not found" if unknown)."""
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        chat: ChatState | None = None
        if isinstance(value, bool):
            chat = None
        elif isinstance(value, int):
            chat = self.chats.get(value)
        elif isinstance(value, str):
            text = value.strip()
            if text.startswith("@"):
                wanted = text[1:].lower()
                chat = next(
                    (
                        c
                        for c in self.chats.values()
                        if not c.is_private and c.username and c.username.lower() == wanted
                    ),
                    None,
                )
            elif text.lstrip("-").isdigit():
                chat = self.chats.get(int(text))
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def writable_chat(self, value: Any) -> ChatState:
        """Resolve a chat the bot may write to, with Telegram's 403 errors otherwise."""
        chat = self.resolve_chat(value)
        if chat.is_private:
            if chat.id in self.blocked:
                raise forbidden("bot was blocked by the user")
            if not chat.started:
                raise forbidden("bot can't initiate conversation with a user")
        elif chat.bot_status == "kicked":
            raise forbidden(f"bot was kicked from the {chat.kind_name}")
        elif chat.bot_status == "left":
            raise forbidden(f"bot is not a member of the {chat.kind_name}")
        return chat

    def check_rate(self, chat: ChatState) -> None:
        if self.rate_limiter is None:
            return
        retry_after = self.rate_limiter.acquire(chat.id, is_private=chat.is_private)
        if retry_after:
            raise too_many_requests(retry_after)

    # ------------------------------------------------------------------ files

    def store_file(
        self,
        kind: str,
        data: bytes,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        url: str | None = None,
    ) -> StoredFile:
        number = next(self._file_counter)
        if mime_type in {None, "", "application/octet-stream"} and filename:
            mime_type = mimetypes.guess_type(filename)[0] or mime_type
        if kind == "photo":
            mime_type = mime_type or "image/jpeg"
        extension = mimetypes.guess_extension(mime_type or "") or ""
        if filename and "." in filename:
            extension = "." + filename.rsplit(".", 1)[1]
        folder = _FILE_FOLDERS.get(kind, "documents")
        stored = StoredFile(
            file_id=f"FAKE{kind[:3].upper()}{number:07d}{secrets.token_hex(6)}",
            file_unique_id=f"U{kind[:2].upper()}{number:07d}",
            kind=kind,
            data=data,
            filename=filename,
            mime_type=mime_type or None,
            file_path=f"{folder}/file_{number}{extension}",
            url=url,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored
