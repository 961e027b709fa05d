"""Public value objects of the fake Bot API: recorded requests, chat messages, events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "CallbackAnswer",
    "ChatMessage",
    "Event",
    "EventKind",
    "RecordedRequest",
    "Sender",
    "StoredFile",
    "UploadedFile",
]


class Sender(StrEnum):
    """Who wrote a message in a chat."""

    BOT = "bot"
    USER = "user"


class EventKind(StrEnum):
    """What changed; delivered to ``FakeBotAPI.subscribe`` callbacks."""

    MESSAGE_SENT = "message_sent"
    MESSAGE_EDITED = "message_edited"
    MESSAGE_DELETED = "message_deleted"
    CALLBACK_ANSWERED = "callback_answered"
    CHAT_ACTION = "chat_action"
    COMMANDS_CHANGED = "commands_changed"
    PROFILE_CHANGED = "profile_changed"
    USER_MESSAGE = "user_message"
    USER_CALLBACK = "user_callback"
    BOT_BLOCKED = "bot_blocked"
    BOT_UNBLOCKED = "bot_unblocked"


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request, as the client sent it."""

    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file known to the server (uploaded by the bot or sent by a simulated user)."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes = field(repr=False)
    filename: str | None
    mime_type: str | None
    file_path: str
    url: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One Bot API call as the server saw and answered it."""

    method: str
    params: Mapping[str, Any]
    files: Mapping[str, UploadedFile]
    response_status: int
    response_body: Mapping[str, Any]
    at_monotonic: float

    @property
    def ok(self) -> bool:
        return bool(self.response_body.get("ok"))

    @property
    def result(self) -> Any:
        return self.response_body.get("result")

    @property
    def description(self) -> str | None:
        description = self.response_body.get("description")
        return description if isinstance(description, str) else None

    @property
    def chat_id(self) -> int | str | None:
        chat_id = self.params.get("chat_id")
        return chat_id if isinstance(chat_id, int | str) else None

    def file_for(self, param: str) -> UploadedFile | None:
        """The uploaded file a parameter refers to (directly or as ``attach://name``)."""
        value = self.params.get(param)
        if isinstance(value, str) and value.startswith("attach://"):
            return self.files.get(value[len("attach://") :])
        return self.files.get(param)


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A snapshot of a message in a simulated chat."""

    chat_id: int
    message_id: int
    sender: Sender
    sender_id: int
    date: int
    kind: str
    text: str | None
    caption: str | None
    html: str | None
    entities: tuple[Mapping[str, Any], ...]
    reply_markup: Mapping[str, Any] | None
    deleted: bool
    edit_count: int
    file: StoredFile | None
    reply_to_message_id: int | None
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def is_bot(self) -> bool:
        return self.sender is Sender.BOT

    @property
    def content(self) -> str:
        """The text, or the caption of a media message, or an empty string."""
        return self.text if self.text is not None else (self.caption or "")

    def button_rows(self) -> list[list[str]]:
        """Texts of the inline keyboard (or reply keyboard) buttons, row by row."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [[button["text"] for button in row] for row in rows]

    def buttons(self) -> list[str]:
        """Texts of all buttons of the message's keyboard."""
        return [text for row in self.button_rows() for text in row]

    def inline_button(self, text: str) -> Mapping[str, Any] | None:
        """The inline button with this text, if any."""
        markup = self.reply_markup or {}
        for row in markup.get("inline_keyboard") or []:
            for button in row:
                if button.get("text") == text:
                    return dict(button)
        return None

    def callback_data(self, text: str) -> str | None:
        """callback_data of the inline button with this text."""
        button = self.inline_button(text)
        data = button.get("callback_data") if button else None
        return data if isinstance(data, str) else None


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """How the bot answered a callback query."""

    query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass(frozen=True, slots=True)
class Event:
    """A change in the simulated world, for subscribers (e.g. a browser sandbox)."""

    kind: EventKind
    seq: int
    chat_id: int | None = None
    message: ChatMessage | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
