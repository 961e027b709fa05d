"""What the page is sent: chat messages and keyboards as plain JSON.

The message HTML is the fake server's own rendering of Telegram entities (``render_html``
escapes every piece of text), and the page re-checks it against Telegram's tag list
before showing it; user-typed text never reaches the page as markup of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

from sandbox.telegram import ChatMessage, StoredFile, render_html
from sandbox.telegram.media import is_image

# Message kinds shown as a picture in the bubble.
_IMAGE_KINDS: Final = frozenset({"photo", "sticker"})


def map_url(latitude: float, longitude: float) -> str:
    """An OpenStreetMap link centred on a point, with a marker."""
    lat, lon = f"{latitude:.6f}", f"{longitude:.6f}"
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"


def file_url(file_id: str) -> str:
    return f"/api/files/{quote(file_id, safe='')}"


def file_json(stored: StoredFile, kind: str) -> dict[str, Any]:
    image = kind in _IMAGE_KINDS and is_image(stored.data)
    return {
        "url": file_url(stored.file_id),
        "name": stored.filename or stored.file_path.rsplit("/", 1)[-1],
        "mime_type": stored.mime_type,
        "size": stored.size,
        "is_image": image,
    }


def _point(raw: Mapping[str, Any]) -> dict[str, Any] | None:
    latitude, longitude = raw.get("latitude"), raw.get("longitude")
    if not isinstance(latitude, int | float) or not isinstance(longitude, int | float):
        return None
    return {
        "latitude": latitude,
        "longitude": longitude,
        "map_url": map_url(float(latitude), float(longitude)),
    }


def inline_keyboard(markup: Mapping[str, Any] | None) -> list[list[dict[str, Any]]]:
    """Inline buttons, row by row: text plus what pressing does (callback or link)."""
    rows: list[list[dict[str, Any]]] = []
    for row in (markup or {}).get("inline_keyboard") or []:
        buttons: list[dict[str, Any]] = []
        for button in row:
            item: dict[str, Any] = {"text": str(button.get("text", ""))}
            if isinstance(button.get("callback_data"), str):
                item["callback_data"] = button["callback_data"]
            elif isinstance(button.get("url"), str):
                item["url"] = button["url"]
            else:
                item["unsupported"] = True  # login_url, web_app, pay...: shown, inert
            buttons.append(item)
        rows.append(buttons)
    return rows


def reply_keyboard(markup: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The reply keyboard a chat shows now (None when there is none)."""
    if not markup or "keyboard" not in markup:
        return None
    rows = [
        [
            {
                "text": str(button.get("text", "")),
                "request_contact": bool(button.get("request_contact")),
                "request_location": bool(button.get("request_location")),
            }
            for button in row
        ]
        for row in markup["keyboard"]
    ]
    return {
        "rows": rows,
        "one_time": bool(markup.get("one_time_keyboard")),
        "placeholder": markup.get("input_field_placeholder"),
    }


def message_json(message: ChatMessage, *, date_offset: int = 0) -> dict[str, Any]:
    """One message as the page draws it. ``date_offset``: seconds the sandbox clock was
    ahead of real time when the message was sent."""
    raw = message.raw
    html = message.html
    if html is None:
        html = (
            render_html(message.content, [dict(e) for e in message.entities])
            if message.content
            else ""
        )
    sender = raw.get("from") or {}
    data: dict[str, Any] = {
        "id": message.message_id,
        "chat_id": message.chat_id,
        "sender": str(message.sender),
        "sender_id": message.sender_id,
        "sender_name": " ".join(
            part for part in (sender.get("first_name"), sender.get("last_name")) if part
        ),
        "date": message.date + date_offset,
        "kind": message.kind,
        "html": html,
        "edited": message.edit_count > 0,
        "inline_keyboard": inline_keyboard(message.reply_markup),
        "reply_to": message.reply_to_message_id,
    }
    if message.file is not None:
        data["file"] = file_json(message.file, message.kind)
    venue = raw.get("venue")
    location = raw.get("location")
    if isinstance(venue, Mapping):
        point = _point(venue.get("location") or location or {})
        if point is not None:
            data["venue"] = {
                **point,
                "title": str(venue.get("title", "")),
                "address": str(venue.get("address", "")),
            }
    elif isinstance(location, Mapping):
        point = _point(location)
        if point is not None:
            data["location"] = point
    contact = raw.get("contact")
    if isinstance(contact, Mapping):
        data["contact"] = {
            "phone_number": str(contact.get("phone_number", "")),
            "name": " ".join(
                str(part) for part in (contact.get("first_name"), contact.get("last_name")) if part
            ),
        }
    sticker = raw.get("sticker")
    if isinstance(sticker, Mapping):
        data["emoji"] = str(sticker.get("emoji") or "")
    origin = raw.get("forward_origin")
    if isinstance(origin, Mapping):
        user = origin.get("sender_user") or {}
        data["forwarded_from"] = str(
            origin.get("sender_user_name") or user.get("first_name") or "someone"
        )
    return data
