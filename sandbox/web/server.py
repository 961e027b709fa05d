"""The sandbox's web chat: an aiohttp app with the page, a small JSON API and a WebSocket
that pushes every change in the simulated Telegram to the page.

API (all JSON; ``{key}`` is a chat of ``GET /api/state``)::

    GET  /api/state                          bot, chats (personas), clock
    GET  /api/chats/{key}                    history, reply keyboard, command menu
    POST /api/chats/{key}/messages           {"text": "..."}
    POST /api/chats/{key}/commands           {"command": "start", "args": ""}
    POST /api/chats/{key}/contact            share the persona's own contact
    POST /api/chats/{key}/files              multipart: file (+ caption)
    POST /api/chats/{key}/callbacks          {"message_id": 5, "data": "..."} -> query_id
    POST /api/chats/{key}/reply-buttons      {"text": "..."}
    (POST /api/chats/{key}/messages takes {"text": "...", "reply_to": id}: a Telegram reply)
    GET  /api/files/{file_id}                download a stored file
    POST /api/clock                          {"amount": 2, "unit": "hours"}
    GET  /ws                                 events: message, deleted, callback_answer, ...

Only this machine can reach it unless SANDBOX_HOST says otherwise; requests from other
web pages (another Origin) and DNS-rebinding hosts are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlsplit

from aiohttp import BodyPartReader, WSCloseCode, WSMsgType, web

from sandbox.telegram.media import is_image
from sandbox.web.core import MAX_TEXT, Sandbox, SandboxError
from sandbox.web.personas import ChatView

log = logging.getLogger(__name__)

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
MAX_UPLOAD: Final = 20 * 1024 * 1024  # what a bot may download from Telegram
_UNITS: Final = {"minutes": 1, "hours": 60, "days": 24 * 60}
_IMAGE_TYPES: Final = {
    b"\x89PNG": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF8": "image/gif",
    b"RIFF": "image/webp",
}
_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_SOCKETS: Final = web.AppKey("sockets", set[web.WebSocketResponse])

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SandboxHostError(ValueError):
    """The sandbox would listen where other machines can reach it, unasked."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind_host(host: str, *, explicit: bool) -> None:
    """Loopback only, unless SANDBOX_HOST was set on purpose."""
    if is_loopback(host) or explicit:
        return
    raise SandboxHostError(
        f"the sandbox listens only on this machine (127.0.0.1); to listen on {host} "
        f"set SANDBOX_HOST={host} explicitly"
    )


