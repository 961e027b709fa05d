"""Simulated Telegram users and group chats that talk to the bot through the fake API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .formatting import detect_entities, utf16_len
from .media import SAMPLE_PNG, file_object, photo_sizes
from .models import CallbackAnswer, ChatMessage, Event, EventKind, Sender
from .state import ChatState

if TYPE_CHECKING:
    from .simulator import TelegramSimulator

__all__ = ["OWN_ID", "FakeGroupChat", "FakeUser"]

OWN_ID: Final = -1
"""Default of ``FakeUser.send_contact(user_id=...)``: the sender's own id."""

_REPLY_KINDS: Final = frozenset({EventKind.MESSAGE_SENT, EventKind.MESSAGE_EDITED})


def _messages(
    sim: TelegramSimulator, chat: ChatState, sender: Sender | None, include_deleted: bool
) -> list[ChatMessage]:
    return [
        message.snapshot()
        for message in chat.messages.values()
        if (sender is None or message.sender is sender) and (include_deleted or not message.deleted)
    ]


def _last_bot_message(sim: TelegramSimulator, chat: ChatState) -> ChatMessage:
    for message in reversed(chat.messages.values()):
        if message.sender is Sender.BOT and not message.deleted:
            return message.snapshot()
    msg = f"the bot has not sent any (undeleted) message to chat {chat.id}"
    raise AssertionError(msg)


def _describe_recent(chat: ChatState, limit: int = 3) -> str:
    recent = [m for m in chat.messages.values() if m.sender is Sender.BOT][-limit:]
    if not recent:
        return "no bot messages"
    parts = []
    for message in recent:
        content = message.text if message.text is not None else (message.caption or message.kind)
        parts.append(f"#{message.message_id}: {content[:80]!r}")
    return "; ".join(parts)


async def _wait_reply(
    sim: TelegramSimulator,
    chat: ChatState,
    after_message_id: int | None,
    timeout: float,  # noqa: ASYNC109 - part of the public test API
) -> ChatMessage:
    if after_message_id is not None:
        anchor = chat.messages.get(after_message_id)
        if anchor is None:
            msg = f"message {after_message_id} does not exist in chat {chat.id}"
            raise AssertionError(msg)
        point = anchor.seq
    else:
        point = chat.last_user_seq
    chat_id = chat.id

    def is_reply(event: Event) -> bool:
        return event.chat_id == chat_id and event.kind in _REPLY_KINDS and event.seq > point

    try:
        event = await sim.wait_event(is_reply, timeout, past=chat.bot_events)
    except TimeoutError:
        msg = (
            f"the bot did not send or edit a message in chat {chat.id} within {timeout} s "
            f"(recent: {_describe_recent(chat)})"
        )
        raise TimeoutError(msg) from None
    assert event.message is not None
    return event.message


