"""Certificates: staff generate a PDF from the template or attach the trainee's file (a
PDF or an image, its caption the certificate's number); the trainee gets it in the bot
at once and can ask for it again from "My courses"."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from aiogram import Bot, F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import BoundTranslator, Translator
from bot.outcomes import send_certificate
from bot.routing import FeatureRouter
from bot.telegram_utils import show
from db.dto import ApplicationDTO, StaffScope
from db.repo import Repos
from handlers.staff.common import alert
from handlers.staff.outcomes.base import (
    Out,
    OutCB,
    OutcomeForm,
    button,
    trainee_in_scope,
    trainee_view,
)

router = FeatureRouter(__name__)
NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./_-]{0,62}$")
FILE_MAX = 20 * 1024 * 1024  # what a bot may download and send on
PDF_OR_IMAGE = ("application/pdf", "image/jpeg", "image/png")


async def _issue(
    repo: Repos,
    clock: Clock,
    app: ApplicationDTO,
    actor_id: int,
    *,
    number: str | None,
    file_id: str | None,
    file_kind: str | None,
) -> None:
    course = await repo.catalogue.course(app.course_id)
    centre = await repo.catalogue.centre(course.centre_id) if course else None
    tz = ZoneInfo(centre.timezone) if centre else None
    today = clock.now().astimezone(tz).date() if tz else clock.now().date()
    prefix = re.sub(r"[^A-Z0-9]", "", (centre.code if centre else "CERT").upper())[:8] or "CERT"
    # The course's certificate (e.g. the international ISDEL one) names the issuer;
    # otherwise the centre issues its own.
    issuer = ""
    if course and course.certificate:
        issuer = course.certificate.get("en") or next(iter(course.certificate.values()), "")
    if not issuer and centre:
        issuer = centre.name.get("en") or next(iter(centre.name.values()), "")
    existing = await repo.outcomes.certificate(app.id)
    await repo.outcomes.save_certificate(
        app.id,
        number=number
        or (existing.number if existing else None)
        or await repo.outcomes.next_certificate_number(prefix),
        issued_on=existing.issued_on if existing else today,
        issuer=(issuer or "—")[:128],
        file_id=file_id,
        file_kind=file_kind,
        actor_id=actor_id,
    )


async def _completed(repo: Repos, scope: StaffScope, app_id: int) -> ApplicationDTO | None:
    app = await trainee_in_scope(repo, scope, app_id)
    if app is None:
        return None
    progress, _ = await repo.outcomes.progress_of(app.id)
    return app if progress == "completed" else None


async def _completed_or_alert(
    t: BoundTranslator,
    repo: Repos,
    scope: StaffScope,
    app_id: int,
    callback_answer: CallbackAnswer,
) -> ApplicationDTO | None:
    """The completed trainee a button names, or None after saying a certificate needs a
    completed trainee (also for one that is gone or of another centre)."""
    app = await _completed(repo, scope, app_id)
    if app is None:
        alert(callback_answer, t.plain("outcomes-cert-not-completed"))
    return app


async def _send(
    bot: Bot, repo: Repos, translator: Translator, settings: Settings, app: ApplicationDTO
) -> bool:
    """Send the certificate to the trainee in their language; False if it did not go."""
    user = await repo.users.get(app.user_id)
    locale = (user.locale if user else None) or settings.default_locale
    return await send_certificate(bot, repo, translator, app, locale)


@router.callback_query(OutCB.filter(F.action.in_({Out.cert_make, Out.cert_resend})))
async def on_make(
    callback: CallbackQuery,
    callback_data: OutCB,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    app = await _completed_or_alert(t, repo, scope, callback_data.id, callback_answer)
    if app is None:
        return
    if callback_data.action is Out.cert_make:
        await _issue(
            repo, clock, app, callback.from_user.id, number=None, file_id=None, file_kind=None
        )
    sent = await _send(bot, repo, translator, settings, app)
    callback_answer.text = t.plain("outcomes-cert-sent" if sent else "outcomes-cert-not-sent")
    callback_answer.show_alert = not sent
    await show(callback, *await trainee_view(t, repo, settings, app, clock.now()))


@router.callback_query(OutCB.filter(F.action == Out.cert_attach))
async def on_attach(
    callback: CallbackQuery,
    callback_data: OutCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    clock: Clock,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    app = await _completed_or_alert(t, repo, scope, callback_data.id, callback_answer)
    if app is None:
        return
    await state.set_state(OutcomeForm.certificate_file)
    await state.set_data({"app": app.id})
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[button(t.plain("btn-back"), Out.trainee, app.id)]]
    )
    await show(callback, t("outcomes-cert-attach", name=app.full_name), markup)


@router.message(StateFilter(OutcomeForm.certificate_file))
async def got_file(
    message: Message,
    state: FSMContext,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    scope: StaffScope,
) -> None:
    data = await state.get_data()
    app = await _completed(repo, scope, int(data.get("app", 0)))
    if app is None:
        await state.clear()
        await message.answer(t("error-stale-button"))
        return
    file_id = kind = None
    if message.document is not None:
        doc = message.document
        if (doc.mime_type or "") not in PDF_OR_IMAGE or (doc.file_size or 0) > FILE_MAX:
            await message.answer(t("outcomes-cert-bad-file"))
            return
        file_id, kind = doc.file_id, "document"
    elif message.photo:
        file_id, kind = message.photo[-1].file_id, "photo"
    else:
        await message.answer(t("outcomes-cert-bad-file"))
        return
    number = " ".join((message.caption or "").split()) or None
    if number is not None and not NUMBER_RE.match(number):
        await message.answer(t("outcomes-cert-bad-number"))
        return
    assert message.from_user is not None
    await _issue(
        repo, clock, app, message.from_user.id, number=number, file_id=file_id, file_kind=kind
    )
    await state.clear()
    sent = await _send(bot, repo, translator, settings, app)
    await message.answer(t("outcomes-cert-sent" if sent else "outcomes-cert-not-sent"))
    text, markup = await trainee_view(t, repo, settings, app, clock.now())
    await message.answer(text, reply_markup=markup)
