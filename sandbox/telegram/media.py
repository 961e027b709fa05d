"""Media helpers: image sniffing and the Telegram objects describing stored files."""

from __future__ import annotations

import base64
import struct
from typing import Any, Final

from .models import StoredFile

__all__ = ["SAMPLE_PNG", "file_object", "image_size", "is_image", "photo_sizes"]

# A valid 64x48 PNG, what simulated users send as a photo by default.
SAMPLE_PNG: Final = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAEAAAAAwCAIAAAAuKetIAAAAZElEQVR4nO3PUQkAIBTAwNfJTnayrSH8OITBAtxm7fN1wwU"
    "NaEEDWtCAFjSgBQ1oQQNa0IAWNKAFDWhBA1rQgBY0oAUNaEEDWtCAFjSgBQ1oQQNa0IAWNKAFDWhBA1rQgBY8dgHRvljT3U"
    "EJSAAAAABJRU5ErkJggg=="
)
_DEFAULT_SIZE: Final = (512, 512)


def is_image(data: bytes) -> bool:
    """True for the image formats Telegram accepts as photos."""
    return data.startswith(
        (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
    ) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF or JPEG image, read from its header."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data.startswith((b"GIF87a", b"GIF89a")) and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE}:
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            if marker in {0xD8, 0x01} or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            (length,) = struct.unpack(">H", data[i + 2 : i + 4])
            i += 2 + int(length)
    return None


def photo_sizes(stored: StoredFile) -> list[dict[str, Any]]:
    """The ``photo`` array of a Message: a thumbnail-sized entry and the full size."""
    width, height = image_size(stored.data) or _DEFAULT_SIZE
    full = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "width": width,
        "height": height,
    }
    if max(width, height) <= 90:
        return [full]
    scale = 90 / max(width, height)
    thumb = {
        "file_id": stored.file_id + "s",
        "file_unique_id": stored.file_unique_id + "s",
        "file_size": max(1, stored.size // 10),
        "width": max(1, round(width * scale)),
        "height": max(1, round(height * scale)),
    }
    return [thumb, full]


def file_object(stored: StoredFile, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The Telegram object (Document, Video, Audio...) describing a stored file."""
    obj: dict[str, Any] = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
    }
    if stored.filename and kind in {"document", "video", "animation", "audio"}:
        obj["file_name"] = stored.filename
    if stored.mime_type and kind != "sticker":
        obj["mime_type"] = stored.mime_type
    if kind in {"video", "animation"}:
        size = image_size(stored.data)
        obj["width"] = _int(params.get("width"), size[0] if size else 640)
        obj["height"] = _int(params.get("height"), size[1] if size else 360)
        obj["duration"] = _int(params.get("duration"), 0)
    elif kind in {"audio", "voice"}:
        obj["duration"] = _int(params.get("duration"), 0)
        if kind == "audio":
            for key in ("performer", "title"):
                if isinstance(params.get(key), str):
                    obj[key] = params[key]
    elif kind == "sticker":
        obj.update(
            {
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        )
        emoji = params.get("emoji")
        if isinstance(emoji, str) and emoji:
            obj["emoji"] = emoji
    return obj


def _int(value: Any, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return default
