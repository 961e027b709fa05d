"""Messages and what users do: write, press a button, block the bot; members' statuses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..formatting import detect_entities, escape_html, render_html
from ..models import CallbackAnswer, EventKind, Sender, StoredFile
from ..state import CallbackQueryState, ChatState, MessageState
from .base import RESTRICTED_FLAGS
from .updates import SimulatorUpdates

if TYPE_CHECKING:
    from ..actors import FakeUser


class SimulatorMessages(SimulatorUpdates):
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

    def user_edit(
        self, user: FakeUser, chat_id: int | None, message_id: int, text: str
    ) -> dict[str, Any]:
        """The user edits the text (or the caption) of one of their own messages, as
        Telegram lets them at any time; the bot gets an ``edited_message`` update."""
        chat = self.user_target_chat(user, chat_id)
        message = self.find_message(chat, message_id)
        if message is None or message.sender is not Sender.USER:
            msg = f"user {user.id} has no message {message_id} in chat {chat.id}"
            raise AssertionError(msg)
        if message.text is not None:
            message.text, message.entities = text, detect_entities(text)
            message.html = escape_html(text) if not message.entities else None
        else:
            message.caption, message.caption_entities = text, detect_entities(text)
        message.edit_count += 1
        message.edit_date = self.now()
        raw = message.to_api()
        if self._bot_sees(chat, message):
            self.push_update("edited_message", raw)
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
            member.update(dict.fromkeys(RESTRICTED_FLAGS, False))
        return member

    def answer_for(self, query_id: str) -> CallbackAnswer | None:
        return self.callback_answers.get(query_id)
