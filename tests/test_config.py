from datetime import timedelta

import pytest

from bot.config import DEFAULT_DATABASE_URL, TELEGRAM_API_URL, ConfigError, load_settings

TOKEN = "123456:ABC-def_ghi"


def test_defaults() -> None:
    s = load_settings({"BOT_TOKEN": TOKEN})
    assert s.bot_api_url == TELEGRAM_API_URL
    assert s.database_url == DEFAULT_DATABASE_URL
    assert s.reminder_offsets == (timedelta(hours=24), timedelta(hours=1))
    assert s.broadcast_rate == 25.0
    assert not s.webhook_mode


def test_full() -> None:
    s = load_settings(
        {
            "BOT_TOKEN": TOKEN,
            "BOT_API_URL": "http://127.0.0.1:8081/",
            "ADMIN_IDS": "1, 2;3",
            "STAFF_CHAT_ID": "-100123",
            "DEFAULT_LOCALE": "KK",
            "REMINDER_OFFSETS": "1h,2d,30m,1h",
            "BROADCAST_RATE": "10.5",
        }
    )
    assert s.bot_api_url == "http://127.0.0.1:8081"
    assert s.admin_ids == frozenset({1, 2, 3})
    assert s.staff_chat_id == -100123
    assert s.default_locale == "kk"
    assert s.reminder_offsets == (timedelta(days=2), timedelta(hours=1), timedelta(minutes=30))
    assert s.broadcast_rate == 10.5


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "BOT_TOKEN"),
        ({"BOT_TOKEN": "nonsense"}, "BOT_TOKEN"),
        ({"BOT_TOKEN": TOKEN, "ADMIN_IDS": "12,abc"}, "ADMIN_IDS"),
        ({"BOT_TOKEN": TOKEN, "STAFF_CHAT_ID": "group"}, "STAFF_CHAT_ID"),
        ({"BOT_TOKEN": TOKEN, "DEFAULT_LOCALE": "de"}, "DEFAULT_LOCALE"),
        ({"BOT_TOKEN": TOKEN, "REMINDER_OFFSETS": "24 hours"}, "REMINDER_OFFSETS"),
        ({"BOT_TOKEN": TOKEN, "BROADCAST_RATE": "fast"}, "BROADCAST_RATE"),
        ({"BOT_TOKEN": TOKEN, "DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"BOT_TOKEN": TOKEN, "WEBHOOK_URL": "https://x.org"}, "WEBHOOK_SECRET"),
        ({"BOT_TOKEN": TOKEN, "BOT_API_URL": "ftp://x"}, "BOT_API_URL"),
        ({"BOT_TOKEN": TOKEN, "CATALOG_FILE": "/nonexistent.yaml"}, "CATALOG_FILE"),
        # Digits that str.isdigit() accepts but are not ASCII: one line, not a traceback.
        ({"BOT_TOKEN": TOKEN, "ADMIN_IDS": "12,3²"}, "ADMIN_IDS"),
        ({"BOT_TOKEN": TOKEN, "ADMIN_IDS": "١٢٣"}, "ADMIN_IDS"),
        ({"BOT_TOKEN": TOKEN, "STAFF_CHAT_ID": "-١٠٠"}, "STAFF_CHAT_ID"),
        # The token travels in the URL path: clear text only to this machine.
        ({"BOT_TOKEN": TOKEN, "BOT_API_URL": "http://api.example.org"}, "BOT_API_URL"),
        ({"BOT_TOKEN": TOKEN, "BOT_API_URL": "http://10.0.0.5:8081"}, "BOT_API_URL"),
        ({"BOT_TOKEN": TOKEN, "BOT_API_URL": "http://[::1"}, "BOT_API_URL"),
        ({"BOT_TOKEN": TOKEN, "FORM_STATE_TTL_DAYS": "0"}, "FORM_STATE_TTL_DAYS"),
        ({"BOT_TOKEN": TOKEN, "SIGNUP_DAILY_LIMIT": "many"}, "SIGNUP_DAILY_LIMIT"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env, require_token=True)
    message = str(info.value)
    assert variable in message
    assert "\n" not in message


def test_settings_are_frozen() -> None:
    s = load_settings({"BOT_TOKEN": TOKEN})
    with pytest.raises(AttributeError):
        s.bot_token = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "url", ["http://localhost:8081", "http://127.0.0.5:8081", "http://[::1]:8081", "https://x.org"]
)
def test_bot_api_url_in_clear_text_only_to_this_machine(url: str) -> None:
    assert load_settings({"BOT_TOKEN": TOKEN, "BOT_API_URL": url}).bot_api_url == url


def test_trust_defaults() -> None:
    s = load_settings({"BOT_TOKEN": TOKEN})
    assert s.form_state_ttl == timedelta(days=30)
    assert s.signup_daily_limit == 5
    s = load_settings({"BOT_TOKEN": TOKEN, "FORM_STATE_TTL_DAYS": "7", "SIGNUP_DAILY_LIMIT": "2"})
    assert (s.form_state_ttl, s.signup_daily_limit) == (timedelta(days=7), 2)
