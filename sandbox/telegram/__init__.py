"""A fake Telegram Bot API server for end-to-end tests, benchmarks and the sandbox.

Usage::

    async with FakeBotAPI(token="42:TEST") as server:
        user = server.add_user(1001, first_name="Aida", language_code="kk")
        bot = Bot("42:TEST", session=AiohttpSession(
            api=TelegramAPIServer.from_base(server.api_base)))
        ...
        user.send_command("start")
        reply = await user.wait_reply()
"""

from .actors import OWN_ID, FakeGroupChat, FakeUser
from .errors import ApiError
from .formatting import FormattingError, ParsedText, parse_html, render_html, utf16_len
from .models import (
    CallbackAnswer,
    ChatMessage,
    Event,
    EventKind,
    RecordedRequest,
    Sender,
    StoredFile,
    UploadedFile,
)
from .ratelimit import RateLimits
from .server import FakeBotAPI
from .simulator import TelegramSimulator

__all__ = [
    "OWN_ID",
    "ApiError",
    "CallbackAnswer",
    "ChatMessage",
    "Event",
    "EventKind",
    "FakeBotAPI",
    "FakeGroupChat",
    "FakeUser",
    "FormattingError",
    "ParsedText",
    "RateLimits",
    "RecordedRequest",
    "Sender",
    "StoredFile",
    "TelegramSimulator",
    "UploadedFile",
    "parse_html",
    "render_html",
    "utf16_len",
]
