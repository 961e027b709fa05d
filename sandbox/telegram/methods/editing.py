"""Editing and deleting messages."""

from __future__ import annotations

from typing import Any

from ..errors import bad_request
from ..formatting import (
    render_html,
)
from ..markup import validate_reply_markup
from ..models import EventKind, Sender
from ..state import CAPTION_KINDS, ChatState, MessageState
from .core import MethodsCore
from .params import NOT_MODIFIED, Files, Params, param_int, param_str


class EditingMethods(MethodsCore):
    def edit_message_text(self, params: Params, files: Files) -> dict[str, Any]:
        message = self._edit_target(params)
        raw = param_str(params, "text")
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
        message_id = param_int(params, "message_id")
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
