"""What every group of methods shares: formatting a text, delivering and announcing a
message, reading an uploaded file, finding the message to edit.
"""

from __future__ import annotations

from typing import Any

from ..errors import ApiError, bad_request, forbidden
from ..formatting import (
    FormattingError,
    ParsedText,
    detect_entities,
    is_plain_entity_error,
    parse_text,
    trim_text,
    utf16_len,
)
from ..markup import validate_reply_markup
from ..media import file_object, is_image, photo_sizes
from ..models import EventKind, Sender, StoredFile, UploadedFile
from ..simulator import TelegramSimulator
from ..state import ChatState, MessageState
from .params import (
    MAX_CAPTION_LENGTH,
    MAX_PHOTO_BYTES,
    MAX_TEXT_LENGTH,
    MAX_UPLOAD_BYTES,
    Files,
    Params,
    param_bool,
    param_int,
    param_str,
)


class MethodsCore:
    """State and helpers of the method groups; ``BotApiMethods`` sets ``sim``."""

    sim: TelegramSimulator

    @staticmethod
    def _true(params: Params, files: Files) -> bool:
        return True

    def _format(self, raw: str, params: Params, entities_key: str) -> tuple[ParsedText, str | None]:
        parse_mode = param_str(params, "parse_mode")
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
        raw = param_str(params, "text")
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
        raw = param_str(params, key)
        if not raw:
            return ParsedText(""), None
        parsed, html = self._format(raw, params, entities_key)
        if utf16_len(parsed.text) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        return parsed, html

    def _reply_target(self, chat: ChatState, params: Params) -> MessageState | None:
        reply_parameters = params.get("reply_parameters")
        allow = param_bool(params, "allow_sending_without_reply")
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
            message_id = param_int(params, "reply_to_message_id")
            if message_id is None:
                return None
        target = self.sim.find_message(target_chat, message_id)
        if target is None:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        return target

    def _check_extras(self, chat: ChatState, params: Params) -> None:
        thread = param_int(params, "message_thread_id")
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
            protected=param_bool(params, "protect_content"),
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
        message_id = param_int(params, "message_id")
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
