"""The staff digest leaves out classes of groups with no trainees; if no class has
trainees, it says so in one line."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from bot.i18n import Translator
from db.database import Database
from db.models import Application
from tests.test_reminders import STAFF_CHAT, T0, H, RecordingBot, build_world, service, settings


async def test_digest_leaves_out_groups_without_trainees(sqlite_db: Database) -> None:
    translator = Translator()
    w = await build_world(sqlite_db)
    bot: Any = RecordingBot()
    async with w.db.transaction() as s:  # the other group's only trainee is not accepted
        await s.execute(
            update(Application).where(Application.user_id == 106).values(status="pending")
        )
    await w.repo.schedule.add(
        w.other_group_id, T0 + 25 * H, T0 + 27 * H, "202", actor_id=1
    )  # tomorrow too, for nobody
    svc = service(w, translator, bot=bot, settings=settings(default_locale="en"))
    await svc.start()
    try:
        w.clock.set(T0 + 7 * H)  # 18:00 in Almaty
        assert await svc.send_digest(w.centre_id)
        [(chat_id, text)] = bot.sent
        assert chat_id == STAFF_CHAT
        assert "(of 0)" not in text and "(of 4)" in text
        assert "12:00–14:00" not in text  # the empty group's class
        assert translator.plural("en", "reminder-digest-not-listed", 1) in text

        # The next day only the empty group has a class: one line, no list.
        await w.repo.schedule.add(w.other_group_id, T0 + 49 * H, T0 + 51 * H, "", actor_id=1)
        w.clock.set(T0 + 31 * H)
        assert await svc.send_digest(w.centre_id)
        text = bot.sent[-1][1]
        assert "\n" not in text
        assert "none of them has trainees yet" in text
    finally:
        await svc.stop()
