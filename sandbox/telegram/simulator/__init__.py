"""The simulated Telegram: users, chats, messages, files and the update queue; no HTTP.

``TelegramSimulator`` is built in a chain, one concern per module: ``base`` (state,
identity, users and chats, files, rate limits) → ``events`` → ``updates`` (queue, long
polling, webhooks) → ``messages`` (messages and what users do).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..state import ChatState
from .base import ALL_UPDATE_TYPES, DEFAULT_ALLOWED_UPDATES, EventCallback
from .messages import SimulatorMessages

if TYPE_CHECKING:
    from ..actors import FakeGroupChat, FakeUser

__all__ = ["ALL_UPDATE_TYPES", "DEFAULT_ALLOWED_UPDATES", "EventCallback", "TelegramSimulator"]


class TelegramSimulator(SimulatorMessages):
    """Users, chats, messages, files and the update queue; no HTTP in here."""

    # ------------------------------------------------------------------ the actors

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
        from ..actors import FakeUser

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
        from ..actors import FakeGroupChat

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
