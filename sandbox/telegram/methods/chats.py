"""Interaction and chats: chat actions, callback answers, chat info and members, files,
pins, leaving, reactions.
"""

from __future__ import annotations

from typing import Any

from ..errors import bad_request
from ..formatting import (
    utf16_len,
)
from ..models import CallbackAnswer, EventKind
from ..state import ChatState
from .core import MethodsCore
from .params import (
    CHAT_ACTIONS,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_DOWNLOAD_BYTES,
    QUERY_TOO_OLD,
    Files,
    Params,
    param_bool,
    param_int,
    param_str,
)


class ChatMethods(MethodsCore):
    def send_chat_action(self, params: Params, files: Files) -> bool:
        chat = self.sim.writable_chat(params.get("chat_id"))
        action = param_str(params, "action")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.sim.emit(EventKind.CHAT_ACTION, chat=chat, data={"action": action})
        return True

    def answer_callback_query(self, params: Params, files: Files) -> bool:
        query_id = param_str(params, "callback_query_id") or ""
        query = self.sim.callback_queries.get(query_id)
        if query is None or query.answered:
            raise bad_request(QUERY_TOO_OLD)
        text = param_str(params, "text")
        if text and utf16_len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        answer = CallbackAnswer(
            query_id=query_id,
            text=text or None,
            show_alert=param_bool(params, "show_alert"),
            url=param_str(params, "url") or None,
            cache_time=param_int(params, "cache_time") or 0,
        )
        self.sim.callback_answers[query_id] = answer
        self.sim.emit(
            EventKind.CALLBACK_ANSWERED,
            chat=self.sim.chats.get(query.chat_id),
            data={
                "query_id": query_id,
                "text": answer.text,
                "show_alert": answer.show_alert,
                "url": answer.url,
                "user_id": query.user_id,
                "message_id": query.message_id,
            },
        )
        return True

    def get_chat(self, params: Params, files: Files) -> dict[str, Any]:
        chat = self.sim.resolve_chat(params.get("chat_id"))
        info = chat.as_api()
        info.update(
            {
                "accent_color_id": chat.id % 7 if chat.is_private else 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": True,
                    "limited_gifts": True,
                    "unique_gifts": True,
                    "premium_subscription": True,
                    "gifts_from_channels": True,
                },
            }
        )
        if not chat.is_private:
            info["permissions"] = {
                "can_send_messages": True,
                "can_send_photos": True,
                "can_send_documents": True,
                "can_invite_users": True,
            }
        if chat.pinned_message_id is not None:
            pinned = self.sim.find_message(chat, chat.pinned_message_id)
            if pinned is not None:
                info["pinned_message"] = pinned.to_api(with_reply=False)
        return info

    def get_chat_member(self, params: Params, files: Files) -> dict[str, Any]:
        chat = self.sim.resolve_chat(params.get("chat_id"))
        user_id = param_int(params, "user_id")
        if user_id is None:
            raise bad_request("user not found")
        user = self.sim.user_dict(user_id)
        if user is None:
            raise bad_request("user not found")
        if chat.is_private:
            if user_id not in {chat.id, self.sim.bot_id}:
                raise bad_request("user not found")
            status = (
                "kicked" if user_id == self.sim.bot_id and chat.id in self.sim.blocked else "member"
            )
        elif user_id == self.sim.bot_id:
            status = chat.bot_status
        else:
            status = chat.members.get(user_id, "left")
        return self.sim.member_dict(user, status)

    def _restrictable(self, params: Params) -> tuple[ChatState, int]:
        """The group and the member a ban or an unban is about, as Telegram checks them:
        not in private chats, only by an administrator bot, never the owner."""
        chat = self.sim.resolve_chat(params.get("chat_id"))
        if chat.is_private:
            raise bad_request("chat member status can't be changed in private chats")
        user_id = param_int(params, "user_id")
        if user_id is None or self.sim.user_dict(user_id) is None:
            raise bad_request("user not found")
        if chat.bot_status not in {"administrator", "creator"}:
            raise bad_request("not enough rights to restrict/unrestrict chat member")
        if chat.members.get(user_id) == "creator":
            raise bad_request("can't remove chat owner")
        return chat, user_id

    def ban_chat_member(self, params: Params, files: Files) -> bool:
        chat, user_id = self._restrictable(params)
        if chat.members.get(user_id) == "administrator":
            raise bad_request("user is an administrator of the chat")
        chat.members[user_id] = "kicked"
        return True

    def unban_chat_member(self, params: Params, files: Files) -> bool:
        """Lifts a ban (the person may join again via a link); without
        ``only_if_banned`` a current member is removed too, as Telegram does."""
        chat, user_id = self._restrictable(params)
        status = chat.members.get(user_id)
        if status == "kicked" or (
            not param_bool(params, "only_if_banned") and status in {"member", "restricted"}
        ):
            chat.members[user_id] = "left"
        return True

    def get_chat_administrators(self, params: Params, files: Files) -> list[dict[str, Any]]:
        chat = self.sim.resolve_chat(params.get("chat_id"))
        if chat.is_private:
            raise bad_request("there are no administrators in the private chat")
        admins = []
        for user_id, status in chat.members.items():
            user = self.sim.user_dict(user_id)
            if status in {"creator", "administrator"} and user is not None:
                admins.append(self.sim.member_dict(user, status))
        if chat.bot_status == "administrator":
            admins.append(self.sim.member_dict(self.sim.bot_user, "administrator"))
        return admins

    def get_chat_member_count(self, params: Params, files: Files) -> int:
        chat = self.sim.resolve_chat(params.get("chat_id"))
        if chat.is_private:
            return 2
        present = {"creator", "administrator", "member", "restricted"}
        count = sum(1 for status in chat.members.values() if status in present)
        return count + (1 if chat.bot_status in present else 0)

    def get_file(self, params: Params, files: Files) -> dict[str, Any]:
        file_id = param_str(params, "file_id") or ""
        stored = self.sim.files.get(file_id)
        if stored is None and file_id.endswith("s"):
            stored = self.sim.files.get(file_id[:-1])
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    def pin_chat_message(self, params: Params, files: Files) -> bool:
        chat = self.sim.writable_chat(params.get("chat_id"))
        message = self.sim.find_message(chat, param_int(params, "message_id"))
        if message is None:
            raise bad_request("message to pin not found")
        chat.pinned_message_id = message.message_id
        return True

    def unpin_chat_message(self, params: Params, files: Files) -> bool:
        chat = self.sim.writable_chat(params.get("chat_id"))
        chat.pinned_message_id = None
        return True

    def unpin_all_chat_messages(self, params: Params, files: Files) -> bool:
        return self.unpin_chat_message(params, files)

    def leave_chat(self, params: Params, files: Files) -> bool:
        chat = self.sim.resolve_chat(params.get("chat_id"))
        if chat.is_private:
            raise bad_request("chat member status can't be changed in private chats")
        self.sim.set_bot_status(chat.id, "left")
        return True

    def set_message_reaction(self, params: Params, files: Files) -> bool:
        chat = self.sim.writable_chat(params.get("chat_id"))
        if self.sim.find_message(chat, param_int(params, "message_id")) is None:
            raise bad_request("message to react not found")
        return True
