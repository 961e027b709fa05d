"""Telegram's limits, and reading a method's parameters as Telegram does (with its errors)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from ..errors import bad_request
from ..models import UploadedFile

Params = dict[str, Any]
Files = Mapping[str, UploadedFile]
SyncHandler = Callable[[Params, Files], Any]
AsyncHandler = Callable[[Params, Files], Awaitable[Any]]

MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_CALLBACK_ANSWER_LENGTH: Final = 200
MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES: Final = 20 * 1024 * 1024
MAX_PHOTO_BYTES: Final = 10 * 1024 * 1024

NOT_MODIFIED: Final = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD: Final = "query is too old and response timeout expired or query ID is invalid"

# Parameters that are strings by definition: never JSON-decoded, so "123" or "true" stays text.
STRING_PARAMS: Final = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "title",
        "address",
        "phone_number",
        "first_name",
        "last_name",
        "vcard",
        "callback_query_id",
        "url",
        "description",
        "short_description",
        "name",
        "language_code",
        "action",
        "foursquare_id",
        "foursquare_type",
        "google_place_id",
        "google_place_type",
        "inline_message_id",
        "message_effect_id",
        "business_connection_id",
        "emoji",
        "question",
        "file_id",
        "secret_token",
        "ip_address",
        "performer",
        "photo",
        "document",
        "video",
        "animation",
        "audio",
        "voice",
        "sticker",
        "video_note",
        "thumbnail",
        "custom_title",
        "payload",
        "currency",
        "start_parameter",
    }
)

CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
MEDIA_FIELDS: Final = {
    "photo": "photo",
    "document": "document",
    "video": "video",
    "animation": "animation",
    "audio": "audio",
    "voice": "voice",
    "sticker": "sticker",
}
SCOPES_WITHOUT_CHAT: Final = frozenset(
    {"default", "all_private_chats", "all_group_chats", "all_chat_administrators"}
)
LANGUAGE_CODE: Final = re.compile(r"[a-z]{2}")
COMMAND_NAME: Final = re.compile(r"[a-z0-9_]+")

ScopeKey = tuple[str, int | None, int | None]


def coerce_param(key: str, value: str) -> Any:
    """Decode a string parameter: JSON for non-string fields, the raw text otherwise."""
    if key in STRING_PARAMS or not value:
        return value
    first = value[0]
    if first in '[{"' or first == "-" or first.isdigit() or value in {"true", "false", "null"}:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# ----------------------------------------------------------------------------- param readers


def param_str(params: Params, key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise bad_request(f'field "{key}" must be of type String')


def param_int(params: Params, key: str) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise bad_request(f'field "{key}" must be of type Integer')
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise bad_request(f'field "{key}" must be of type Integer')


def param_float(params: Params, key: str) -> float | None:
    value = params.get(key)
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def param_bool(params: Params, key: str) -> bool:
    value = params.get(key)
    if isinstance(value, str):
        return value.lower() in {"true", "1", "yes"}
    return bool(value)


def require(value: Any, name: str) -> None:
    if value is None or value == "":
        raise bad_request(f'parameter "{name}" is required')
