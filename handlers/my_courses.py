"""The trainee's side of outcomes: "My courses" (group, next class, attendance so far,
status, certificate — sent again on request) and the follow-up after the course (one or
two taps; the employer's name optional)."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.clock import Clock
from bot.config import Settings
from bot.filters import HasText, PrivateChat
from bot.formatting import fmt_datetime
from bot.i18n import BoundTranslator, Translator
from bot.outcomes import FollowUpCB, MyCoursesCB, send_certificate
from bot.routing import FeatureRouter
from bot.services.outcomes.answers import shown
from bot.telegram_utils import show, split_text
from db.dto import ApplicationDTO, UserDTO
from db.dto_outcomes import COMPLETED, EMPLOYED, FOLLOW_UP_OUTCOMES
from db.repo import Repos

router = FeatureRouter(__name__)
router.message.filter(PrivateChat())
router.callback_query.filter(PrivateChat())
EMPLOYER_MAX = 128


class FollowUpForm(StatesGroup):
    employer = State()


async def _course_block(
    t: BoundTranslator, repo: Repos, app: ApplicationDTO, clock: Clock
) -> tuple[str, bool]:
    """A course's lines, and whether it has a certificate to ask for."""
    now = clock.now()
    course = await repo.catalogue.course(app.course_id)
    centre = await repo.catalogue.centre(course.centre_id) if course else None
    group = await repo.catalogue.group(app.group_id) if app.group_id else None
    tz = centre.timezone if centre else "UTC"
    upcoming = await repo.catalogue.sessions([group.id], since=now, limit=1) if group else []
    trainees = await repo.outcomes.trainees(group.id, now) if group else []
    me = next((x for x in trainees if x.application_id == app.id), None)
    cert = await repo.outcomes.certificate(app.id)
    progress = me.progress if me else None
    lines = [
        t(
            "mycourses-course",
            course=t.pick(course.title) if course else "—",
            centre=t.pick(centre.name) if centre else "—",
            group=t.pick(group.name) if group else "—",
        ),
        t("mycourses-status", status=t.plain("progress-" + (progress or "accepted"))),
    ]
    if upcoming and progress not in (COMPLETED, "dropped"):
        lines.append(t("mycourses-next", when=fmt_datetime(upcoming[0].starts_at, tz, t.locale)))
    if me and me.marked:
        lines.append(t("mycourses-attendance", present=me.present, marked=me.marked, rate=me.rate))
    if cert:
        lines.append(t("mycourses-certificate", number=cert.number, issuer=cert.issuer))
    return "\n".join(lines), cert is not None


async def my_courses_view(
    t: BoundTranslator, repo: Repos, user_id: int, clock: Clock
) -> tuple[list[str], InlineKeyboardMarkup | None]:
    apps = [a for a in await repo.applications.for_user(user_id) if a.status == "accepted"]
    if not apps:
        return [t("mycourses-empty")], None
    blocks = [t("mycourses-header")]
    rows = []
    for app in apps[:10]:
        text, has_cert = await _course_block(t, repo, app, clock)
        blocks.append(text)
        if has_cert:
            course = await repo.catalogue.course(app.course_id)
            rows.append(
                [
                    InlineKeyboardButton(
                        text=t.plain(
                            "mycourses-btn-certificate",
                            course=t.pick(course.title) if course else "",
                        )[:64],
                        callback_data=MyCoursesCB(action="c", app=app.id).pack(),
                    )
                ]
            )
    markup = InlineKeyboardMarkup(inline_keyboard=rows) if rows else None
    return split_text("\n\n".join(blocks)), markup


@router.message(Command("courses"))
async def my_courses_command(
    message: Message, user: UserDTO, t: BoundTranslator, repo: Repos, clock: Clock
) -> None:
    chunks, markup = await my_courses_view(t, repo, user.id, clock)
    for chunk in chunks[:-1]:
        await message.answer(chunk)
    await message.answer(chunks[-1], reply_markup=markup)


@router.callback_query(MyCoursesCB.filter(F.action == "l"))
async def my_courses(
    callback: CallbackQuery, user: UserDTO, t: BoundTranslator, repo: Repos, clock: Clock
) -> None:
    chunks, markup = await my_courses_view(t, repo, user.id, clock)
    if isinstance(callback.message, Message):
        for chunk in chunks[:-1]:
            await callback.message.answer(chunk)
        await callback.message.answer(chunks[-1], reply_markup=markup)


@router.callback_query(MyCoursesCB.filter(F.action == "c"))
async def certificate_again(
    callback: CallbackQuery,
    callback_data: MyCoursesCB,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    bot: Bot,
    callback_answer: CallbackAnswer,
) -> None:
    app = await repo.applications.get(callback_data.app)
    if app is None or app.user_id != user.id:
        callback_answer.text = t.plain("error-stale-button")
        return
    if not await send_certificate(bot, repo, translator, app, t.locale):
        callback_answer.text = t.plain("mycourses-no-certificate")
        callback_answer.show_alert = True


