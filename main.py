"""Entry point.

python main.py                      run the bot (BOT_TOKEN from .env); without a token,
                                    start the sandbox: a local test server and a web chat
python main.py run                  run the bot; a missing BOT_TOKEN is an error
python main.py sandbox              start the sandbox explicitly (a token is not used)
python main.py import-catalog FILE  load or update the catalogue from a YAML file
python main.py backup [FILE]        a consistent copy of the database, also while the bot
                                    runs (default: BACKUP_DIR/bot-<time>.sqlite3)
python main.py restore FILE         put a backup back (SQLite; refused while the bot runs)
python main.py recent-users         who started the bot lately, with Telegram ids (for
                                    ADMIN_IDS: no third-party bot needed)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description="IT courses Telegram bot")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot; fails without BOT_TOKEN")
    sub.add_parser(
        "sandbox",
        help="the real bot against a local test server, with a web chat "
        "(http://127.0.0.1:8080; SANDBOX_HOST/SANDBOX_PORT)",
    )
    imp = sub.add_parser("import-catalog", help="load or update the catalogue from a file")
    imp.add_argument("file", type=Path)
    backup = sub.add_parser("backup", help="copy the database (safe while the bot runs)")
    backup.add_argument("file", type=Path, nargs="?")
    restore = sub.add_parser("restore", help="put a backup back (the bot must be stopped)")
    restore.add_argument("file", type=Path)
    recent = sub.add_parser("recent-users", help="the last people who started the bot, with ids")
    recent.add_argument("--limit", type=int, default=15)
    return parser


async def _recent_users(settings: Settings, limit: int) -> int:
    """Print the people who started the bot most recently: the coordinator finds their
    own Telegram id here for ADMIN_IDS (printed on the server's console only)."""
    from sqlalchemy import select

    from db.database import open_database
    from db.models import User

    db = await open_database(settings.database_url)
    try:
        async with db.read() as s:
            rows = (
                await s.execute(
                    select(User.id, User.first_name, User.username, User.created_at)
                    .order_by(User.created_at.desc())
                    .limit(max(1, limit))
                )
            ).all()
    finally:
        await db.dispose()
    if not rows:
        print("Nobody has started the bot yet: send /start to it in Telegram first.")
        return 0
    print("Telegram id   first seen (UTC)   name")
    for user_id, first_name, username, created in rows:
        name = " ".join(p for p in (first_name or "", f"@{username}" if username else "") if p)
        print(f"{user_id:<13} {created:%Y-%m-%d %H:%M}   {name}")
    return 0


def _backup(settings: Settings, file: Path | None) -> int:
    from bot.services.backup import BackupError, backup, default_backup_file, target_of

    try:
        target = target_of(settings.database_url)
        dest = backup(
            settings.database_url, file or default_backup_file(settings.backup_dir, target)
        )
    except BackupError as exc:
        print(f"Backup: {exc}", file=sys.stderr)
        return 1
    print(f"Backup written to {dest}")
    return 0


def _restore(settings: Settings, file: Path) -> int:
    from bot.services.backup import BackupError, restore

    try:
        kept = restore(settings.database_url, file)
    except BackupError as exc:
        print(f"Restore: {exc}", file=sys.stderr)
        return 1
    print(f"Restored {file}" + (f"; the database it replaced is kept as {kept}" if kept else ""))
    return 0


async def _import_catalog(path: Path) -> int:
    from bot.config import load_settings
    from bot.i18n import Translator
    from bot.services.catalog import CatalogError, import_catalog, render_cli
    from db.database import open_database

    # The command line speaks English: its output goes to logs and to whoever runs it.
    english = Translator(locales=("en",), default_locale="en").bind("en").plain
    settings = load_settings()
    db = await open_database(settings.database_url)
    try:
        report = await import_catalog(db, path)
    except CatalogError as exc:
        for problem in exc.problems:
            print(render_cli(problem, english, exc.filename), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{path}: {exc.strerror}", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    for problem in report.warnings:
        print(f"warning: {render_cli(problem, english, path.name)}", file=sys.stderr)
    print(report.summary())
    return 0


def _env_set(name: str) -> bool:
    return bool(os.environ.get(name, "").strip())


def _sandbox(settings: Settings, *, explicit: bool) -> int:
    from sandbox.web import SandboxError, SandboxHostError, run_sandbox

    try:
        asyncio.run(
            run_sandbox(settings, explicit=explicit, explicit_host=_env_set("SANDBOX_HOST"))
        )
    except SandboxHostError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    except SandboxError as exc:
        print(f"Sandbox: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the port is taken, or the address is not this machine's
        print(
            f"Sandbox: cannot listen on {settings.sandbox_host}:{settings.sandbox_port} "
            f"({exc.strerror or exc}); set SANDBOX_PORT to another port",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from bot.config import ConfigError, load_settings

    try:
        settings = load_settings(require_token=args.command == "run")
    except ConfigError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    sandbox = args.command == "sandbox" or (args.command is None and settings.bot_token is None)
    # The sandbox prints one line of its own; logs stay quiet unless LOG_LEVEL asks.
    level = "WARNING" if sandbox and not _env_set("LOG_LEVEL") else settings.log_level
    from bot.logs import setup_logging

    setup_logging(level, settings.log_format)
    if args.command == "backup":
        return _backup(settings, args.file)
    if args.command == "restore":
        return _restore(settings, args.file)
    if args.command == "recent-users":
        return asyncio.run(_recent_users(settings, args.limit))
    if args.command == "import-catalog":
        return asyncio.run(_import_catalog(args.file))
    if sandbox:
        return _sandbox(settings, explicit=args.command == "sandbox")
    from bot.runner import run_bot

    asyncio.run(run_bot(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