class SandboxServer:
    """Serves the web chat for a running ``Sandbox``."""

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        explicit_host: bool = False,
    ) -> None:
        check_bind_host(host, explicit=explicit_host)
        self.sandbox = sandbox
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    def build_app(self) -> web.Application:
        app = web.Application(
            client_max_size=MAX_UPLOAD + 64 * 1024,
            middlewares=[self._guard],
        )
        app[_SOCKETS] = set()
        app.on_shutdown.append(self._close_sockets)
        r = app.router
        r.add_get("/", self.index)
        r.add_get("/static/{name}", self.static)
        r.add_get("/favicon.ico", self.favicon)
        r.add_get("/api/state", self.state)
        r.add_get("/api/chats/{key}", self.chat)
        r.add_post("/api/chats/{key}/messages", self.post_message)
        r.add_post("/api/chats/{key}/commands", self.post_command)
        r.add_post("/api/chats/{key}/contact", self.post_contact)
        r.add_post("/api/chats/{key}/files", self.post_file)
        r.add_post("/api/chats/{key}/callbacks", self.post_callback)
        r.add_post("/api/chats/{key}/reply-buttons", self.post_reply_button)
        r.add_get("/api/files/{file_id}", self.download)
        r.add_post("/api/clock", self.post_clock)
        r.add_post("/api/reset", self.post_reset)
        r.add_get("/ws", self.websocket)
        return app

    async def start(self) -> None:
        runner = web.AppRunner(
            self.build_app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        sockets = getattr(site._server, "sockets", None) or []  # the bound port
        self._bound_port = sockets[0].getsockname()[1] if sockets else self.port

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @property
    def url(self) -> str:
        if self._bound_port is None:
            msg = "the sandbox web server is not running"
            raise RuntimeError(msg)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._bound_port}"

    @staticmethod
    async def _close_sockets(app: web.Application) -> None:
        sockets = app[_SOCKETS]
        for ws in tuple(sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"sandbox stopped")

    # ------------------------------------------------------------------ guard

    def _allowed_host(self, request: web.Request) -> bool:
        """Against DNS rebinding: on loopback, only loopback names in the Host header."""
        if not is_loopback(self.host):
            return True
        name = urlsplit(f"//{request.host}").hostname or ""
        return is_loopback(name)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._allowed_host(request):
            return web.Response(status=421, text="Misdirected request")
        origin = request.headers.get("Origin")
        guarded = request.method not in {"GET", "HEAD"} or request.path == "/ws"
        if guarded and origin is not None and origin != f"{request.scheme}://{request.host}":
            return web.json_response({"ok": False, "error": "cross-site request"}, status=403)
        try:
            response = await handler(request)
        except SandboxError as exc:
            response = web.json_response({"ok": False, "error": str(exc)}, status=400)
        except KeyError:
            response = web.json_response({"ok": False, "error": "not found"}, status=404)
        if not isinstance(response, web.WebSocketResponse):
            response.headers.setdefault("Content-Security-Policy", _CSP)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "no-referrer")
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    # ------------------------------------------------------------------ page

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = STATIC_DIR / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise web.HTTPNotFound
        return web.FileResponse(path)

    async def favicon(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "favicon.svg")

    # ------------------------------------------------------------------ reading

    async def state(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.sandbox.state_json())

    def _view(self, request: web.Request) -> ChatView:
        return self.sandbox.view(request.match_info["key"])

    async def chat(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.sandbox.chat_json(self._view(request)))

    async def download(self, request: web.Request) -> web.StreamResponse:
        stored = self.sandbox.api.file(request.match_info["file_id"])
        if stored is None:
            raise web.HTTPNotFound
        name = stored.filename or stored.file_path.rsplit("/", 1)[-1]
        image_type = _image_type(stored.data)
        if image_type is not None and request.query.get("download") != "1":
            # Pictures show inline; the type comes from the bytes, never from the sender.
            return web.Response(body=stored.data, content_type=image_type)
        ascii_name = name.encode("ascii", "replace").decode().replace('"', "'")
        return web.Response(
            body=stored.data,
            content_type=stored.mime_type or "application/octet-stream",
            headers={
                "Content-Disposition": (
                    f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
                )
            },
        )

    # ------------------------------------------------------------------ acting

    async def post_message(self, request: web.Request) -> web.StreamResponse:
        body = await _json(request)
        reply_to = body.get("reply_to")
        if reply_to is not None and (not isinstance(reply_to, int) or isinstance(reply_to, bool)):
            raise SandboxError("reply_to must be a message id")
        raw = self.sandbox.send_text(self._view(request), _text(body, "text"), reply_to)
        return _sent(raw)

    async def post_command(self, request: web.Request) -> web.StreamResponse:
        body = await _json(request)
        args = body.get("args")
        raw = self.sandbox.send_command(
            self._view(request), _text(body, "command"), args if isinstance(args, str) else None
        )
        return _sent(raw)

    async def post_contact(self, request: web.Request) -> web.StreamResponse:
        await _json(request)
        return _sent(self.sandbox.send_contact(self._view(request)))

    async def post_file(self, request: web.Request) -> web.StreamResponse:
        view = self._view(request)
        if request.content_type != "multipart/form-data":
            raise SandboxError("send the file as multipart/form-data")
        reader = await request.multipart()
        data: bytes | None = None
        filename = "file"
        mime_type: str | None = None
        caption: str | None = None
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "file":
                data = bytes(await part.read())
                filename = part.filename or "file"
                mime_type = part.headers.get("Content-Type")
            elif part.name == "caption":
                caption = (await part.text())[:MAX_TEXT]
        if data is None:
            raise SandboxError("no file in the upload")
        return _sent(self.sandbox.send_file(view, data, filename, mime_type, caption))

    async def post_callback(self, request: web.Request) -> web.StreamResponse:
        body = await _json(request)
        message_id = body.get("message_id")
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise SandboxError("message_id must be a number")
        query_id = self.sandbox.press_inline(self._view(request), message_id, _text(body, "data"))
        return web.json_response({"ok": True, "query_id": query_id})

    async def post_reply_button(self, request: web.Request) -> web.StreamResponse:
        body = await _json(request)
        return _sent(self.sandbox.press_reply(self._view(request), _text(body, "text")))

    async def post_clock(self, request: web.Request) -> web.StreamResponse:
        body = await _json(request)
        amount, unit = body.get("amount"), body.get("unit")
        if not isinstance(amount, int) or isinstance(amount, bool) or unit not in _UNITS:
            raise SandboxError("send {amount: whole number, unit: minutes|hours|days}")
        clock = await self.sandbox.move_clock(timedelta(minutes=amount * _UNITS[str(unit)]))
        return web.json_response({"ok": True, "clock": clock})

    async def post_reset(self, request: web.Request) -> web.StreamResponse:
        await self.sandbox.reset()
        return web.json_response({"ok": True})

    # ------------------------------------------------------------------ events

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=25, max_msg_size=64 * 1024)
        await ws.prepare(request)
        request.app[_SOCKETS].add(ws)
        queue = self.sandbox.listen()
        await ws.send_json({"type": "hello", "clock": self.sandbox.clock_json()})

        async def pump() -> None:
            while True:
                payload = await queue.get()
                await ws.send_str(json.dumps(payload, ensure_ascii=False))

        sender = asyncio.create_task(pump(), name="sandbox-ws")
        try:
            async for message in ws:  # the page only listens; anything else is ignored
                if message.type is WSMsgType.ERROR:
                    break
        finally:
            request.app[_SOCKETS].discard(ws)
            self.sandbox.unlisten(queue)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
        return ws


async def _json(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise SandboxError("send JSON (Content-Type: application/json)")
    try:
        body = await request.json()
    except ValueError:
        raise SandboxError("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise SandboxError("send a JSON object")
    return body


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str):
        raise SandboxError(f"{field} must be a string")
    return value


def _sent(raw: dict[str, Any]) -> web.Response:
    return web.json_response({"ok": True, "message_id": raw.get("message_id")})


def _image_type(data: bytes) -> str | None:
    if not is_image(data):
        return None
    for magic, mime in _IMAGE_TYPES.items():
        if data.startswith(magic):
            return mime
    return None
