"""Internal mutable state of simulated chats and messages (not part of the public API)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from .models import ChatMessage, Event, Sender, StoredFile

__all__ = ["CAPTION_KINDS", "CallbackQueryState", "ChatState", "MessageState"]

# Bot-side events kept per chat for FakeUser.wait_reply (bounded for long benchmarks).
MAX_CHAT_EVENTS: Final = 1000

# Message kinds that can carry a caption.
CAPTION_KINDS = frozenset({"photo", "document", "video", "animation", "audio", "voice"})


@dataclass(slots=True)
class ChatState:
    id: int
    type: str  # private, group, supergroup
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    started: bool = True  # private chats: the user has pressed Start at some point
    bot_status: str = "member"  # creator, administrator, member, left, kicked
    members: dict[int, str] = field(default_factory=dict)
    messages: dict[int, MessageState] = field(default_factory=dict)
    next_message_id: int = 1
    reply_keyboard: dict[str, Any] | None = None
    bot_events: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_CHAT_EVENTS))
    last_user_seq: int = 0
    chat_instance: str = ""
    pinned_message_id: int | None = None

    @property
    def is_private(self) -> bool:
        return self.type == "private"

    @property
    def kind_name(self) -> str:
        """How Telegram names the chat kind in errors: "group chat", "supergroup chat"."""
        return "supergroup chat" if self.type == "supergroup" else "group chat"

    def as_api(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.is_private:
            chat["first_name"] = self.first_name or ""
            if self.last_name:
                chat["last_name"] = self.last_name
        else:
            chat["title"] = self.title or ""
        if self.username:
            chat["username"] = self.username
        return chat

    def allocate_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass(slots=True)
class MessageState:
    chat: ChatState
    message_id: int
    sender: Sender
    from_user: dict[str, Any]
    date: int
    kind: str
    seq: int
    text: str | None = None
    entities: tuple[dict[str, Any], ...] = ()
    caption: str | None = None
    caption_entities: tuple[dict[str, Any], ...] = ()
    html: str | None = None
    reply_markup: dict[str, Any] | None = None
    media: dict[str, Any] = field(default_factory=dict)
    file: StoredFile | None = None
    reply_to: MessageState | None = None
    forward_origin: dict[str, Any] | None = None
    protected: bool = False
    deleted: bool = False
    edit_count: int = 0
    edit_date: int | None = None

    @property
    def inline_markup(self) -> dict[str, Any] | None:
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            return self.reply_markup
        return None

    def to_api(self, *, with_reply: bool = True) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.from_user,
            "date": self.date,
            "chat": self.chat.as_api(),
        }
        if self.forward_origin is not None:
            message["forward_origin"] = self.forward_origin
        if with_reply and self.reply_to is not None and not self.reply_to.deleted:
            message["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        if self.protected:
            message["has_protected_content"] = True
        if self.text is not None:
            message["text"] = self.text
            if self.entities:
                message["entities"] = list(self.entities)
        message.update(self.media)
        if self.caption:
            message["caption"] = self.caption
            if self.caption_entities:
                message["caption_entities"] = list(self.caption_entities)
        inline = self.inline_markup
        if inline is not None:
            message["reply_markup"] = inline
        return message

    def snapshot(self, raw: dict[str, Any] | None = None) -> ChatMessage:
        return ChatMessage(
            chat_id=self.chat.id,
            message_id=self.message_id,
            sender=self.sender,
            sender_id=int(self.from_user["id"]),
            date=self.date,
            kind=self.kind,
            text=self.text,
            caption=self.caption,
            html=self.html,
            entities=self.entities if self.text is not None else self.caption_entities,
            reply_markup=self.reply_markup,
            deleted=self.deleted,
            edit_count=self.edit_count,
            file=self.file,
            reply_to_message_id=self.reply_to.message_id if self.reply_to is not None else None,
            raw=raw if raw is not None else self.to_api(),
        )


@dataclass(slots=True)
class CallbackQueryState:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answered: bool = False
