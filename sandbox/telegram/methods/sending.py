"""Sending: text, media and albums, location, venue, contact, copies and forwards."""

from __future__ import annotations

from typing import Any

from ..errors import bad_request
from ..formatting import (
    ParsedText,
)
from ..models import StoredFile
from ..state import CAPTION_KINDS, MessageState
from .core import MethodsCore
from .params import (
    MEDIA_FIELDS,
    Files,
    Params,
    SyncHandler,
    param_float,
    param_int,
    param_str,
    require,
)


class SendingMethods(MethodsCore):
    def send_message(self, params: Params, files: Files) -> dict[str, Any]:
        raw = param_str(params, "text")
        if not raw:
            raise bad_request("message text is empty")
        chat = self.sim.writable_chat(params.get("chat_id"))
        text, html = self._parsed_text(raw, params)
        return self._announce(self._deliver(chat, params, kind="text", text=text, html=html))

    def _media_sender(self, kind: str) -> SyncHandler:
        field = MEDIA_FIELDS[kind]

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
        latitude = param_float(params, "latitude")
        longitude = param_float(params, "longitude")
        if latitude is None or not -90 <= latitude <= 90:
            raise bad_request("wrong latitude specified")
        if longitude is None or not -180 <= longitude <= 180:
            raise bad_request("wrong longitude specified")
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        accuracy = param_float(params, "horizontal_accuracy")
        if accuracy is not None:
            location["horizontal_accuracy"] = accuracy
        return location

    def send_venue(self, params: Params, files: Files) -> dict[str, Any]:
        chat = self.sim.writable_chat(params.get("chat_id"))
        location = self._location(params)
        title = param_str(params, "title")
        address = param_str(params, "address")
        require(title, "title")
        require(address, "address")
        venue: dict[str, Any] = {"location": location, "title": title, "address": address}
        for key in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            value = param_str(params, key)
            if value:
                venue[key] = value
        media = {"venue": venue, "location": location}
        return self._announce(self._deliver(chat, params, kind="venue", media=media))

    def send_contact(self, params: Params, files: Files) -> dict[str, Any]:
        chat = self.sim.writable_chat(params.get("chat_id"))
        phone = param_str(params, "phone_number")
        first_name = param_str(params, "first_name")
        require(phone, "phone_number")
        require(first_name, "first_name")
        contact: dict[str, Any] = {"phone_number": phone, "first_name": first_name}
        for key in ("last_name", "vcard"):
            value = param_str(params, key)
            if value:
                contact[key] = value
        return self._announce(
            self._deliver(chat, params, kind="contact", media={"contact": contact})
        )

    def _source_message(self, params: Params, what: str) -> MessageState:
        from_chat = self.sim.resolve_chat(params.get("from_chat_id"))
        message_id = param_int(params, "message_id")
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
