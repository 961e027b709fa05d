"""Validation of ``reply_markup`` objects with the Bot API's error descriptions."""

from __future__ import annotations

from typing import Any, Final

from .errors import bad_request
from .formatting import check_url

__all__ = ["MAX_CALLBACK_DATA_BYTES", "inline_buttons", "validate_reply_markup"]

MAX_CALLBACK_DATA_BYTES: Final = 64
MAX_BUTTONS: Final = 100

_INLINE_ACTIONS: Final = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_REPLY_KEYBOARD_FLAGS: Final = (
    "resize_keyboard",
    "one_time_keyboard",
    "selective",
    "is_persistent",
)
_KEYBOARD_BUTTON_FLAGS: Final = ("request_contact", "request_location")


def _require_bool(obj: dict[str, Any], field: str, prefix: str = "") -> None:
    if field in obj and not isinstance(obj[field], bool):
        raise bad_request(f'{prefix}field "{field}" must be of type Boolean')


def _require_button_bool(obj: dict[str, Any], field: str, what: str) -> None:
    if field in obj and not isinstance(obj[field], bool):
        raise bad_request(f'can\'t parse {what}: Field "{field}" must be of type Boolean')


def _button_text(button: dict[str, Any], what: str) -> str:
    if "text" not in button:
        raise bad_request(f"can't parse {what}: Can't find field \"text\"")
    text = button["text"]
    if not isinstance(text, str):
        raise bad_request(f'can\'t parse {what}: Field "text" must be of type String')
    if not text.strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    return text


def _validate_inline_button(button: Any) -> dict[str, Any]:
    what = "inline keyboard button"
    if not isinstance(button, dict):
        raise bad_request(f"can't parse {what}: InlineKeyboardButton must be an Object")
    text = _button_text(button, what)
    actions = [
        key
        for key in _INLINE_ACTIONS
        if key in button and button[key] is not None and button[key] != ""
    ]
    if not actions:
        raise bad_request(f"can't parse {what}: Text buttons are unallowed in the inline keyboard")
    action = actions[0]
    value = button[action]
    if action == "callback_data":
        if not isinstance(value, str):
            raise bad_request(f'can\'t parse {what}: Field "callback_data" must be of type String')
        if len(value.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    elif action == "url":
        if not isinstance(value, str):
            raise bad_request(f'can\'t parse {what}: Field "url" must be of type String')
        problem = check_url(value)
        if problem is not None:
            raise bad_request(f"inline keyboard button URL '{value}' is invalid: {problem}")
    elif action == "web_app":
        url = value.get("url") if isinstance(value, dict) else None
        if not isinstance(url, str):
            raise bad_request(f"can't parse {what}: Can't find field \"url\"")
        if check_url(url, https_only=True) is not None:
            raise bad_request(
                f"inline keyboard button Web App URL '{url}' is invalid: "
                "Only HTTPS links are allowed"
            )
    elif action == "copy_text":
        copied = value.get("text") if isinstance(value, dict) else None
        if not isinstance(copied, str) or not copied:
            raise bad_request("BUTTON_COPY_TEXT_INVALID")
    elif action == "pay":
        raise bad_request("BUTTON_TYPE_INVALID")
    normalized: dict[str, Any] = {"text": text}
    for key, item in button.items():
        if key != "text" and item is not None:
            normalized[key] = item
    return normalized


def _validate_keyboard_button(button: Any) -> dict[str, Any]:
    what = "keyboard button"
    if isinstance(button, str):
        if not button.strip():
            raise bad_request("BUTTON_TEXT_INVALID")
        return {"text": button}
    if not isinstance(button, dict):
        raise bad_request(f"can't parse {what}: KeyboardButton must be a String or an Object")
    text = _button_text(button, what)
    for flag in _KEYBOARD_BUTTON_FLAGS:
        _require_button_bool(button, flag, what)
    web_app = button.get("web_app")
    if web_app is not None:
        url = web_app.get("url") if isinstance(web_app, dict) else None
        if not isinstance(url, str):
            raise bad_request(f"can't parse {what}: Can't find field \"url\"")
        if check_url(url, https_only=True) is not None:
            raise bad_request(
                f"keyboard button Web App URL '{url}' is invalid: Only HTTPS links are allowed"
            )
    for request_field in ("request_users", "request_chat"):
        request = button.get(request_field)
        if request is not None and (not isinstance(request, dict) or "request_id" not in request):
            raise bad_request(f"can't parse {what}: Can't find field \"request_id\"")
    normalized: dict[str, Any] = {"text": text}
    for key, item in button.items():
        if key != "text" and item is not None:
            normalized[key] = item
    return normalized


def _rows(markup: dict[str, Any], field: str, what: str) -> list[list[Any]]:
    rows = markup[field]
    if not isinstance(rows, list):
        raise bad_request(f'field "{field}" must be of type Array')
    for row in rows:
        if not isinstance(row, list):
            raise bad_request(f"can't parse {what}: expected an Array of {what}s")
    return rows


def validate_reply_markup(value: Any, *, inline_only: bool = False) -> dict[str, Any] | None:
    """Validate a decoded ``reply_markup``; return its normalized form (None if absent).

    ``inline_only`` is for edit methods and channels, which accept inline keyboards only.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in value:
        rows = _rows(value, "inline_keyboard", "inline keyboard button")
        keyboard = [[_validate_inline_button(button) for button in row] for row in rows]
        keyboard = [row for row in keyboard if row]
        if sum(len(row) for row in keyboard) > MAX_BUTTONS:
            raise bad_request("reply markup is too long")
        return {"inline_keyboard": keyboard}
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in value:
        rows = _rows(value, "keyboard", "keyboard button")
        for flag in _REPLY_KEYBOARD_FLAGS:
            _require_bool(value, flag)
        keyboard = [[_validate_keyboard_button(button) for button in row] for row in rows]
        keyboard = [row for row in keyboard if row]
        if sum(len(row) for row in keyboard) > 300:
            raise bad_request("reply markup is too long")
        normalized = {key: item for key, item in value.items() if item is not None}
        normalized["keyboard"] = keyboard
        return normalized
    if "remove_keyboard" in value:
        _require_bool(value, "remove_keyboard")
        _require_bool(value, "selective")
        if value["remove_keyboard"] is not True:
            raise bad_request('field "remove_keyboard" must be true')
        return {key: item for key, item in value.items() if item is not None}
    if "force_reply" in value:
        _require_bool(value, "force_reply")
        _require_bool(value, "selective")
        if value["force_reply"] is not True:
            raise bad_request('field "force_reply" must be true')
        return {key: item for key, item in value.items() if item is not None}
    if "hide_keyboard" in value:
        return {"remove_keyboard": True}
    return None


def inline_buttons(markup: dict[str, Any] | None) -> list[dict[str, Any]]:
    """All inline keyboard buttons of a normalized markup, row by row."""
    if not markup or "inline_keyboard" not in markup:
        return []
    return [button for row in markup["inline_keyboard"] for button in row]