# ---- the follow-up after the course ----------------------------------------------------


def _yes_no(app: int, wave: int, step: str, t: BoundTranslator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t.plain("followup-yes"),
                    callback_data=FollowUpCB(app=app, wave=wave, step=step, value="y").pack(),
                ),
                InlineKeyboardButton(
                    text=t.plain("followup-no"),
                    callback_data=FollowUpCB(app=app, wave=wave, step=step, value="n").pack(),
                ),
            ]
        ]
    )


@router.callback_query(FollowUpCB.filter())
async def on_follow_up(
    callback: CallbackQuery,
    callback_data: FollowUpCB,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
    callback_answer: CallbackAnswer,
) -> None:
    cb = callback_data
    app = await repo.applications.get(cb.app)
    progress = (await repo.outcomes.progress_of(cb.app))[0] if app else None
    valid = {
        "o": cb.value in FOLLOW_UP_OUTCOMES,
        "p": cb.value in ("y", "n", "u"),
        "c": cb.value in ("y", "n"),
        "e": cb.value == "",
    }
    if (
        app is None
        or app.user_id != user.id
        or progress != COMPLETED
        or cb.wave not in settings.follow_up_months
        or not valid.get(cb.step, False)
    ):
        callback_answer.text = t.plain("error-stale-button")
        return
    now = clock.now()
    if cb.step == "o":
        await repo.outcomes.answer_follow_up(app.id, cb.wave, now, outcome=cb.value)
        label = t.plain("followup-outcome-" + cb.value)
        if cb.value in EMPLOYED:
            rows = _yes_no(app.id, cb.wave, "p", t)
            rows.inline_keyboard.append(
                [
                    InlineKeyboardButton(
                        text=t.plain("followup-dont-know"),
                        callback_data=FollowUpCB(
                            app=app.id, wave=cb.wave, step="p", value="u"
                        ).pack(),
                    )
                ]
            )
            await show(callback, t("followup-park", answer=label), rows)
        else:
            await show(
                callback, t("followup-contact", answer=label), _yes_no(app.id, cb.wave, "c", t)
            )
        return
    if cb.step == "p":
        resident = {"y": True, "n": False}.get(cb.value)
        await repo.outcomes.answer_follow_up(app.id, cb.wave, now, park_resident=resident)
        await show(callback, t("followup-contact", answer="✓"), _yes_no(app.id, cb.wave, "c", t))
        return
    if cb.step == "c":
        await repo.outcomes.answer_follow_up(app.id, cb.wave, now, contact_consent=cb.value == "y")
        answer = await repo.outcomes.follow_up(app.id, cb.wave)
        if answer is not None and answer.outcome in EMPLOYED:
            await state.set_state(FollowUpForm.employer)
            await state.set_data({"app": app.id, "wave": cb.wave})
            skip = InlineKeyboardMarkup(
                inline_keyboard=[
                    [
                        InlineKeyboardButton(
                            text=t.plain("followup-skip"),
                            callback_data=FollowUpCB(app=app.id, wave=cb.wave, step="e").pack(),
                        )
                    ]
                ]
            )
            await show(callback, t("followup-employer"), skip)
            return
        await show(callback, t("followup-thanks"))
        return
    # "e": no employer name
    await state.clear()
    await show(callback, t("followup-thanks"))


@router.message(StateFilter(FollowUpForm.employer), HasText())
async def got_employer(
    message: Message,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    clock: Clock,
) -> None:
    name = " ".join((message.text or "").split())
    if len(name) > EMPLOYER_MAX:
        await message.answer(t("followup-employer-too-long", limit=EMPLOYER_MAX))
        return
    data = await state.get_data()
    app = await repo.applications.get(int(data.get("app", 0)))
    await state.clear()
    if app is None or app.user_id != user.id:
        await message.answer(t("error-stale-button"))
        return
    await repo.outcomes.answer_follow_up(
        app.id, int(data.get("wave", 0)), clock.now(), employer=name
    )
    await message.answer(t("followup-thanks"))


async def stored_outcomes(t: BoundTranslator, repo: Repos, application_id: int) -> list[str]:
    """What "My data" lists about an application beyond the form: the answers to the
    extra questions, the certificate and the follow-up answers (employer included)."""
    lines = []
    answers = (await repo.outcomes.answers([application_id]))[application_id]
    for q in await repo.outcomes.questions(answers):
        lines.append(f"   {escape(t.pick(q.text))}: {escape(shown(q, answers[q.id], t.locale))}")
    cert = await repo.outcomes.certificate(application_id)
    if cert:
        lines.append("   " + t("mycourses-certificate", number=cert.number, issuer=cert.issuer))
    waves = (await repo.outcomes.follow_ups([application_id])).get(application_id, {})
    for wave, f in sorted(waves.items()):
        lines.append(
            "   "
            + t(
                "mydata-followup",
                months=wave,
                answer=t.plain("followup-outcome-" + f.outcome) if f.outcome else "—",
                employer=f.employer or "—",
            )
        )
    return lines
