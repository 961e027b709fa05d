"""Typed, frozen configuration read once at start-up from the environment (and .env)."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

LOCALES: tuple[str, ...] = ("kk", "ky", "ru", "en")
TELEGRAM_API_URL = "https://api.telegram.org"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'data' / 'bot.sqlite3'}"
DEFAULT_CATALOG_FILE = PROJECT_ROOT / "catalog" / "demo.yaml"

_TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,100}$")
_OFFSET_RE = re.compile(r"^([0-9]{1,5})([mhd])$")
_ASCII_ID_RE = re.compile(r"[0-9]{1,20}")


class ConfigError(ValueError):
    """A missing or malformed setting; its message is one line that names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    bot_token: str | None
    bot_api_url: str = TELEGRAM_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    admin_ids: frozenset[int] = frozenset()
    staff_chat_id: int | None = None
    default_locale: str = "ru"
    broadcast_rate: float = 25.0
    reminder_offsets: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=1))
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8443
    catalog_file: Path | None = None
    scheduler_enabled: bool = True
    sandbox_port: int = 8080
    sandbox_host: str = "127.0.0.1"
    log_level: str = "INFO"
    throttle_rate: float = 3.0
    # A half-filled form (its name, phone...) is deleted after this long untouched.
    form_state_ttl: timedelta = timedelta(days=30)
    # Sign-up submissions one person may make in 24 hours.
    signup_daily_limit: int = 5
    # Messages a citizen may send to a centre's staff per hour, per conversation.
    support_messages_per_hour: int = 10
    # Closed conversations with staff are deleted after this long.
    support_keep: timedelta = timedelta(days=365)
    # Months after completion when graduates are asked what they do now.
    follow_up_months: tuple[int, ...] = (1, 3, 6)
    # Absences in a row that flag a trainee to staff.
    absence_streak: int = 2
    # Logs as JSON lines (LOG_FORMAT=json) or plain text.
    log_format: str = "text"
    # /healthz, /readyz and /metrics on this port in polling mode (None: none); in
    # webhook mode they are served by the webhook server too.
    health_port: int | None = None
    health_host: str = "127.0.0.1"
    # Nightly backups (SQLite; pg_dump for PostgreSQL): BACKUP_KEEP copies kept in
    # BACKUP_DIR, made at BACKUP_TIME (UTC, HH:MM) by the process running the scheduler.
    backup_dir: Path = PROJECT_ROOT / "data" / "backups"
    backup_keep: int = 7
    backup_time: tuple[int, int] = (2, 30)
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def webhook_mode(self) -> bool:
        return self.webhook_url is not None


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _int(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = _get(env, name)
    if raw is None:
        return default
    # ASCII digits only: int() also takes '١٢' or '1_000', and str.isdigit() lets '²' in.
    if not re.fullmatch(r"-?[0-9]{1,20}", raw):
        raise ConfigError(f"{name} must be a whole number, got {raw!r}")
    return int(raw)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _api_url(raw: str) -> str:
    """BOT_API_URL: https, or http only to this machine (a local Bot API server): the
    token is part of every request's path."""
    if not re.match(r"^https?://[^\s/]+", raw):
        raise ConfigError(f"BOT_API_URL must be an http(s) URL, got {raw!r}")
    try:
        parts = urlsplit(raw)
        host = parts.hostname or ""
    except ValueError:
        raise ConfigError(f"BOT_API_URL must be an http(s) URL, got {raw!r}") from None
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigError(
            f"BOT_API_URL must use https:// for {host} (http:// would send the bot token "
            "in clear text; it is allowed only for localhost)"
        )
    return raw


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _get(env, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def parse_offsets(raw: str, name: str = "REMINDER_OFFSETS") -> tuple[timedelta, ...]:
    """Parse '24h,1h,30m' into timedeltas, largest first, without duplicates."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    offsets: set[timedelta] = set()
    for part in raw.split(","):
        match = _OFFSET_RE.match(part.strip())
        if not match:
            raise ConfigError(f"{name} must look like '24h,1h' (units m, h, d), got {raw!r}")
        amount = int(match.group(1))
        if amount == 0:
            raise ConfigError(f"{name} offsets must be greater than zero, got {raw!r}")
        offsets.add(timedelta(**{units[match.group(2)]: amount}))
    return tuple(sorted(offsets, reverse=True))


def load_settings(env: Mapping[str, str] | None = None, *, require_token: bool = False) -> Settings:
    """Build Settings from a mapping (default: os.environ after loading .env)."""
    if env is None:
        from dotenv import load_dotenv

        load_dotenv(PROJECT_ROOT / ".env", override=False)
        env = os.environ

    token = _get(env, "BOT_TOKEN")
    if token is None and require_token:
        raise ConfigError(
            "BOT_TOKEN is not set: copy .env.example to .env and put the token from "
            "@BotFather there (or run 'bash scripts/run.sh sandbox' to try the bot without one)"
        )
    if token is not None and not _TOKEN_RE.match(token):
        raise ConfigError("BOT_TOKEN is malformed: expected '123456:ABC...' from @BotFather")

    api_url = _api_url(_get(env, "BOT_API_URL") or TELEGRAM_API_URL)

    database_url = _get(env, "DATABASE_URL") or DEFAULT_DATABASE_URL
    if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
        )

    redis_url = _get(env, "REDIS_URL")
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"REDIS_URL must start with redis://, got {redis_url!r}")

    admin_ids: set[int] = set()
    raw_admins = _get(env, "ADMIN_IDS")
    if raw_admins:
        for raw_part in raw_admins.replace(";", ",").split(","):
            part = raw_part.strip()
            if not part:
                continue
            if not _ASCII_ID_RE.fullmatch(part):
                raise ConfigError(
                    f"ADMIN_IDS must be comma-separated Telegram user ids, got {part!r}"
                )
            admin_ids.add(int(part))

    default_locale = (_get(env, "DEFAULT_LOCALE") or "ru").lower()
    if default_locale not in LOCALES:
        raise ConfigError(f"DEFAULT_LOCALE must be one of {', '.join(LOCALES)}")

    raw_rate = _get(env, "BROADCAST_RATE")
    try:
        broadcast_rate = float(raw_rate) if raw_rate else 25.0
    except ValueError:
        raise ConfigError(f"BROADCAST_RATE must be a number, got {raw_rate!r}") from None
    if not 0 < broadcast_rate <= 1000:
        raise ConfigError("BROADCAST_RATE must be between 0 and 1000 messages per second")

    raw_offsets = _get(env, "REMINDER_OFFSETS")
    offsets = (
        parse_offsets(raw_offsets) if raw_offsets else (timedelta(hours=24), timedelta(hours=1))
    )

    webhook_url = _get(env, "WEBHOOK_URL")
    webhook_secret = _get(env, "WEBHOOK_SECRET")
    if webhook_url is not None:
        if not webhook_url.startswith("https://"):
            raise ConfigError("WEBHOOK_URL must be an https:// URL")
        if webhook_secret is None or not re.match(r"^[A-Za-z0-9_-]{16,256}$", webhook_secret):
            raise ConfigError(
                "WEBHOOK_SECRET must be set with WEBHOOK_URL: 16-256 characters A-Z a-z 0-9 _ -"
            )

    catalog = _get(env, "CATALOG_FILE")
    catalog_file = Path(catalog) if catalog else None
    if catalog_file is not None and not catalog_file.is_file():
        raise ConfigError(f"CATALOG_FILE points to a missing file: {catalog}")

    log_level = (_get(env, "LOG_LEVEL") or "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError("LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")

    raw_throttle = _get(env, "THROTTLE_RATE")
    try:
        throttle_rate = float(raw_throttle) if raw_throttle else 3.0
    except ValueError:
        raise ConfigError(f"THROTTLE_RATE must be a number, got {raw_throttle!r}") from None
    if throttle_rate < 0:
        raise ConfigError("THROTTLE_RATE must be 0 (off) or a positive number")

    ttl_days = _int(env, "FORM_STATE_TTL_DAYS", 30)
    if ttl_days is None or not 1 <= ttl_days <= 365:
        raise ConfigError("FORM_STATE_TTL_DAYS must be a number of days from 1 to 365")
    daily_limit = _int(env, "SIGNUP_DAILY_LIMIT", 5)
    if daily_limit is None or not 1 <= daily_limit <= 100:
        raise ConfigError("SIGNUP_DAILY_LIMIT must be a number from 1 to 100")
    support_per_hour = _int(env, "SUPPORT_MESSAGES_PER_HOUR", 10)
    if support_per_hour is None or support_per_hour < 1:
        raise ConfigError("SUPPORT_MESSAGES_PER_HOUR must be a whole number of at least 1")
    keep_days = _int(env, "SUPPORT_KEEP_DAYS", 365)
    if keep_days is None or not 1 <= keep_days <= 3650:
        raise ConfigError("SUPPORT_KEEP_DAYS must be a number of days from 1 to 3650")
    follow_up_months = _follow_up_months(_get(env, "FOLLOW_UP_MONTHS"))
    absence_streak = _int(env, "ABSENCE_STREAK", 2)
    if absence_streak is None or not 1 <= absence_streak <= 20:
        raise ConfigError("ABSENCE_STREAK must be a whole number from 1 to 20")
    log_format = (_get(env, "LOG_FORMAT") or "text").lower()
    if log_format not in {"text", "json"}:
        raise ConfigError("LOG_FORMAT must be text or json")

    health_port = _int(env, "HEALTH_PORT", None)
    if health_port is not None and not 0 <= health_port <= 65535:
        raise ConfigError("HEALTH_PORT must be a port number (0-65535)")

    backup_keep = _int(env, "BACKUP_KEEP", 7)
    if backup_keep is None or backup_keep < 0:
        raise ConfigError("BACKUP_KEEP must be 0 (no nightly backup) or a number of copies")
    raw_backup_time = _get(env, "BACKUP_TIME") or "02:30"
    backup_match = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", raw_backup_time)
    if not backup_match or int(backup_match.group(1)) > 23 or int(backup_match.group(2)) > 59:
        raise ConfigError(f"BACKUP_TIME must be HH:MM (UTC), got {raw_backup_time!r}")
    backup_dir = Path(_get(env, "BACKUP_DIR") or PROJECT_ROOT / "data" / "backups")

    return Settings(
        bot_token=token,
        bot_api_url=api_url.rstrip("/"),
        database_url=database_url,
        redis_url=redis_url,
        admin_ids=frozenset(admin_ids),
        staff_chat_id=_int(env, "STAFF_CHAT_ID", None),
        default_locale=default_locale,
        broadcast_rate=broadcast_rate,
        reminder_offsets=offsets,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        webhook_host=_get(env, "WEBHOOK_HOST") or "127.0.0.1",
        webhook_port=_int(env, "WEBHOOK_PORT", 8443) or 8443,
        catalog_file=catalog_file,
        scheduler_enabled=_bool(env, "SCHEDULER_ENABLED", True),
        sandbox_port=_int(env, "SANDBOX_PORT", 8080) or 8080,
        sandbox_host=_get(env, "SANDBOX_HOST") or "127.0.0.1",
        log_level=log_level,
        throttle_rate=throttle_rate,
        form_state_ttl=timedelta(days=ttl_days),
        signup_daily_limit=daily_limit,
        support_messages_per_hour=support_per_hour,
        support_keep=timedelta(days=keep_days),
        follow_up_months=follow_up_months,
        absence_streak=absence_streak,
        log_format=log_format,
        health_port=health_port,
        health_host=_get(env, "HEALTH_HOST") or "127.0.0.1",
        backup_dir=backup_dir,
        backup_keep=backup_keep,
        backup_time=(int(backup_match.group(1)), int(backup_match.group(2))),
    )


def _follow_up_months(raw: str | None) -> tuple[int, ...]:
    """``1,3,6``: months after completion, each 1-24, no repeats (empty: the default)."""
    if raw is None:
        return (1, 3, 6)
    parts = [p.strip() for p in raw.split(",")]
    if not all(re.fullmatch(r"[0-9]{1,2}", p) for p in parts):
        raise ConfigError(f"FOLLOW_UP_MONTHS must be months like 1,3,6, got {raw!r}")
    months = [int(p) for p in parts]
    if any(not 1 <= m <= 24 for m in months) or len(set(months)) != len(months):
        raise ConfigError("FOLLOW_UP_MONTHS: each month 1-24, each once, e.g. 1,3,6")
    return tuple(sorted(months))
