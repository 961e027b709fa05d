"""While sending: the Stop button; afterwards: the CSV of recipients not reached."""

from __future__ import annotations

from aiogram import Bot, F
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot.i18n import BoundTranslator
from bot.routing import FeatureRouter
from bot.services.export import Table, to_csv
from db.dto import StaffScope, UserDTO
from db.repo import Repos
from handlers.broadcast.base import BcAction, BcCB, answer_stale, broadcast_in_scope
from handlers.broadcast.service import BroadcastService

router = FeatureRouter(__name__)

# ---- while sending: stop; afterwards: who was not reached --------------------------------


@router.callback_query(BcCB.filter(F.action == BcAction.stop))
async def on_stop(
    callback: CallbackQuery,
    callback_data: BcCB,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    broadcasts: BroadcastService,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    broadcast = await repo.broadcasts.get(callback_data.id)
    if broadcast is None or not broadcast_in_scope(broadcast, scope):
        answer_stale(t, callback_answer)
        return
    stopped = await broadcasts.stop(broadcast.id, actor_id=user.id)
    callback_answer.text = t.plain("broadcast-stopping" if stopped else "broadcast-not-sending")


@router.callback_query(BcCB.filter(F.action == BcAction.csv))
async def on_failures(
    callback: CallbackQuery,
    callback_data: BcCB,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    bot: Bot,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    broadcast = await repo.broadcasts.get(callback_data.id)
    if broadcast is None or not broadcast_in_scope(broadcast, scope) or callback.message is None:
        answer_stale(t, callback_answer)
        return
    failures = await repo.deliveries.failures(broadcast.id)
    if not failures:
        callback_answer.text = t.plain("broadcast-no-failures")
        return
    status_keys = {"failed": "broadcast-status-failed", "blocked": "broadcast-status-blocked"}
    table = Table(
        title=f"#{broadcast.id}",
        headers=[
            t.plain(key)
            for key in (
                "broadcast-col-user",
                "broadcast-col-name",
                "broadcast-col-username",
                "broadcast-col-status",
                "broadcast-col-attempts",
                "broadcast-col-error",
            )
        ],
        rows=[
            (
                f.user_id,
                f.first_name or "",
                f"@{f.username}" if f.username else "",
                t.plain(status_keys.get(f.status, "broadcast-status-failed")),
                f.attempts,
                f.last_error or "",
            )
            for f in failures
        ],
    )
    document = BufferedInputFile(to_csv(table), filename=f"announcement-{broadcast.id}.csv")
    await bot.send_document(
        callback.message.chat.id,
        document,
        caption=t("broadcast-failures-caption", id=broadcast.id, count=len(failures)),
    )
    await repo.audit.add(
        user.id, "broadcast.export", "broadcast", broadcast.id, None, {"rows": len(failures)}
    )
