"""The sandbox: the real bot against a local fake Bot API server, driven from a web chat.

``python main.py`` without BOT_TOKEN (or ``python main.py sandbox``) runs
:func:`run_sandbox`: the same code and handlers as production, the demo catalogue, a
SQLite file under ``data/sandbox/``, personas to chat as, and a clock to move forward.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bot.config import Settings
from sandbox.web.core import DEFAULT_DATA_DIR, Sandbox, SandboxError, sandbox_settings
from sandbox.web.personas import CHATS, PERSONAS, STAFF_CHAT_ID, ChatView, Persona
from sandbox.web.server import SandboxHostError, SandboxServer, check_bind_host, is_loopback

__all__ = [
    "CHATS",
    "DEFAULT_DATA_DIR",
    "PERSONAS",
    "STAFF_CHAT_ID",
    "ChatView",
    "Persona",
    "Sandbox",
    "SandboxError",
    "SandboxHostError",
    "SandboxServer",
    "check_bind_host",
    "is_loopback",
    "run_sandbox",
    "sandbox_settings",
]


def announcement(url: str, *, explicit: bool, catalogue: Path | None, data_dir: Path) -> str:
    """The one line the sandbox prints when it is ready."""
    where = data_dir
    with contextlib.suppress(ValueError):
        where = data_dir.resolve().relative_to(Path.cwd())
    what = (
        f"the real bot (same code and handlers, {catalogue.name if catalogue else 'demo'} "
        f"catalogue, SQLite in {where}/) runs against a local test Bot API server — "
        f"web chat at {url} (Ctrl+C stops it)"
    )
    if explicit:
        return f"Sandbox (started with 'python main.py sandbox'): {what}"
    return f"Sandbox: no BOT_TOKEN set, so {what}"


async def run_sandbox(
    settings: Settings,
    *,
    explicit: bool = False,
    explicit_host: bool = False,
    data_dir: Path | None = None,
    out: TextIO | None = None,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[SandboxServer], object] | None = None,
) -> None:
    """Run the sandbox until Ctrl+C / SIGTERM (or ``stop`` is set).

    ``explicit``: started with ``python main.py sandbox`` (said so in the line printed).
    ``explicit_host``: SANDBOX_HOST was set, so a non-loopback address is allowed.
    """
    out = out or sys.stdout
    check_bind_host(settings.sandbox_host, explicit=explicit_host)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            continue
        handled.append(sig)
    try:
        async with Sandbox(settings, data_dir=data_dir) as sandbox:
            server = SandboxServer(
                sandbox,
                host=settings.sandbox_host,
                port=settings.sandbox_port,
                explicit_host=explicit_host,
            )
            await server.start()
            try:
                line = announcement(
                    server.url,
                    explicit=explicit,
                    catalogue=settings.catalog_file,
                    data_dir=sandbox.data_dir,
                )
                print(line, file=out, flush=True)
                if not is_loopback(settings.sandbox_host):
                    print(
                        f"Sandbox: listening on {settings.sandbox_host} (SANDBOX_HOST): "
                        "anyone who can reach this machine can use it",
                        file=out,
                        flush=True,
                    )
                if on_ready is not None:
                    on_ready(server)
                await stop.wait()
            finally:
                await server.stop()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
