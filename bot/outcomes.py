"""Outcomes, the bot side: telling trainees about their progress (outbox notices),
planning the follow-ups after completion, and sending certificates.

Follow-ups are ``deliveries`` rows enqueued at completion with ``not_before`` set to each
wave (``FOLLOW_UP_MONTHS``, 30-day months) and one reminder a week later. The dedupe keys
(``followup:{application}:{wave}``, ``followup-again:{application}:{wave}``) make a second
completion enqueue nothing; answering skips the unsent reminder; undoing the completion
skips both (``OutcomeRepo.set_progress``). So a graduate is asked at most twice per wave.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile

from bot.config import Settings
from bot.formatting import fmt_date
from bot.i18n import BoundTranslator, Translator
from bot.services.outcomes.certificate import CertificateText, render_certificate
from db.dto import ApplicationDTO, NewDelivery
from db.dto_outcomes import COMPLETED, DROPPED, FOLLOW_UP_OUTCOMES, CertificateDTO
from db.repo import Repos

log = logging.getLogger(__name__)

MONTH = timedelta(days=30)
REMIND_AFTER = timedelta(days=7)
HOURS_PER_WEEK = 6  # a certificate's hours when the course has no classes recorded


class FollowUpCB(CallbackData, prefix="fu"):
    """A graduate's tap in a follow-up: ``step`` o (outcome), p (park resident),
    c (contact consent), e (skip the employer); ``value`` the option."""

    app: int
    wave: int
    step: str
    value: str = ""


class MyCoursesCB(CallbackData, prefix="mc"):
    """The trainee's "My courses": ``action`` l (list), c (certificate again)."""

    action: str
    app: int = 0


def follow_up_buttons(app_id: int, wave: int) -> list[list[dict[str, str]]]:
    return [
        [
            {
                "key": "followup-outcome-" + outcome,
                "callback_data": FollowUpCB(app=app_id, wave=wave, step="o", value=outcome).pack(),
            }
        ]
        for outcome in FOLLOW_UP_OUTCOMES
    ]


def follow_up_rows(
    app: ApplicationDTO, course_title: dict[str, str], completed_at: datetime, months: Sequence[int]
) -> list[NewDelivery]:
    rows = []
    for wave in months:
        due = completed_at + wave * MONTH
        payload = {
            "type": "text",
            "key": "followup-ask",
            "params": {"months": wave, "course": {"pick": course_title}},
            "buttons": follow_up_buttons(app.id, wave),
        }
        rows.append(
            NewDelivery(
                kind="notice",
                dedupe_key=f"followup:{app.id}:{wave}",
                user_id=app.user_id,
                payload=payload,
                not_before=due,
            )
        )
        rows.append(
            NewDelivery(
                kind="notice",
                dedupe_key=f"followup-again:{app.id}:{wave}",
                user_id=app.user_id,
                payload=payload | {"key": "followup-ask-again"},
                not_before=due + REMIND_AFTER,
            )
        )
    return rows


async def progress_changed(
    repo: Repos,
    settings: Settings,
    application_ids: Sequence[int],
    progress: str,
    now: datetime,
    *,
    reason: str | None = None,
) -> int:
    """Tell each trainee (in their language, through the outbox) and, on completion,
    plan the follow-ups. Returns how many notices were enqueued."""
    rows: list[NewDelivery] = []
    stamp = now.strftime("%Y%m%d%H%M%S")
    for app_id in application_ids:
        app = await repo.applications.get(app_id)
        if app is None:
            continue
        course = await repo.catalogue.course(app.course_id)
        title = course.title if course else {"en": "—"}
        params: dict[str, object] = {"course": {"pick": title}}
        if progress == DROPPED:
            params["reason"] = {"key": "dropout-reason-" + (reason or "other")}
        rows.append(
            NewDelivery(
                kind="notice",
                dedupe_key=f"progress:{app.id}:{progress}:{stamp}",
                user_id=app.user_id,
                payload={"type": "text", "key": f"progress-notice-{progress}", "params": params},
            )
        )
        if progress == COMPLETED:
            rows.extend(follow_up_rows(app, title, now, settings.follow_up_months))
    return await repo.deliveries.enqueue(rows)


async def certificate_text(
    t: BoundTranslator, repo: Repos, app: ApplicationDTO, cert: CertificateDTO
) -> CertificateText:
    course = await repo.catalogue.course(app.course_id)
    centre = await repo.catalogue.centre(course.centre_id) if course else None
    group = await repo.catalogue.group(app.group_id) if app.group_id else None
    sessions = await repo.catalogue.sessions([group.id], limit=1000) if group else []
    held = [s for s in sessions if not s.cancelled]
    hours = round(sum((s.ends_at - s.starts_at).total_seconds() for s in held) / 3600)
    if not hours and course is not None:
        hours = course.duration_weeks * HOURS_PER_WEEK
    first = held[0].starts_at.date() if held else (course.start_date if course else None)
    last = held[-1].starts_at.date() if held else cert.issued_on
    dates = f"{fmt_date(first, t.locale)} – {fmt_date(last, t.locale)}" if first else ""
    return CertificateText(
        heading=t.plain("certificate-pdf-heading"),
        awarded=t.plain("certificate-pdf-awarded"),
        name=app.full_name,
        course=t.plain("certificate-pdf-course", course=t.pick(course.title) if course else "—"),
        details=t.plain("certificate-pdf-details", hours=hours, dates=dates),
        centre=t.pick(centre.name) if centre else "",
        number=t.plain(
            "certificate-pdf-number", number=cert.number, date=fmt_date(cert.issued_on, t.locale)
        ),
        issuer=t.plain("certificate-pdf-issuer", issuer=cert.issuer),
    )


async def send_certificate(
    bot: Bot, repo: Repos, translator: Translator, app: ApplicationDTO, locale: str
) -> bool:
    """Send the trainee their certificate: the stored file, or a PDF generated from the
    template in their language (its file id kept for next time). False if not sent."""
    cert = await repo.outcomes.certificate(app.id)
    if cert is None:
        return False
    t = translator.bind(locale)
    course = await repo.catalogue.course(app.course_id)
    caption = t(
        "certificate-caption",
        course=t.pick(course.title) if course else "—",
        number=cert.number,
        issuer=cert.issuer,
    )
    try:
        if cert.file_id and cert.file_kind == "photo":
            await bot.send_photo(app.user_id, cert.file_id, caption=caption)
        elif cert.file_id:
            await bot.send_document(app.user_id, cert.file_id, caption=caption)
        else:
            text = await certificate_text(t, repo, app, cert)
            pdf = await asyncio.to_thread(render_certificate, text)
            sent = await bot.send_document(
                app.user_id,
                BufferedInputFile(pdf, filename=f"certificate-{cert.number}.pdf"),
                caption=caption,
            )
            if sent.document is not None:
                await repo.outcomes.set_certificate_file(app.id, sent.document.file_id, "generated")
    except TelegramAPIError as exc:
        log.warning("certificate of application %s not sent: %s", app.id, type(exc).__name__)
        return False
    return True