class FakeUser:
    """A Telegram user talking to the bot. Actions push updates and return the new object."""

    def __init__(
        self,
        sim: TelegramSimulator,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        is_premium: bool = False,
    ) -> None:
        self._sim = sim
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.is_premium = is_premium

    def __repr__(self) -> str:
        return f"FakeUser(id={self.id}, first_name={self.first_name!r})"

    @property
    def chat_id(self) -> int:
        """Id of the private chat with the bot (equal to the user id)."""
        return self.id

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    def as_dict(self) -> dict[str, Any]:
        """The Telegram ``User`` object."""
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        if self.is_premium:
            user["is_premium"] = True
        return user

    # ---------------------------------------------------------------- blocking

    @property
    def blocked(self) -> bool:
        return self.id in self._sim.blocked

    def block(self) -> None:
        """Block the bot (pushes my_chat_member: member -> kicked)."""
        self._sim.set_blocked(self.id, True)

    def unblock(self) -> None:
        """Unblock the bot (pushes my_chat_member: kicked -> member)."""
        self._sim.set_blocked(self.id, False)

    # ---------------------------------------------------------------- sending

    def send_text(
        self, text: str, *, chat_id: int | None = None, reply_to: int | None = None
    ) -> dict[str, Any]:
        """Send a text message (to the private chat, or to ``chat_id``, a group)."""
        if not text:
            msg = "Telegram clients cannot send empty messages"
            raise ValueError(msg)
        return self._sim.user_message(
            self,
            chat_id,
            kind="text",
            text=text,
            entities=detect_entities(text),
            reply_to=reply_to,
        )

    def edit_text(self, message_id: int, text: str, *, chat_id: int | None = None) -> None:
        """Edit one of my messages (its text, or its caption) after sending it."""
        self._sim.user_edit(self, chat_id, message_id, text)

    def send_command(
        self, command: str, args: str | None = None, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """Send ``/command [args]`` with its bot_command entity."""
        command = command.lstrip("/")
        head = f"/{command}"
        text = f"{head} {args}" if args else head
        entity = {"type": "bot_command", "offset": 0, "length": utf16_len(head)}
        rest = detect_entities(text)
        entities = (entity, *(e for e in rest if e["offset"] >= entity["length"]))
        return self._sim.user_message(self, chat_id, kind="text", text=text, entities=entities)

    def send_contact(
        self,
        phone_number: str,
        *,
        user_id: int | None = OWN_ID,
        first_name: str | None = None,
        last_name: str | None = None,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """Share a contact; by default the user's own (as a request_contact button does).

        Pass ``user_id=None`` for a contact without a Telegram account.
        """
        own = user_id == OWN_ID
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": first_name or (self.first_name if own else "Contact"),
        }
        surname = last_name if last_name is not None else (self.last_name if own else None)
        if surname:
            contact["last_name"] = surname
        if user_id is not None:
            contact["user_id"] = self.id if own else user_id
        return self._sim.user_message(self, chat_id, kind="contact", media={"contact": contact})

    def send_photo(
        self,
        data: bytes = SAMPLE_PNG,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """Send a photo (a small PNG by default); the bot can download it via getFile.
        ``reply_to``: a message of that chat to reply to (a Telegram reply)."""
        stored = self._sim.store_file("photo", data, mime_type="image/jpeg")
        return self._sim.user_message(
            self,
            chat_id,
            kind="photo",
            media={"photo": photo_sizes(stored)},
            file=stored,
            caption=caption,
            caption_entities=detect_entities(caption) if caption else (),
            reply_to=reply_to,
        )

    def send_document(
        self,
        data: bytes,
        filename: str,
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        stored = self._sim.store_file("document", data, filename=filename, mime_type=mime_type)
        return self._sim.user_message(
            self,
            chat_id,
            kind="document",
            media={"document": file_object(stored, "document", {})},
            file=stored,
            caption=caption,
            caption_entities=detect_entities(caption) if caption else (),
        )

    def send_voice(
        self,
        data: bytes = b"OggS\x00voice",
        *,
        duration: int = 3,
        caption: str | None = None,
        chat_id: int | None = None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """Send a voice message (an OGG note of ``duration`` seconds)."""
        params = {"duration": duration}
        return self._send_file("voice", data, "audio/ogg", params, caption, chat_id, reply_to)

    def send_video(
        self,
        data: bytes = b"\x00\x00\x00\x18ftypmp42",
        *,
        duration: int = 5,
        caption: str | None = None,
        chat_id: int | None = None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """Send a video (an MP4 of ``duration`` seconds)."""
        params = {"duration": duration}
        return self._send_file("video", data, "video/mp4", params, caption, chat_id, reply_to)

    def _send_file(
        self,
        kind: str,
        data: bytes,
        mime_type: str,
        params: dict[str, Any],
        caption: str | None,
        chat_id: int | None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        stored = self._sim.store_file(kind, data, mime_type=mime_type)
        return self._sim.user_message(
            self,
            chat_id,
            kind=kind,
            media={kind: file_object(stored, kind, params)},
            file=stored,
            caption=caption,
            caption_entities=detect_entities(caption) if caption else (),
            reply_to=reply_to,
        )

    def send_sticker(self, emoji: str = "👍", *, chat_id: int | None = None) -> dict[str, Any]:
        stored = self._sim.store_file(
            "sticker", b"RIFF\x00\x00\x00\x00WEBPVP8 ", mime_type="image/webp"
        )
        sticker = file_object(stored, "sticker", {"emoji": emoji})
        return self._sim.user_message(
            self, chat_id, kind="sticker", media={"sticker": sticker}, file=stored
        )

    def send_location(
        self, latitude: float, longitude: float, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        location = {"latitude": latitude, "longitude": longitude}
        return self._sim.user_message(self, chat_id, kind="location", media={"location": location})

    def forward_from(
        self,
        other: FakeUser,
        text: str | None = None,
        *,
        hidden: bool = False,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """Forward to the bot a text message originally written by ``other``.

        ``hidden`` simulates a sender who hides their account in forwards.
        """
        body = text if text is not None else f"A message from {other.first_name}"
        date = self._sim.now() - 60
        origin: dict[str, Any]
        if hidden:
            origin = {"type": "hidden_user", "date": date, "sender_user_name": other.full_name}
        else:
            origin = {"type": "user", "date": date, "sender_user": other.as_dict()}
        return self._sim.user_message(
            self,
            chat_id,
            kind="text",
            text=body,
            entities=detect_entities(body),
            forward_origin=origin,
        )

    # ---------------------------------------------------------------- buttons

    def press(
        self, callback_data: str, message_id: int, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """Press a callback button with this data under the bot's message; returns the query."""
        return self._sim.user_press(self, chat_id, message_id, callback_data)

    def press_button(
        self, text: str, *, chat_id: int | None = None, message_id: int | None = None
    ) -> dict[str, Any]:
        """Press the inline button labelled ``text`` on the newest bot message showing it."""
        chat = self._sim.user_target_chat(self, chat_id)
        candidates = [
            m
            for m in reversed(chat.messages.values())
            if m.sender is Sender.BOT
            and not m.deleted
            and m.inline_markup is not None
            and (message_id is None or m.message_id == message_id)
        ]
        for message in candidates:
            snapshot = message.snapshot()
            button = snapshot.inline_button(text)
            if button is None:
                continue
            data = button.get("callback_data")
            if not isinstance(data, str):
                msg = (
                    f"button {text!r} on message #{message.message_id} "
                    f"is not a callback button: {button}"
                )
                raise AssertionError(msg)
            return self._sim.user_press(self, chat.id, message.message_id, data)
        available = {m.message_id: m.snapshot().buttons() for m in candidates[:5]}
        msg = (
            f"no inline button {text!r} in chat {chat.id}; "
            f"buttons on recent bot messages: {available or 'none'}"
        )
        raise AssertionError(msg)

    def reply_keyboard(self, *, chat_id: int | None = None) -> list[list[str]] | None:
        """Rows of the reply keyboard currently shown (None after ReplyKeyboardRemove)."""
        chat = self._sim.chat(chat_id if chat_id is not None else self.id)
        if chat.reply_keyboard is None:
            return None
        return [[button["text"] for button in row] for row in chat.reply_keyboard["keyboard"]]

    def reply_keyboard_buttons(self, *, chat_id: int | None = None) -> list[str]:
        """Texts of the reply keyboard buttons currently shown (empty if none)."""
        rows = self.reply_keyboard(chat_id=chat_id)
        return [text for row in rows or [] for text in row]

    def press_reply_button(self, text: str, *, chat_id: int | None = None) -> dict[str, Any]:
        """Tap a reply keyboard button: sends its text, or the contact/location it requests."""
        chat = self._sim.chat(chat_id if chat_id is not None else self.id)
        keyboard = chat.reply_keyboard
        for row in (keyboard or {}).get("keyboard", []):
            for button in row:
                if button["text"] != text:
                    continue
                if button.get("request_contact"):
                    return self.send_contact(f"+7700{self.id % 10**7:07d}", chat_id=chat_id)
                if button.get("request_location"):
                    return self.send_location(43.238949, 76.889709, chat_id=chat_id)
                return self.send_text(text, chat_id=chat_id)
        shown = self.reply_keyboard_buttons(chat_id=chat_id)
        msg = f"no reply keyboard button {text!r}; shown: {shown}"
        raise AssertionError(msg)

    # ---------------------------------------------------------------- reading

    def messages(
        self, *, chat_id: int | None = None, include_deleted: bool = False
    ) -> list[ChatMessage]:
        """All messages of the chat (both sides), oldest first."""
        chat = self._sim.chat(chat_id if chat_id is not None else self.id)
        return _messages(self._sim, chat, None, include_deleted)

    def bot_messages(
        self, *, chat_id: int | None = None, include_deleted: bool = False
    ) -> list[ChatMessage]:
        """The bot's messages in the chat, oldest first."""
        chat = self._sim.chat(chat_id if chat_id is not None else self.id)
        return _messages(self._sim, chat, Sender.BOT, include_deleted)

    def last_bot_message(self, *, chat_id: int | None = None) -> ChatMessage:
        """The newest undeleted bot message (AssertionError if there is none)."""
        return _last_bot_message(
            self._sim, self._sim.chat(chat_id if chat_id is not None else self.id)
        )

    async def wait_reply(
        self,
        after_message_id: int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
        *,
        chat_id: int | None = None,
    ) -> ChatMessage:
        """The next message sent or edited by the bot in the chat.

        "Next" means after ``after_message_id`` when given, else after this user's latest
        action (message or button press) in the chat. Already-happened replies count.
        """
        chat = self._sim.chat(chat_id if chat_id is not None else self.id)
        return await _wait_reply(self._sim, chat, after_message_id, timeout)

    def callback_answer(self, query_id: str) -> CallbackAnswer | None:
        return self._sim.answer_for(query_id)

    async def wait_callback_answer(
        self,
        query_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
    ) -> CallbackAnswer:
        """Wait until the bot answers the callback query ``query_id``."""
        answer = self._sim.answer_for(query_id)
        if answer is not None:
            return answer
        await self._sim.wait_event(
            lambda e: e.kind is EventKind.CALLBACK_ANSWERED and e.data.get("query_id") == query_id,
            timeout,
        )
        answer = self._sim.answer_for(query_id)
        assert answer is not None
        return answer


class FakeGroupChat:
    """A group (or supergroup) with the bot in it, e.g. the staff chat."""

    def __init__(self, sim: TelegramSimulator, chat_id: int) -> None:
        self._sim = sim
        self.id = chat_id

    def __repr__(self) -> str:
        return f"FakeGroupChat(id={self.id}, title={self.title!r})"

    @property
    def _state(self) -> ChatState:
        return self._sim.chat(self.id)

    @property
    def title(self) -> str:
        return self._state.title or ""

    @property
    def type(self) -> str:
        return self._state.type

    def as_dict(self) -> dict[str, Any]:
        return self._state.as_api()

    def add_member(self, user: FakeUser, status: str = "member") -> None:
        """Make ``user`` a member (or "administrator", "creator") of the group."""
        self._state.members[user.id] = status

    def member_status(self, user_id: int) -> str | None:
        return self._state.members.get(user_id)

    def set_bot_status(self, status: str, *, by: FakeUser | None = None) -> None:
        """Change the bot's status ("member", "administrator", "left", "kicked")."""
        self._sim.set_bot_status(self.id, status, by_user_id=by.id if by is not None else None)

    def messages(self, *, include_deleted: bool = False) -> list[ChatMessage]:
        return _messages(self._sim, self._state, None, include_deleted)

    def bot_messages(self, *, include_deleted: bool = False) -> list[ChatMessage]:
        return _messages(self._sim, self._state, Sender.BOT, include_deleted)

    def last_bot_message(self) -> ChatMessage:
        return _last_bot_message(self._sim, self._state)

    async def wait_reply(
        self,
        after_message_id: int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
    ) -> ChatMessage:
        """The next bot message or edit in the group (see ``FakeUser.wait_reply``)."""
        return await _wait_reply(self._sim, self._state, after_message_id, timeout)
