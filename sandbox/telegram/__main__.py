"""Run the fake Bot API standalone: ``python -m sandbox.telegram --port 8081``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import Sequence

from .ratelimit import RateLimits
from .server import FakeBotAPI


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.telegram", description="Fake Telegram Bot API server"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", default=None, help="accept only this bot token")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument(
        "--rate-limits", action="store_true", help="enable Telegram-like flood limits (429)"
    )
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="ID:NAME[:LANG]",
        help="pre-create a simulated user (repeatable)",
    )
    parser.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="ID:TITLE",
        help="pre-create a group chat with the bot as administrator (repeatable)",
    )
    parser.add_argument("--verbose", action="store_true", help="log at DEBUG level")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    server = FakeBotAPI(
        token=args.token,
        latency=args.latency,
        rate_limits=RateLimits() if args.rate_limits else None,
    )
    for spec in args.user:
        user_id, _, rest = spec.partition(":")
        name, _, language = rest.partition(":")
        server.add_user(int(user_id), name or f"User {user_id}", language or None)
    for spec in args.group:
        chat_id, _, title = spec.partition(":")
        server.add_group_chat(int(chat_id), title or f"Group {chat_id}")
    await server.start(args.host, args.port)
    print(f"Fake Telegram Bot API listening on {server.url}", flush=True)
    print(f"Use TelegramAPIServer.from_base({server.api_base!r})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
