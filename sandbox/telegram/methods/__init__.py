"""Bot API method implementations on top of the simulator, with Telegram's errors.

One class, ``BotApiMethods``, assembled from a group of methods per module: ``updates``,
``sending``, ``editing``, ``chats``, ``bot_settings``; ``core`` holds what they share and
``params`` the limits and the parameter readers.
"""

from __future__ import annotations

from typing import Any

from ..errors import ApiError
from ..simulator import TelegramSimulator
from .bot_settings import BotSettingsMethods
from .chats import ChatMethods
from .editing import EditingMethods
from .params import STRING_PARAMS, AsyncHandler, Files, Params, SyncHandler, coerce_param
from .sending import SendingMethods
from .updates import UpdateMethods

__all__ = ["STRING_PARAMS", "BotApiMethods", "coerce_param"]


class BotApiMethods(UpdateMethods, SendingMethods, EditingMethods, ChatMethods, BotSettingsMethods):
    """Maps Bot API method names to implementations operating on a ``TelegramSimulator``."""

    def __init__(self, sim: TelegramSimulator) -> None:
        self.sim = sim
        sync: dict[str, SyncHandler] = {
            "getMe": self.get_me,
            "logOut": self._true,
            "close": self._true,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "sendPhoto": self._media_sender("photo"),
            "sendDocument": self._media_sender("document"),
            "sendVideo": self._media_sender("video"),
            "sendAnimation": self._media_sender("animation"),
            "sendAudio": self._media_sender("audio"),
            "sendVoice": self._media_sender("voice"),
            "sendSticker": self._media_sender("sticker"),
            "sendMediaGroup": self.send_media_group,
            "sendVenue": self.send_venue,
            "sendLocation": self.send_location,
            "sendContact": self.send_contact,
            "copyMessage": self.copy_message,
            "forwardMessage": self.forward_message,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "editMessageMedia": self.edit_message_media,
            "deleteMessage": self.delete_message,
            "deleteMessages": self.delete_messages,
            "sendChatAction": self.send_chat_action,
            "answerCallbackQuery": self.answer_callback_query,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "setMyDescription": self._profile_setter("description", 512),
            "getMyDescription": self._profile_getter("description"),
            "setMyShortDescription": self._profile_setter("short_description", 120),
            "getMyShortDescription": self._profile_getter("short_description"),
            "setMyName": self._profile_setter("name", 64),
            "getMyName": self._profile_getter("name"),
            "setChatMenuButton": self.set_chat_menu_button,
            "getChatMenuButton": self.get_chat_menu_button,
            "getChat": self.get_chat,
            "getChatMember": self.get_chat_member,
            "banChatMember": self.ban_chat_member,
            "unbanChatMember": self.unban_chat_member,
            "getChatAdministrators": self.get_chat_administrators,
            "getChatMemberCount": self.get_chat_member_count,
            "getFile": self.get_file,
            "pinChatMessage": self.pin_chat_message,
            "unpinChatMessage": self.unpin_chat_message,
            "unpinAllChatMessages": self.unpin_all_chat_messages,
            "leaveChat": self.leave_chat,
            "setMessageReaction": self.set_message_reaction,
        }
        self._sync = {name.lower(): (name, handler) for name, handler in sync.items()}
        self._async: dict[str, tuple[str, AsyncHandler]] = {
            "getupdates": ("getUpdates", self.get_updates)
        }

    def canonical_name(self, method: str) -> str | None:
        key = method.lower()
        entry = self._sync.get(key) or self._async.get(key)
        return entry[0] if entry is not None else None

    async def call(self, method: str, params: Params, files: Files) -> Any:
        """Run a method; raises ApiError (404 for unknown methods)."""
        key = method.lower()
        sync = self._sync.get(key)
        if sync is not None:
            return sync[1](params, files)
        async_entry = self._async.get(key)
        if async_entry is not None:
            return await async_entry[1](params, files)
        raise ApiError(404, "Not Found: method not found")
