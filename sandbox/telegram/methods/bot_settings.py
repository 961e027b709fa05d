"""The bot's commands, profile texts and menu button."""

from __future__ import annotations

from typing import Any

from ..errors import bad_request
from ..models import EventKind
from .core import MethodsCore
from .params import (
    COMMAND_NAME,
    LANGUAGE_CODE,
    SCOPES_WITHOUT_CHAT,
    Files,
    Params,
    ScopeKey,
    SyncHandler,
    param_str,
)


class BotSettingsMethods(MethodsCore):
    def _scope(self, params: Params) -> tuple[ScopeKey, str]:
        scope = params.get("scope")
        language = param_str(params, "language_code") or ""
        if language and not LANGUAGE_CODE.fullmatch(language):
            raise bad_request("invalid language code specified")
        if scope is None or scope == "":
            return ("default", None, None), language
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise bad_request("can't parse BotCommandScope JSON object")
        kind = scope["type"]
        if kind in SCOPES_WITHOUT_CHAT:
            return (kind, None, None), language
        if kind not in {"chat", "chat_administrators", "chat_member"}:
            raise bad_request("can't parse BotCommandScope: Unsupported type specified")
        chat = self.sim.resolve_chat(scope.get("chat_id"))
        if kind == "chat_member":
            user_id = scope.get("user_id")
            if not isinstance(user_id, int) or isinstance(user_id, bool):
                raise bad_request("can't parse BotCommandScope: Can't find field \"user_id\"")
            return (kind, chat.id, user_id), language
        return (kind, chat.id, None), language

    def set_my_commands(self, params: Params, files: Files) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("too many commands")
        cleaned: list[dict[str, str]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand JSON object")
            command = item.get("command")
            description = item.get("description")
            if not isinstance(command, str):
                raise bad_request("can't parse BotCommand: Can't find field \"command\"")
            if not isinstance(description, str):
                raise bad_request("can't parse BotCommand: Can't find field \"description\"")
            name = command.removeprefix("/").lower()
            if not name:
                raise bad_request("command must be non-empty")
            if len(name) > 32:
                raise bad_request("command is too long")
            if not COMMAND_NAME.fullmatch(name):
                raise bad_request("invalid command name specified")
            description = description.strip()
            if not description:
                raise bad_request("command description must be non-empty")
            if len(description) > 256:
                raise bad_request("command description is too long")
            cleaned.append({"command": name, "description": description})
        key = self._scope(params)
        if cleaned:
            self.sim.commands[key] = cleaned
        else:
            self.sim.commands.pop(key, None)
        self.sim.emit(
            EventKind.COMMANDS_CHANGED,
            data={
                "scope": key[0][0],
                "chat_id": key[0][1],
                "language_code": key[1],
                "commands": cleaned,
            },
        )
        return True

    def get_my_commands(self, params: Params, files: Files) -> list[dict[str, str]]:
        return list(self.sim.commands.get(self._scope(params), []))

    def delete_my_commands(self, params: Params, files: Files) -> bool:
        key = self._scope(params)
        self.sim.commands.pop(key, None)
        self.sim.emit(
            EventKind.COMMANDS_CHANGED,
            data={
                "scope": key[0][0],
                "chat_id": key[0][1],
                "language_code": key[1],
                "commands": [],
            },
        )
        return True

    def _profile_store(self, field: str) -> dict[str, str]:
        return {
            "description": self.sim.descriptions,
            "short_description": self.sim.short_descriptions,
            "name": self.sim.names,
        }[field]

    def _profile_setter(self, field: str, limit: int) -> SyncHandler:
        def setter(params: Params, files: Files) -> bool:
            language = param_str(params, "language_code") or ""
            if language and not LANGUAGE_CODE.fullmatch(language):
                raise bad_request("invalid language code specified")
            value = param_str(params, field) or ""
            if len(value) > limit:
                raise bad_request(f"bot {field.replace('_', ' ')} is too long")
            store = self._profile_store(field)
            if value:
                store[language] = value
            else:
                store.pop(language, None)
            self.sim.emit(
                EventKind.PROFILE_CHANGED,
                data={"field": field, "language_code": language, "value": value},
            )
            return True

        return setter

    def _profile_getter(self, field: str) -> SyncHandler:
        def getter(params: Params, files: Files) -> dict[str, str]:
            language = param_str(params, "language_code") or ""
            store = self._profile_store(field)
            default = self.sim.bot_first_name if field == "name" else ""
            return {field: store.get(language, store.get("", default))}

        return getter

    def set_chat_menu_button(self, params: Params, files: Files) -> bool:
        chat_id = None
        if params.get("chat_id") not in {None, ""}:
            chat = self.sim.resolve_chat(params.get("chat_id"))
            if not chat.is_private:
                raise bad_request("menu button can be set only in private chats")
            chat_id = chat.id
        button = params.get("menu_button")
        if button is None or button == "":
            button = {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in {
            "commands",
            "web_app",
            "default",
        }:
            raise bad_request("can't parse MenuButton JSON object")
        if button["type"] == "web_app":
            web_app = button.get("web_app")
            url = web_app.get("url") if isinstance(web_app, dict) else None
            if not isinstance(button.get("text"), str) or not isinstance(url, str):
                raise bad_request("can't parse MenuButton JSON object")
            if not url.lower().startswith("https://"):
                raise bad_request(
                    f"menu button Web App URL '{url}' is invalid: Only HTTPS links are allowed"
                )
        if button["type"] == "default":
            self.sim.menu_buttons.pop(chat_id, None)
        else:
            self.sim.menu_buttons[chat_id] = dict(button)
        self.sim.emit(
            EventKind.PROFILE_CHANGED,
            data={"field": "menu_button", "chat_id": chat_id, "value": dict(button)},
        )
        return True

    def get_chat_menu_button(self, params: Params, files: Files) -> dict[str, Any]:
        chat_id = None
        if params.get("chat_id") not in {None, ""}:
            chat_id = self.sim.resolve_chat(params.get("chat_id")).id
        button = self.sim.menu_buttons.get(chat_id) or self.sim.menu_buttons.get(None)
        return dict(button) if button else {"type": "commands"}
