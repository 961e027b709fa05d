"""/healthz, /readyz and /metrics of a running bot (the side port in polling mode), and
JSON log lines."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from aiohttp import ClientSession

from bot.logs import JsonFormatter
from sandbox.harness import BotHarness
from tests.e2e import Chat


async def test_health_ready_and_metrics(tmp_path: Path, template_db: Path) -> None:
    async with BotHarness(tmp_path, template=template_db, env={"HEALTH_PORT": "0"}) as h:
        process = h.process
        assert process is not None and process._side_server is not None
        host, port = process._side_server.addresses[0][:2]
        base = f"http://{host}:{port}"
        user = h.user(7001, language_code="ru")
        chat = Chat(h, user, "ru")
        user.send_command("start")
        await chat.expect("Choose your language")
        async with ClientSession() as http:
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200
            async with http.get(f"{base}/readyz") as r:
                body = await r.json()
                assert r.status == 200, body
                assert body["checks"] == {"database": "ok", "bot_api": "ok", "outbox": "ok"}
            async with http.get(f"{base}/metrics") as r:
                text = await r.text()
            assert 'bot_updates_total{type="message"} 1.0' in text
            assert 'bot_handler_seconds_count{type="message"} 1.0' in text
            for name in (
                "bot_outbox_queue_depth 0.0",
                "bot_outbox_sent_total",
                "bot_outbox_rate_limited_total",
                "bot_outbox_blocked_total",
                "bot_reminder_lag_seconds 0.0",
                "bot_scheduler_jobs",
                "bot_scheduler_leader 1.0",
            ):
                assert name in text, name

            # The database stops answering: not ready, and the check says which.
            deliveries = h.app.repo.deliveries
            real = deliveries.open_count

            async def down(*_args: object) -> int:
                raise ConnectionRefusedError

            deliveries.open_count = down  # type: ignore[method-assign,assignment]
            async with http.get(f"{base}/readyz") as r:
                body = await r.json()
            assert r.status == 503
            assert body["checks"]["database"] == "ConnectionRefusedError"
            deliveries.open_count = real  # type: ignore[method-assign]
            # The outbox stopped: not ready either.
            assert process.outbox is not None
            await process.outbox.stop()
            async with http.get(f"{base}/readyz") as r:
                body = await r.json()
            assert r.status == 503 and body["checks"]["outbox"] == "stopped"


def test_json_log_lines_carry_ids_only() -> None:
    record = logging.LogRecord(
        "bot.outbox", logging.INFO, __file__, 1, "delivery %s sent to user %s", (5, 42), None
    )
    record.user_id = 42
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "delivery 5 sent to user 42"
    assert line["level"] == "INFO" and line["logger"] == "bot.outbox"
    assert line["user_id"] == 42
    assert set(line) == {"ts", "level", "logger", "msg", "process", "user_id"}


async def test_update_middleware_counts_failures_and_lets_them_through() -> None:
    from types import SimpleNamespace
    from typing import Any

    import pytest
    from aiogram.types import Update

    from bot.observability import Metrics, UpdateMetricsMiddleware

    process: Any = SimpleNamespace(outbox=None, scheduler=None, app=None)
    metrics = Metrics(process)
    middleware = UpdateMetricsMiddleware(metrics)
    update = Update.model_validate(
        {
            "update_id": 1,
            "callback_query": {
                "id": "q",
                "from": {"id": 5, "is_bot": False, "first_name": "A"},
                "chat_instance": "c",
                "data": "x",
            },
        }
    )

    async def fails(_event: object, _data: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    async def works(_event: object, _data: dict[str, Any]) -> str:
        return "handled"

    with pytest.raises(RuntimeError):  # the errors router still gets it
        await middleware(fails, update, {})
    assert await middleware(works, update, {}) == "handled"
    text = metrics.render().decode()
    assert 'bot_handler_errors_total{type="callback_query"} 1.0' in text
    assert 'bot_updates_total{type="callback_query"} 2.0' in text
    assert 'bot_handler_seconds_count{type="callback_query"} 2.0' in text
