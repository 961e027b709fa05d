"""The simulated Telegram world behind the fake Bot API: users, chats, files, updates."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import mimetypes
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .errors import ApiError, bad_request, forbidden, too_many_requests
from .formatting import escape_html, render_html
from .models import CallbackAnswer, Event, EventKind, Sender, StoredFile
from .ratelimit import RateLimiter, RateLimits
from .state import CallbackQueryState, ChatState, MessageState

if TYPE_CHECKING:
    from .actors import FakeGroupChat, FakeUser

__all__ = ["ALL_UPDATE_TYPES", "DEFAULT_ALLOWED_UPDATES", "EventCallback", "TelegramSimulator"]

logger = logging.getLogger(__name__)

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
_CONFLICT_POLL: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_CONFLICT_WEBHOOK: Final = (
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

_RESTRICTED_FLAGS: Final = (
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
class _Poller:
    future: asyncio.Future[None]
    superseded: bool = False


class TelegramSimulator:
    """Users, chats, messages, files and the update queue; no HTTP in here."""

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
        self._pollers: list[_Poller] = []
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

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        is_premium: bool = False,
        started: bool = True,
    ) -> FakeUser:
        from .actors import FakeUser

        if user_id <= 0:
            msg = "user ids are positive"
            raise ValueError(msg)
        if user_id in self.users:
            msg = f"user {user_id} already exists"
            raise ValueError(msg)
        user = FakeUser(
            self,
            user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_premium=is_premium,
        )
        self.users[user_id] = user
        self.chats[user_id] = ChatState(
            id=user_id,
            type="private",
            first_name=first_name,
            last_name=last_name,
            username=username,
            started=started,
            chat_instance=str(-(10**18) - user_id),
        )
        return user

    def add_group_chat(
        self,
        chat_id: int,
        title: str,
        *,
        username: str | None = None,
        supergroup: bool | None = None,
        bot_status: str = "administrator",
    ) -> FakeGroupChat:
        from .actors import FakeGroupChat

        if chat_id >= 0:
            msg = "group chat ids are negative"
            raise ValueError(msg)
        if chat_id in self.chats:
            msg = f"chat {chat_id} already exists"
            raise ValueError(msg)
        is_super = chat_id <= -1000000000000 if supergroup is None else supergroup
        self.chats[chat_id] = ChatState(
            id=chat_id,
            type="supergroup" if is_super else "group",
            title=title,
            username=username,
            bot_status=bot_status,
            chat_instance=str(10**18 - chat_id),
        )
        return FakeGroupChat(self, chat_id)

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

    # ------------------------------------------------------------------ updates

    def push_update(self, kind: str, payload: dict[str, Any]) -> int | None:
        """Queue an update unless the bot's ``allowed_updates`` exclude its type."""
        if kind not in self.allowed_updates:
            return None
        update_id = self._next_update_id
        self._next_update_id += 1
        self._updates.append({"update_id": update_id, kind: payload})
        for poller in self._pollers:
            if not poller.future.done():
                poller.future.set_result(None)
        return update_id

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot (via getUpdates offset)."""
        return list(self._updates)

    def drop_updates(self) -> None:
        self._updates.clear()

    def _confirm(self, offset: int | None) -> None:
        updates = self._updates
        if offset is None or offset == 0:
            return
        if offset > 0:
            while updates and updates[0]["update_id"] < offset:
                updates.popleft()
        else:
            while len(updates) > -offset:
                updates.popleft()

    async def get_updates(
        self,
        *,
        offset: int | None,
        limit: int,
        timeout: float,  # noqa: ASYNC109 - the getUpdates parameter
        allowed_updates: list[str] | None,
    ) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise ApiError(409, _CONFLICT_WEBHOOK)
        for poller in self._pollers:
            poller.superseded = True
            if not poller.future.done():
                poller.future.set_result(None)
        if allowed_updates is not None:
            known = frozenset(allowed_updates) & frozenset(ALL_UPDATE_TYPES)
            self.allowed_updates = known or DEFAULT_ALLOWED_UPDATES
        self._confirm(offset)
        limit = min(max(limit, 1), 100)
        if self._updates or timeout <= 0 or self._closing:
            return list(itertools.islice(self._updates, limit))
        poller = _Poller(asyncio.get_running_loop().create_future())
        self._pollers.append(poller)
        for started in self._poll_started:
            if not started.done():
                started.set_result(None)
        self._poll_started.clear()
        try:
            await asyncio.wait_for(poller.future, timeout)
        except TimeoutError:
            pass
        finally:
            self._pollers.remove(poller)
        if poller.superseded:
            raise ApiError(409, _CONFLICT_POLL)
        return list(itertools.islice(self._updates, limit))

    @property
    def is_polling(self) -> bool:
        return bool(self._pollers)

    async def wait_until_polling(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
    ) -> None:
        """Wait until a getUpdates long poll is waiting for updates."""
        if self._pollers:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._poll_started.append(future)
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            if future in self._poll_started:
                self._poll_started.remove(future)

    def close(self) -> None:
        """Release long polls (they answer with what they have) and refuse to wait again."""
        self._closing = True
        for poller in self._pollers:
            if not poller.future.done():
                poller.future.set_result(None)

    def reopen(self) -> None:
        self._closing = False

    # ------------------------------------------------------------------ events

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def emit(
        self,
        kind: EventKind,
        *,
        chat: ChatState | None = None,
        message: MessageState | None = None,
        raw: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> Event:
        event = Event(
            kind=kind,
            seq=self.next_seq(),
            chat_id=chat.id if chat is not None else None,
            message=message.snapshot(raw) if message is not None else None,
            data=data or {},
        )
        if message is not None and kind in {EventKind.MESSAGE_SENT, EventKind.USER_MESSAGE}:
            message.seq = event.seq
        if chat is not None:
            if kind in {EventKind.MESSAGE_SENT, EventKind.MESSAGE_EDITED}:
                chat.bot_events.append(event)
            elif kind in {EventKind.USER_MESSAGE, EventKind.USER_CALLBACK}:
                chat.last_user_seq = event.seq
        if self._event_waiters:
            for predicate, future in self._event_waiters:
                if future.done():
                    continue
                try:
                    matched = predicate(event)
                except Exception as exc:  # handed to the waiting test
                    future.set_exception(exc)
                    continue
                if matched:
                    future.set_result(event)
        for callback in tuple(self._subscribers):
            try:
                result = callback(event)
            except Exception:
                logger.exception("fake API event subscriber failed")
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(_await_none(result))
                self._tasks.add(task)
                task.add_done_callback(self._subscriber_done)
        return event

    def _subscriber_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("fake API event subscriber failed", exc_info=task.exception())

    async def wait_event(
        self,
        predicate: EventPredicate,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
        *,
        past: Iterable[Event] = (),
    ) -> Event:
        """The first event (among ``past``, then future ones) satisfying ``predicate``."""
        for event in past:
            if predicate(event):
                return event
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._event_waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._event_waiters.remove(waiter)

    # ------------------------------------------------------------------ messages

    def store_message(
        self,
        chat: ChatState,
        *,
        sender: Sender,
        from_user: dict[str, Any],
        kind: str,
        text: str | None = None,
        entities: tuple[dict[str, Any], ...] = (),
        caption: str | None = None,
        caption_entities: tuple[dict[str, Any], ...] = (),
        html: str | None = None,
        media: dict[str, Any] | None = None,
        file: StoredFile | None = None,
        reply_markup: dict[str, Any] | None = None,
        reply_to: MessageState | None = None,
        forward_origin: dict[str, Any] | None = None,
        protected: bool = False,
    ) -> MessageState:
        if html is None:
            if text is not None:
                html = render_html(text, entities)
            elif caption:
                html = render_html(caption, caption_entities)
        message = MessageState(
            chat=chat,
            message_id=chat.allocate_message_id(),
            sender=sender,
            from_user=from_user,
            date=self.now(),
            kind=kind,
            seq=self._seq,
            text=text,
            entities=entities,
            caption=caption or None,
            caption_entities=caption_entities if caption else (),
            html=html,
            reply_markup=reply_markup,
            media=media or {},
            file=file,
            reply_to=reply_to,
            forward_origin=forward_origin,
            protected=protected,
        )
        chat.messages[message.message_id] = message
        if sender is Sender.BOT and reply_markup is not None:
            if "keyboard" in reply_markup:
                chat.reply_keyboard = reply_markup
            elif "remove_keyboard" in reply_markup:
                chat.reply_keyboard = None
        return message

    def find_message(self, chat: ChatState, message_id: Any) -> MessageState | None:
        if isinstance(message_id, bool) or not isinstance(message_id, int):
            return None
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            return None
        return message

    # ------------------------------------------------------------------ user side

    def private_chat(self, user_id: int) -> ChatState:
        return self.chat(user_id)

    def user_target_chat(self, user: FakeUser, chat_id: int | None) -> ChatState:
        if chat_id is None or chat_id == user.id:
            chat = self.chat(user.id)
            if user.id in self.blocked:
                msg = (
                    f"user {user.id} has blocked the bot; call unblock() before sending, "
                    "as Telegram's Restart button does"
                )
                raise AssertionError(msg)
            return chat
        group = self.chats.get(chat_id)
        if group is None or group.is_private:
            msg = f"user {user.id} cannot write to chat {chat_id}: add_group_chat() it first"
            raise AssertionError(msg)
        status = group.members.get(user.id)
        if status == "kicked":
            msg = f"user {user.id} was banned from chat {chat_id}"
            raise AssertionError(msg)
        if status is None or status == "left":
            group.members[user.id] = "member"
        return group

    def user_message(
        self,
        user: FakeUser,
        chat_id: int | None,
        *,
        kind: str,
        text: str | None = None,
        entities: tuple[dict[str, Any], ...] = (),
        caption: str | None = None,
        caption_entities: tuple[dict[str, Any], ...] = (),
        media: dict[str, Any] | None = None,
        file: StoredFile | None = None,
        reply_to: int | None = None,
        forward_origin: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        chat = self.user_target_chat(user, chat_id)
        target = None
        if reply_to is not None:
            target = self.find_message(chat, reply_to)
            if target is None:
                msg = f"message {reply_to} does not exist in chat {chat.id}"
                raise AssertionError(msg)
        if chat.is_private:
            chat.started = True
        message = self.store_message(
            chat,
            sender=Sender.USER,
            from_user=user.as_dict(),
            kind=kind,
            text=text,
            entities=entities,
            caption=caption,
            caption_entities=caption_entities,
            html=escape_html(text) if text is not None and not entities else None,
            media=media,
            file=file,
            reply_to=target,
            forward_origin=forward_origin,
        )
        raw = message.to_api()
        if self._bot_sees(chat, message):
            self.push_update("message", raw)
        self.emit(EventKind.USER_MESSAGE, chat=chat, message=message, raw=raw)
        return raw

    def _bot_sees(self, chat: ChatState, message: MessageState) -> bool:
        if chat.is_private:
            return True
        if chat.bot_status in {"left", "kicked"}:
            return False
        if not self.privacy_mode or chat.bot_status in {"creator", "administrator"}:
            return True
        if message.reply_to is not None and message.reply_to.sender is Sender.BOT:
            return True
        return any(entity["type"] == "bot_command" for entity in message.entities)

    def user_press(
        self, user: FakeUser, chat_id: int | None, message_id: int, data: str
    ) -> dict[str, Any]:
        chat = self.user_target_chat(user, chat_id)
        message = self.find_message(chat, message_id)
        if message is None:
            msg = f"message {message_id} does not exist (or was deleted) in chat {chat.id}"
            raise AssertionError(msg)
        if message.sender is not Sender.BOT:
            msg = f"message {message_id} in chat {chat.id} was not sent by the bot"
            raise AssertionError(msg)
        query_id = f"{(self.bot_id % 10**6) * 10**12 + next(self._query_counter)}"
        self.callback_queries[query_id] = CallbackQueryState(
            id=query_id, user_id=user.id, chat_id=chat.id, message_id=message_id, data=data
        )
        query = {
            "id": query_id,
            "from": user.as_dict(),
            "message": message.to_api(),
            "chat_instance": chat.chat_instance,
            "data": data,
        }
        self.push_update("callback_query", query)
        self.emit(
            EventKind.USER_CALLBACK,
            chat=chat,
            data={"query_id": query_id, "message_id": message_id, "data": data, "user_id": user.id},
        )
        return query

    def set_blocked(self, user_id: int, blocked: bool) -> None:
        """Block or unblock the bot on behalf of a user; pushes my_chat_member like Telegram."""
        user = self.users.get(user_id)
        if user is None:
            msg = f"unknown user {user_id}"
            raise KeyError(msg)
        if (user_id in self.blocked) == blocked:
            return
        if blocked:
            self.blocked.add(user_id)
            old: dict[str, Any] = {"status": "member", "user": self.bot_user}
            new: dict[str, Any] = {"status": "kicked", "user": self.bot_user, "until_date": 0}
        else:
            self.blocked.discard(user_id)
            old = {"status": "kicked", "user": self.bot_user, "until_date": 0}
            new = {"status": "member", "user": self.bot_user}
        chat = self.chat(user_id)
        self.push_update(
            "my_chat_member",
            {
                "chat": chat.as_api(),
                "from": user.as_dict(),
                "date": self.now(),
                "old_chat_member": old,
                "new_chat_member": new,
            },
        )
        self.emit(
            EventKind.BOT_BLOCKED if blocked else EventKind.BOT_UNBLOCKED,
            chat=chat,
            data={"user_id": user_id},
        )

    def set_bot_status(self, chat_id: int, status: str, *, by_user_id: int | None = None) -> None:
        """Change the bot's membership in a group; pushes my_chat_member."""
        chat = self.chat(chat_id)
        if chat.is_private:
            msg = "use block()/unblock() for private chats"
            raise ValueError(msg)
        old_status = chat.bot_status
        if old_status == status:
            return
        chat.bot_status = status
        actor = self.user_dict(by_user_id) if by_user_id is not None else None
        self.push_update(
            "my_chat_member",
            {
                "chat": chat.as_api(),
                "from": actor or self.bot_user,
                "date": self.now(),
                "old_chat_member": self.member_dict(self.bot_user, old_status),
                "new_chat_member": self.member_dict(self.bot_user, status),
            },
        )

    @staticmethod
    def member_dict(user: dict[str, Any], status: str) -> dict[str, Any]:
        member: dict[str, Any] = {"status": status, "user": user}
        if status == "kicked":
            member["until_date"] = 0
        elif status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                    "can_send_welcome_messages": False,
                    "can_pin_messages": True,
                }
            )
        elif status == "restricted":
            member.update({"is_member": True, "until_date": 0})
            member.update(dict.fromkeys(_RESTRICTED_FLAGS, False))
        return member

    def answer_for(self, query_id: str) -> CallbackAnswer | None:
        return self.callback_answers.get(query_id)


async def _await_none(awaitable: Awaitable[None]) -> None:
    await awaitable
