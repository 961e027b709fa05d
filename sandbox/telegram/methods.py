"""Bot API method implementations on top of the simulator, with Telegram's errors."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from .errors import ApiError, bad_request, forbidden
from .formatting import (
    FormattingError,
    ParsedText,
    detect_entities,
    is_plain_entity_error,
    parse_text,
    render_html,
    trim_text,
    utf16_len,
)
from .markup import validate_reply_markup
from .media import file_object, is_image, photo_sizes
from .models import CallbackAnswer, EventKind, Sender, StoredFile, UploadedFile
from .simulator import TelegramSimulator
from .state import CAPTION_KINDS, ChatState, MessageState

__all__ = ["STRING_PARAMS", "BotApiMethods", "coerce_param"]

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

_CHAT_ACTIONS: Final = frozenset(
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
_MEDIA_FIELDS: Final = {
    "photo": "photo",
    "document": "document",
    "video": "video",
    "animation": "animation",
    "audio": "audio",
    "voice": "voice",
    "sticker": "sticker",
}
_SCOPES_WITHOUT_CHAT: Final = frozenset(
    {"default", "all_private_chats", "all_group_chats", "all_chat_administrators"}
)
_LANGUAGE_CODE: Final = re.compile(r"[a-z]{2}")
_COMMAND_NAME: Final = re.compile(r"[a-z0-9_]+")

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


def _str(params: Params, key: str) -> str | None:
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


def _int(params: Params, key: str) -> int | None:
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


def _float(params: Params, key: str) -> float | None:
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


def _bool(params: Params, key: str) -> bool:
    value = params.get(key)
    if isinstance(value, str):
        return value.lower() in {"true", "1", "yes"}
    return bool(value)


def _required(value: Any, name: str) -> None:
    if value is None or value == "":
        raise bad_request(f'parameter "{name}" is required')


class BotApiMethods:
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

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _true(params: Params, files: Files) -> bool:
        return True

    def _format(self, raw: str, params: Params, entities_key: str) -> tuple[ParsedText, str | None]:
        parse_mode = _str(params, "parse_mode")
        try:
            parsed = parse_text(
                raw,
                parse_mode,
                params.get(entities_key),
                strict_html=self.sim.strict_html,
                user_lookup=self.sim.user_dict,
            )
        except FormattingError as exc:
            if is_plain_entity_error(exc):
                raise bad_request(exc.detail) from None
            raise bad_request(f"can't parse entities: {exc.detail}") from None
        except ValueError:
            raise bad_request("unsupported parse_mode") from None
        parsed = trim_text(parsed)
        parsed = ParsedText(parsed.text, detect_entities(parsed.text, parsed.entities))
        html = raw.strip() if (parse_mode or "").lower() == "html" else None
        return parsed, html

    def _text(self, params: Params) -> tuple[ParsedText, str | None]:
        raw = _str(params, "text")
        if not raw:
            raise bad_request("message text is empty")
        return self._parsed_text(raw, params)

    def _parsed_text(self, raw: str, params: Params) -> tuple[ParsedText, str | None]:
        parsed, html = self._format(raw, params, "entities")
        if not parsed.text:
            raise bad_request("text must be non-empty")
        if utf16_len(parsed.text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        return parsed, html

    def _caption(
        self, params: Params, key: str = "caption", entities_key: str = "caption_entities"
    ) -> tuple[ParsedText, str | None]:
        raw = _str(params, key)
        if not raw:
            return ParsedText(""), None
        parsed, html = self._format(raw, params, entities_key)
        if utf16_len(parsed.text) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        return parsed, html

    def _reply_target(self, chat: ChatState, params: Params) -> MessageState | None:
        reply_parameters = params.get("reply_parameters")
        allow = _bool(params, "allow_sending_without_reply")
        target_chat = chat
        if reply_parameters is not None and reply_parameters != "":
            if not isinstance(reply_parameters, dict):
                raise bad_request("can't parse reply parameters JSON object")
            if "message_id" not in reply_parameters:
                raise bad_request('can\'t find field "message_id"')
            message_id: Any = reply_parameters["message_id"]
            allow = bool(reply_parameters.get("allow_sending_without_reply", allow))
            if reply_parameters.get("chat_id") not in {None, ""}:
                target_chat = self.sim.resolve_chat(reply_parameters["chat_id"])
        else:
            message_id = _int(params, "reply_to_message_id")
            if message_id is None:
                return None
        target = self.sim.find_message(target_chat, message_id)
        if target is None:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        return target

    def _check_extras(self, chat: ChatState, params: Params) -> None:
        thread = _int(params, "message_thread_id")
        if thread:
            raise bad_request("message thread not found")
        if params.get("business_connection_id"):
            raise bad_request("business connection not found")

    def _deliver(
        self,
        chat: ChatState,
        params: Params,
        *,
        kind: str,
        text: ParsedText | None = None,
        caption: ParsedText | None = None,
        html: str | None = None,
        media: dict[str, Any] | None = None,
        file: StoredFile | None = None,
        forward_origin: dict[str, Any] | None = None,
        allow_markup: bool = True,
    ) -> MessageState:
        markup = validate_reply_markup(params.get("reply_markup")) if allow_markup else None
        reply_to = self._reply_target(chat, params)
        self._check_extras(chat, params)
        self.sim.check_rate(chat)
        return self.sim.store_message(
            chat,
            sender=Sender.BOT,
            from_user=self.sim.bot_user,
            kind=kind,
            text=text.text if text is not None else None,
            entities=text.entities if text is not None else (),
            caption=caption.text if caption is not None else None,
            caption_entities=caption.entities if caption is not None else (),
            html=html,
            media=media,
            file=file,
            reply_markup=markup,
            reply_to=reply_to,
            forward_origin=forward_origin,
            protected=_bool(params, "protect_content"),
        )

    def _announce(self, message: MessageState) -> dict[str, Any]:
        raw = message.to_api()
        self.sim.emit(EventKind.MESSAGE_SENT, chat=message.chat, message=message, raw=raw)
        return raw

    def _input_file(self, params: Params, files: Files, field: str, kind: str) -> StoredFile:
        value = params.get(field)
        upload: UploadedFile | None = None
        if value is None and field in files:
            upload = files[field]
        elif isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
            if upload is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
        elif isinstance(value, str) and value:
            if value.lower().startswith(("http://", "https://")):
                return self.sim.store_file(kind, b"", url=value, filename=value.rsplit("/", 1)[-1])
            stored = self.sim.files.get(value)
            if stored is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            return stored
        else:
            raise bad_request(f"there is no {field} in the request")
        if not upload.data:
            raise bad_request("file must be non-empty")
        if len(upload.data) > MAX_UPLOAD_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        if kind == "photo":
            if len(upload.data) > MAX_PHOTO_BYTES:
                raise bad_request("PHOTO_INVALID_DIMENSIONS")
            if not is_image(upload.data):
                raise bad_request("IMAGE_PROCESS_FAILED")
        return self.sim.store_file(
            kind, upload.data, filename=upload.filename, mime_type=upload.content_type
        )

    @staticmethod
    def _media_payload(kind: str, stored: StoredFile, params: Params) -> dict[str, Any]:
        if kind == "photo":
            return {"photo": photo_sizes(stored)}
        payload = {kind: file_object(stored, kind, params)}
        if kind == "animation":
            payload["document"] = file_object(stored, "document", params)
        return payload

    def _edit_target(self, params: Params, *, what: str = "edit") -> MessageState:
        if params.get("inline_message_id"):
            raise bad_request("invalid inline message identifier specified")
        chat = self.sim.resolve_chat(params.get("chat_id"))
        if chat.is_private and chat.id in self.sim.blocked:
            raise forbidden("bot was blocked by the user")
        message_id = _int(params, "message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = self.sim.find_message(chat, message_id)
        if message is None:
            raise bad_request(f"message to {what} not found")
        if message.sender is not Sender.BOT:
            raise bad_request("message can't be edited")
        return message

    def _edited(self, message: MessageState) -> dict[str, Any]:
        message.edit_count += 1
        message.edit_date = self.sim.now()
        raw = message.to_api()
        self.sim.emit(EventKind.MESSAGE_EDITED, chat=message.chat, message=message, raw=raw)
        return raw

    # ------------------------------------------------------------------ bot and updates

    def get_me(self, params: Params, files: Files) -> dict[str, Any]:
        return {
            **self.sim.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.sim.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def get_updates(self, params: Params, files: Files) -> list[dict[str, Any]]:
        allowed = params.get("allowed_updates")
        if allowed is not None and not (
            isinstance(allowed, list) and all(isinstance(item, str) for item in allowed)
        ):
            raise bad_request("can't parse allowed_updates JSON array")
        return await self.sim.get_updates(
            offset=_int(params, "offset"),
            limit=_int(params, "limit") or 100,
            timeout=max(_int(params, "timeout") or 0, 0),
            allowed_updates=allowed,
        )

    def set_webhook(self, params: Params, files: Files) -> bool:
        url = _str(params, "url") or ""
        if url and not url.lower().startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.sim.webhook_url = url
        if _bool(params, "drop_pending_updates"):
            self.sim.drop_updates()
        return True

    def delete_webhook(self, params: Params, files: Files) -> bool:
        self.sim.webhook_url = ""
        if _bool(params, "drop_pending_updates"):
            self.sim.drop_updates()
        return True

    def get_webhook_info(self, params: Params, files: Files) -> dict[str, Any]:
        return {
            "url": self.sim.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.sim.pending_updates),
        }

    # ------------------------------------------------------------------ sending

    def send_message(self, params: Params, files: Files) -> dict[str, Any]:
        raw = _str(params, "text")
        if not raw:
            raise bad_request("message text is empty")
        chat = self.sim.writable_chat(params.get("chat_id"))
        text, html = self._parsed_text(raw, params)
        return self._announce(self._deliver(chat, params, kind="text", text=text, html=html))

    def _media_sender(self, kind: str) -> SyncHandler:
        field = _MEDIA_FIELDS[kind]

        def send(params: Params, files: Files) -> dict[str, Any]:
            chat = self.sim.writable_chat(params.get("chat_id"))
            stored = self._input_file(params, files, field, kind)
            caption, html = self._caption(params) if kind != "sticker" else (ParsedText(""), None)
            message = self._deliver(
                chat,
                params,
                kind=kind,
                caption=caption,
                html=html,
                media=self._media_payload(kind, stored, params),
                file=stored,
            )
            return self._announce(message)

        return send

    def send_media_group(self, params: Params, files: Files) -> list[dict[str, Any]]:
        chat = self.sim.writable_chat(params.get("chat_id"))
        media = params.get("media")
        if not isinstance(media, list) or not media:
            raise bad_request("can't parse media JSON object")
        if len(media) > 10:
            raise bad_request("too many messages to send as an album")
        prepared: list[tuple[str, StoredFile, ParsedText, str | None, dict[str, Any]]] = []
        for item in media:
            if not isinstance(item, dict):
                raise bad_request("can't parse InputMedia JSON object")
            kind = item.get("type")
            if kind not in {"photo", "video", "document", "audio"}:
                raise bad_request("unsupported media type in the album")
            stored = self._input_file(item, files, "media", str(kind))
            caption, html = self._caption({**item, "parse_mode": item.get("parse_mode")})
            prepared.append((str(kind), stored, caption, html, item))
        group_id = str(10**17 + self.sim.next_seq())
        results = []
        for kind, stored, caption, html, item in prepared:
            payload = self._media_payload(kind, stored, item)
            payload["media_group_id"] = group_id
            message = self._deliver(
                chat,
                params,
                kind=kind,
                caption=caption,
                html=html,
                media=payload,
                file=stored,
                allow_markup=False,
            )
            results.append(self._announce(message))
        return results

    def send_location(self, params: Params, files: Files) -> dict[str, Any]:
        chat = self.sim.writable_chat(params.get("chat_id"))
        location = self._location(params)
        return self._announce(
            self._deliver(chat, params, kind="location", media={"location": location})
        )

    @staticmethod
    def _location(params: Params) -> dict[str, Any]:
        latitude = _float(params, "latitude")
        longitude = _float(params, "longitude")
        if latitude is None or not -90 <= latitude <= 90:
            raise bad_request("wrong latitude specified")
        if longitude is None or not -180 <= longitude <= 180:
            raise bad_request("wrong longitude specified")
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        accuracy = _float(params, "horizontal_accuracy")
        if accuracy is not None:
            location["horizontal_accuracy"] = accuracy
        return location

    def send_venue(self, params: Params, files: Files) -> dict[str, Any]:
        chat = self.sim.writable_chat(params.get("chat_id"))
        location = self._location(params)
        title = _str(params, "title")
        address = _str(params, "address")
        _required(title, "title")
        _required(address, "address")
        venue: dict[str, Any] = {"location": location, "title": title, "address": address}
        for key in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            value = _str(params, key)
            if value:
                venue[key] = value
        media = {"venue": venue, "location": location}
        return self._announce(self._deliver(chat, params, kind="venue", media=media))

    def send_contact(self, params: Params, files: Files) -> dict[str, Any]:
        chat = self.sim.writable_chat(params.get("chat_id"))
        phone = _str(params, "phone_number")
        first_name = _str(params, "first_name")
        _required(phone, "phone_number")
        _required(first_name, "first_name")
        contact: dict[str, Any] = {"phone_number": phone, "first_name": first_name}
        for key in ("last_name", "vcard"):
            value = _str(params, key)
            if value:
                contact[key] = value
        return self._announce(
            self._deliver(chat, params, kind="contact", media={"contact": contact})
        )

    def _source_message(self, params: Params, what: str) -> MessageState:
        from_chat = self.sim.resolve_chat(params.get("from_chat_id"))
        message_id = _int(params, "message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        source = self.sim.find_message(from_chat, message_id)
        if source is None:
            raise bad_request(f"message to {what} not found")
        if source.protected:
            raise bad_request("message has protected content and can't be forwarded")
        return source

    def copy_message(self, params: Params, files: Files) -> dict[str, Any]:
        chat = self.sim.writable_chat(params.get("chat_id"))
        source = self._source_message(params, "copy")
        text = ParsedText(source.text, source.entities) if source.text is not None else None
        html = source.html
        caption: ParsedText | None = None
        if source.kind in CAPTION_KINDS:
            if "caption" in params:
                caption, html = self._caption(params)
            else:
                caption = ParsedText(source.caption or "", source.caption_entities)
        message = self._deliver(
            chat,
            params,
            kind=source.kind,
            text=text,
            caption=caption,
            html=html,
            media=dict(source.media),
            file=source.file,
        )
        self._announce(message)
        return {"message_id": message.message_id}

    def forward_message(self, params: Params, files: Files) -> dict[str, Any]:
        chat = self.sim.writable_chat(params.get("chat_id"))
        source = self._source_message(params, "forward")
        origin = source.forward_origin or {
            "type": "user",
            "sender_user": source.from_user,
            "date": source.date,
        }
        message = self._deliver(
            chat,
            {key: value for key, value in params.items() if key not in {"reply_parameters"}},
            kind=source.kind,
            text=ParsedText(source.text, source.entities) if source.text is not None else None,
            caption=ParsedText(source.caption or "", source.caption_entities),
            html=source.html,
            media=dict(source.media),
            file=source.file,
            forward_origin=origin,
            allow_markup=False,
        )
        return self._announce(message)

    # ------------------------------------------------------------------ editing

    def edit_message_text(self, params: Params, files: Files) -> dict[str, Any]:
        message = self._edit_target(params)
        raw = _str(params, "text")
        if not raw:
            raise bad_request("message text is empty")
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        text, html = self._parsed_text(raw, params)
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        if (
            text.text == message.text
            and list(text.entities) == list(message.entities)
            and markup == message.inline_markup
        ):
            raise bad_request(NOT_MODIFIED)
        message.text = text.text
        message.entities = text.entities
        message.html = html
        if html is None:
            message.html = render_html(text.text, text.entities)
        message.reply_markup = markup
        return self._edited(message)

    def edit_message_caption(self, params: Params, files: Files) -> dict[str, Any]:
        message = self._edit_target(params)
        if message.kind not in CAPTION_KINDS:
            raise bad_request("there is no caption in the message to edit")
        caption, html = self._caption(params)
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        if (
            caption.text == (message.caption or "")
            and list(caption.entities) == list(message.caption_entities)
            and markup == message.inline_markup
        ):
            raise bad_request(NOT_MODIFIED)
        message.caption = caption.text or None
        message.caption_entities = caption.entities
        if html is None and caption.text:
            html = render_html(caption.text, caption.entities)
        message.html = html
        message.reply_markup = markup
        return self._edited(message)

    def edit_message_reply_markup(self, params: Params, files: Files) -> dict[str, Any]:
        message = self._edit_target(params)
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        if markup == message.inline_markup:
            raise bad_request(NOT_MODIFIED)
        message.reply_markup = markup
        return self._edited(message)

    def edit_message_media(self, params: Params, files: Files) -> dict[str, Any]:
        message = self._edit_target(params)
        media = params.get("media")
        if not isinstance(media, dict):
            raise bad_request("can't parse InputMedia JSON object")
        kind = media.get("type")
        if kind not in {"photo", "video", "document", "audio", "animation"}:
            raise bad_request("can't parse InputMedia: Unsupported type specified")
        if message.kind not in CAPTION_KINDS:
            raise bad_request("there is no media in the message to edit")
        stored = self._input_file(media, files, "media", str(kind))
        caption, html = self._caption(media)
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        if (
            message.file is not None
            and stored.file_id == message.file.file_id
            and caption.text == (message.caption or "")
            and markup == message.inline_markup
        ):
            raise bad_request(NOT_MODIFIED)
        message.kind = str(kind)
        message.media = self._media_payload(str(kind), stored, media)
        message.file = stored
        message.caption = caption.text or None
        message.caption_entities = caption.entities
        message.html = html
        message.reply_markup = markup
        return self._edited(message)

    def delete_message(self, params: Params, files: Files) -> bool:
        chat = self.sim.resolve_chat(params.get("chat_id"))
        message_id = _int(params, "message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = self.sim.find_message(chat, message_id)
        if message is None:
            raise bad_request("message to delete not found")
        self._delete(chat, message)
        return True

    def delete_messages(self, params: Params, files: Files) -> bool:
        chat = self.sim.resolve_chat(params.get("chat_id"))
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not ids or len(ids) > 100:
            raise bad_request("message identifiers are not specified")
        messages = [self.sim.find_message(chat, message_id) for message_id in ids]
        found = [message for message in messages if message is not None]
        if not found:
            raise bad_request("message to delete not found")
        for message in found:
            self._delete(chat, message)
        return True

    def _delete(self, chat: ChatState, message: MessageState) -> None:
        if (
            not chat.is_private
            and message.sender is not Sender.BOT
            and chat.bot_status not in {"creator", "administrator"}
        ):
            raise bad_request("message can't be deleted")
        message.deleted = True
        self.sim.emit(
            EventKind.MESSAGE_DELETED,
            chat=chat,
            message=message,
            data={"message_id": message.message_id},
        )

    # ------------------------------------------------------------------ interaction

    def send_chat_action(self, params: Params, files: Files) -> bool:
        chat = self.sim.writable_chat(params.get("chat_id"))
        action = _str(params, "action")
        if action not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.sim.emit(EventKind.CHAT_ACTION, chat=chat, data={"action": action})
        return True

    def answer_callback_query(self, params: Params, files: Files) -> bool:
        query_id = _str(params, "callback_query_id") or ""
        query = self.sim.callback_queries.get(query_id)
        if query is None or query.answered:
            raise bad_request(QUERY_TOO_OLD)
        text = _str(params, "text")
        if text and utf16_len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        answer = CallbackAnswer(
            query_id=query_id,
            text=text or None,
            show_alert=_bool(params, "show_alert"),
            url=_str(params, "url") or None,
            cache_time=_int(params, "cache_time") or 0,
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

    # ------------------------------------------------------------------ commands and profile

    def _scope(self, params: Params) -> tuple[ScopeKey, str]:
        scope = params.get("scope")
        language = _str(params, "language_code") or ""
        if language and not _LANGUAGE_CODE.fullmatch(language):
            raise bad_request("invalid language code specified")
        if scope is None or scope == "":
            return ("default", None, None), language
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise bad_request("can't parse BotCommandScope JSON object")
        kind = scope["type"]
        if kind in _SCOPES_WITHOUT_CHAT:
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
            if not _COMMAND_NAME.fullmatch(name):
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
            language = _str(params, "language_code") or ""
            if language and not _LANGUAGE_CODE.fullmatch(language):
                raise bad_request("invalid language code specified")
            value = _str(params, field) or ""
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
            language = _str(params, "language_code") or ""
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

    # ------------------------------------------------------------------ chats and files

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
        user_id = _int(params, "user_id")
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
        file_id = _str(params, "file_id") or ""
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
        message = self.sim.find_message(chat, _int(params, "message_id"))
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
        if self.sim.find_message(chat, _int(params, "message_id")) is None:
            raise bad_request("message to react not found")
        return True
