"""``FakeBotAPI``: an aiohttp server that speaks the Telegram Bot API to a real bot."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

from aiohttp import BodyPartReader, hdrs, web

from .actors import FakeGroupChat, FakeUser
from .errors import ApiError
from .methods import BotApiMethods, coerce_param
from .models import CallbackAnswer, ChatMessage, RecordedRequest, StoredFile, UploadedFile
from .ratelimit import RateLimits
from .simulator import EventCallback, TelegramSimulator

__all__ = ["FakeBotAPI"]

logger = logging.getLogger(__name__)

RequestPredicate = Callable[[RecordedRequest], bool]

_DEFAULT_DESCRIPTIONS: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_CLIENT_CLOSED: Final = 499
_MAX_BODY: Final = 60 * 1024 * 1024


@dataclass(slots=True)
class _Injection:
    method: str | None  # lower-cased method name, None for any
    chat_id: int | str | None
    status: int | None  # None: answer normally (after the delay)
    description: str | None
    retry_after: int | None
    remaining: int
    delay: float | None

    def matches(self, method: str, params: Mapping[str, Any]) -> bool:
        if self.method is not None and self.method != method.lower():
            return False
        return self.chat_id is None or str(params.get("chat_id")) == str(self.chat_id)

    def error(self) -> ApiError:
        status = self.status if self.status is not None else 500
        if status == 429:
            retry_after = self.retry_after if self.retry_after is not None else 1
            description = self.description or f"Too Many Requests: retry after {retry_after}"
            return ApiError(429, description, retry_after=retry_after)
        description = self.description or _DEFAULT_DESCRIPTIONS.get(status, f"Error {status}")
        return ApiError(status, description, retry_after=self.retry_after)


class FakeBotAPI:
    """A fake Telegram Bot API server for end-to-end tests, benchmarks and sandboxes.

    Point a real aiogram bot at it with
    ``AiohttpSession(api=TelegramAPIServer.from_base(server.api_base))``. Simulated users
    (``add_user``) push updates the bot receives through ``getUpdates``; everything the bot
    sends is validated as Telegram would and stored per chat.

    :param token: accept only this bot token (others get 401); None accepts any token.
    :param bot_id: the bot's user id; defaults to the numeric prefix of ``token`` (or of
        the first token seen).
    :param latency: seconds added to every answer, like a network round trip.
    :param rate_limits: flood limits for sending methods (429 with retry_after); off if None.
    :param strict_html: reject a bare ``&`` in HTML (TDLib tolerates it, the docs forbid it).
    :param privacy_mode: in groups where the bot is a plain member it only sees commands
        and replies to itself, like Telegram's default privacy mode.
    :param max_recorded_requests: keep only this many recorded requests (None: all).
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        bot_id: int | None = None,
        bot_username: str = "fake_test_bot",
        bot_first_name: str = "Test Bot",
        latency: float = 0.0,
        rate_limits: RateLimits | None = None,
        strict_html: bool = True,
        privacy_mode: bool = True,
        max_recorded_requests: int | None = None,
    ) -> None:
        if bot_id is None and token is not None:
            prefix = token.split(":", 1)[0]
            bot_id = int(prefix) if prefix.isdigit() else None
        self.token = token
        self.latency = latency
        self.sim = TelegramSimulator(
            bot_id=bot_id,
            bot_username=bot_username,
            bot_first_name=bot_first_name,
            strict_html=strict_html,
            rate_limits=rate_limits,
            privacy_mode=privacy_mode,
        )
        self.methods = BotApiMethods(self.sim)
        self._requests: deque[RecordedRequest] = deque(maxlen=max_recorded_requests)
        self._request_waiters: list[tuple[RequestPredicate, asyncio.Future[RecordedRequest]]] = []
        self._injections: list[_Injection] = []
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._stopping: asyncio.Event | None = None

    # ------------------------------------------------------------------ lifecycle

    def build_app(self) -> web.Application:
        """The aiohttp application (to run it yourself or mount it as a sub-application)."""
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (port 0 picks a free port; see ``url``)."""
        if self._runner is not None:
            msg = "FakeBotAPI is already running"
            raise RuntimeError(msg)
        self.sim.reopen()
        self._stopping = asyncio.Event()
        runner = web.AppRunner(
            self.build_app(),
            access_log=None,
            handle_signals=False,
            handler_cancellation=True,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server  # the only way to learn the bound port
        sockets = getattr(server, "sockets", None) or []
        bound_port = sockets[0].getsockname()[1] if sockets else port
        self._url = f"http://{host}:{bound_port}"

    async def stop(self) -> None:
        """Stop listening; pending long polls and injected delays are released first."""
        self.sim.close()
        if self._stopping is not None:
            self._stopping.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._url = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` while running."""
        if self._url is None:
            msg = "FakeBotAPI is not running; call start() first"
            raise RuntimeError(msg)
        return self._url

    @property
    def api_base(self) -> str:
        """What to pass to ``TelegramAPIServer.from_base``."""
        return self.url

    # ------------------------------------------------------------------ HTTP

    async def _handle_method(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        name = self.methods.canonical_name(method) or method
        params: dict[str, Any] = {}
        files: dict[str, UploadedFile] = {}
        status = 200
        body: dict[str, Any]
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if self.token is not None and token != self.token:
                raise ApiError(401, "Unauthorized")
            self.sim.adopt_token(token)
            await self._read_params(request, params, files)
            injection = self._take_injection(name, params)
            if injection is not None:
                if injection.delay:
                    await self._sleep(injection.delay)
                if injection.status is not None:
                    raise injection.error()
            result = await self.methods.call(method, params, files)
            body = {"ok": True, "result": result}
        except ApiError as exc:
            status, body = exc.status, exc.body()
        except asyncio.CancelledError:
            self._record(
                name, params, files, _CLIENT_CLOSED, {"ok": False, "description": "cancelled"}
            )
            raise
        except Exception:
            logger.exception("fake Bot API failed on %s", name)
            status = 500
            body = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
        self._record(name, params, files, status, body)
        return web.Response(text=json.dumps(body), status=status, content_type="application/json")

    async def _read_params(
        self, request: web.Request, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> None:
        for key, value in request.query.items():
            params[key] = coerce_param(key, value)
        if not request.body_exists:
            return
        content_type = request.content_type
        if content_type == "application/json":
            try:
                payload = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON encoded request") from None
            if not isinstance(payload, dict):
                raise ApiError(400, "Bad Request: JSON object expected")
            for key, value in payload.items():
                params[key] = coerce_param(key, value) if isinstance(value, str) else value
        elif content_type == "multipart/form-data":
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader) or not part.name:
                    continue
                data = await part.read()
                if part.filename is not None:
                    files[part.name] = UploadedFile(
                        part.filename, part.headers.get(hdrs.CONTENT_TYPE), bytes(data)
                    )
                else:
                    text = bytes(data).decode(part.get_charset("utf-8"), errors="replace")
                    params[part.name] = coerce_param(part.name, text)
        elif content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            for key, field in form.items():
                if isinstance(field, str):
                    params[key] = coerce_param(key, field)

    async def _handle_file(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if self.token is not None and token != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        stored = self.sim.files_by_path.get(request.match_info["path"])
        if stored is None:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    async def _sleep(self, delay: float) -> None:
        if self._stopping is None:
            await asyncio.sleep(delay)
            return
        try:
            await asyncio.wait_for(self._stopping.wait(), delay)
        except TimeoutError:
            return

    # ------------------------------------------------------------------ recording

    def _record(
        self,
        method: str,
        params: dict[str, Any],
        files: dict[str, UploadedFile],
        status: int,
        body: dict[str, Any],
    ) -> None:
        request = RecordedRequest(method, params, files, status, body, time.monotonic())
        self._requests.append(request)
        if not self._request_waiters:
            return
        for predicate, future in self._request_waiters:
            if future.done():
                continue
            try:
                matched = predicate(request)
            except Exception as exc:  # handed to the waiting caller
                future.set_exception(exc)
                continue
            if matched:
                future.set_result(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every recorded request, oldest first (a copy)."""
        return list(self._requests)

    def requests_for(self, method: str, chat_id: int | str | None = None) -> list[RecordedRequest]:
        """Recorded calls of ``method`` (case-insensitive), optionally to one chat."""
        wanted = method.lower()
        return [
            request
            for request in self._requests
            if request.method.lower() == wanted
            and (chat_id is None or str(request.params.get("chat_id")) == str(chat_id))
        ]

    def clear_requests(self) -> None:
        self._requests.clear()

    async def wait_for(
        self,
        predicate: RequestPredicate,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
    ) -> RecordedRequest:
        """The first recorded request, past or future, satisfying ``predicate``."""
        for request in self._requests:
            if predicate(request):
                return request
        future: asyncio.Future[RecordedRequest] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._request_waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            recent = ", ".join(f"{r.method}:{r.response_status}" for r in list(self._requests)[-8:])
            msg = f"no matching request within {timeout} s (recent: {recent or 'none'})"
            raise TimeoutError(msg) from None
        finally:
            self._request_waiters.remove(waiter)

    # ------------------------------------------------------------------ fault injection

    def inject(
        self,
        method: str | None = None,
        *,
        chat_id: int | None = None,
        status: int | None = 500,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        delay: float | None = None,
    ) -> None:
        """Make the next ``times`` matching requests fail with ``status``.

        ``method`` None matches every method; ``chat_id`` limits it to one chat. 429 gets
        ``retry_after`` (default 1). ``delay`` makes the server hang that long first (to
        provoke client timeouts); with ``status=None`` the request is then served normally.
        """
        if times < 1:
            msg = "times must be at least 1"
            raise ValueError(msg)
        self._injections.append(
            _Injection(
                method=method.lower() if method is not None else None,
                chat_id=chat_id,
                status=status,
                description=description,
                retry_after=retry_after,
                remaining=times,
                delay=delay,
            )
        )

    def clear_injections(self) -> None:
        self._injections.clear()

    def _take_injection(self, method: str, params: Mapping[str, Any]) -> _Injection | None:
        if not self._injections:
            return None
        for injection in self._injections:
            if injection.matches(method, params):
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
                return injection
        return None

    # ------------------------------------------------------------------ the simulated world

    @property
    def bot_user(self) -> dict[str, Any]:
        """The bot's ``User`` object, as getMe returns it."""
        return self.sim.bot_user

    def add_user(
        self,
        user_id: int,
        first_name: str = "Aida",
        language_code: str | None = "kk",
        username: str | None = None,
        last_name: str | None = None,
        *,
        started: bool = True,
        is_premium: bool = False,
    ) -> FakeUser:
        """Create a simulated user.

        ``started=False`` means the user never opened the bot: sends to them fail with
        403 "bot can't initiate conversation with a user" until they write first.
        """
        return self.sim.add_user(
            user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_premium=is_premium,
            started=started,
        )

    def user(self, user_id: int) -> FakeUser:
        return self.sim.users[user_id]

    @property
    def users(self) -> list[FakeUser]:
        return list(self.sim.users.values())

    def add_group_chat(
        self,
        chat_id: int,
        title: str,
        *,
        members: Iterable[FakeUser] = (),
        username: str | None = None,
        supergroup: bool | None = None,
        bot_status: str = "administrator",
    ) -> FakeGroupChat:
        """Create a group with the bot in it (an administrator by default)."""
        group = self.sim.add_group_chat(
            chat_id, title, username=username, supergroup=supergroup, bot_status=bot_status
        )
        for member in members:
            group.add_member(member)
        return group

    def group(self, chat_id: int) -> FakeGroupChat:
        chat = self.sim.chat(chat_id)
        if chat.is_private:
            msg = f"chat {chat_id} is a private chat"
            raise KeyError(msg)
        return FakeGroupChat(self.sim, chat_id)

    def block(self, user_id: int) -> None:
        """The user blocks the bot: sends get 403, a my_chat_member update is pushed."""
        self.sim.set_blocked(user_id, True)

    def unblock(self, user_id: int) -> None:
        self.sim.set_blocked(user_id, False)

    def chat_messages(self, chat_id: int, *, include_deleted: bool = False) -> list[ChatMessage]:
        """All messages of a chat (both sides), oldest first."""
        chat = self.sim.chat(chat_id)
        return [m.snapshot() for m in chat.messages.values() if include_deleted or not m.deleted]

    def push_update(self, kind: str, payload: dict[str, Any]) -> int | None:
        """Queue a raw update of any type; returns its update_id (None if filtered)."""
        return self.sim.push_update(kind, payload)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return self.sim.pending_updates

    async def wait_until_polling(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
    ) -> None:
        """Wait until the bot has a getUpdates long poll waiting (i.e. it is idle and up)."""
        await self.sim.wait_until_polling(timeout)

    def callback_answer(self, query_id: str) -> CallbackAnswer | None:
        return self.sim.answer_for(query_id)

    def file(self, file_id: str) -> StoredFile | None:
        return self.sim.files.get(file_id)

    def commands(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """Commands set with setMyCommands for exactly this scope and language."""
        params: dict[str, Any] = {"language_code": language_code}
        if scope is not None:
            params["scope"] = dict(scope)
        return self.methods.get_my_commands(params, {})

    def effective_commands(
        self, chat_id: int, language_code: str = "", *, user_id: int | None = None
    ) -> list[dict[str, str]]:
        """The command menu a user sees in a chat, resolved through scopes as Telegram does.

        For groups pass ``user_id`` to honour chat_member/administrator scopes.
        """
        chat = self.sim.chat(chat_id)
        commands = self.sim.commands
        if chat.is_private:
            scopes: list[tuple[str, int | None, int | None]] = [
                ("chat", chat.id, None),
                ("all_private_chats", None, None),
                ("default", None, None),
            ]
        else:
            is_admin = user_id is not None and chat.members.get(user_id) in {
                "creator",
                "administrator",
            }
            scopes = [("chat_member", chat.id, user_id)] if user_id is not None else []
            if is_admin:
                scopes.append(("chat_administrators", chat.id, None))
            scopes.append(("chat", chat.id, None))
            if is_admin:
                scopes.append(("all_chat_administrators", None, None))
            scopes += [("all_group_chats", None, None), ("default", None, None)]
        for scope in scopes:
            for language in ([language_code] if language_code else []) + [""]:
                found = commands.get((scope, language))
                if found:
                    return list(found)
        return []

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` (sync or async) on every change; returns an unsubscriber."""
        return self.sim.subscribe(callback)
