"""The scale-out path for real: PostgreSQL for data, Redis for form state and isolation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.i18n import LANGUAGE_NAMES, pick_text
from sandbox.harness import BotHarness
from tests.conftest import REDIS_URL, service_missing
from tests.e2e import Chat
from tests.test_e2e_signup import agree_to_consent


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        service_missing("Redis at 127.0.0.1:6379", exc)
    try:
        yield REDIS_URL
    finally:
        await client.flushdb()
        await client.aclose()


async def test_signup_survives_restart_on_postgres_and_redis(
    tmp_path: Path, pg_migrated_url: str, redis_url: str
) -> None:
    env = {"REDIS_URL": redis_url}
    async with BotHarness(tmp_path, database_url=pg_migrated_url, env=env) as h:
        from aiogram.fsm.storage.redis import RedisStorage

        assert isinstance(h.app.storage, RedisStorage)
        user = h.user(8100 + uuid.uuid4().int % 1000, language_code="ru")
        chat = Chat(h, user, "ru")
        user.send_command("start")
        await chat.expect("Choose your language")
        await chat.press(f"✓ {LANGUAGE_NAMES['ru']}")
        await chat.expect_key("start-welcome")
        centre = (await h.repo.catalogue.centres())[0]
        course = (await h.repo.catalogue.courses(centre.id))[0]
        user.send_command("start", args=f"c_{course.code}")
        await chat.expect(pick_text(course.description, "ru")[:30])
        await chat.press_key("course-signup")
        await agree_to_consent(chat)
        await chat.expect(chat.text("signup-ask-phone")[:20])
        chat.say("+996 700 123 456")
        await chat.expect(chat.text("signup-ask-name")[:20])
        # The half-filled form (a phone already) expires in Redis by itself: 30 days.
        from redis.asyncio import Redis

        client = Redis.from_url(redis_url)
        try:
            keys = await client.keys("fsm:*")
            ttls = [await client.ttl(key) for key in keys]
        finally:
            await client.aclose()
        assert keys and all(29 * 86400 < ttl <= 30 * 86400 for ttl in ttls), ttls

        await h.restart()  # the form state lives in Redis, the rest in PostgreSQL

        chat.say("Асанов Бакыт")
        await chat.expect(chat.text("signup-ask-district", region="")[:15])
        districts = await h.repo.catalogue.districts(centre.region_id)
        await chat.press(pick_text(districts[0].name, "ru"))
        await chat.press_key("signup-any-group")
        await chat.expect(chat.label("signup-confirm"), button=True)
        await chat.press_key("signup-confirm")
        await chat.expect(chat.text("signup-done", id=1)[:15])
        await chat.expect_key("signup-next-steps")
        [app] = await h.repo.applications.for_user(user.id)
        assert (app.full_name, app.phone, app.status) == (
            "Асанов Бакыт",
            "+996700123456",
            "pending",
        )
