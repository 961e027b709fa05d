"""Trainee progress by group: the group's roster with attendance and flags, a trainee's
card, studying / completed / dropped out (with a reason and a note), and the completion
roster at the end of a term (everyone completed unless tapped)."""

from __future__ import annotations

from datetime import datetime

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.clock import Clock
from bot.config import Settings
from bot.filters import HasText
from bot.i18n import BoundTranslator
from bot.outcomes import progress_changed
from bot.routing import FeatureRouter
from bot.staff_menu import StaffMenuCB, StaffSection
from bot.telegram_utils import show
from db.dto import StaffScope
from db.dto_outcomes import COMPLETED, DROPOUT_REASONS, DROPPED, PROGRESS, TraineeDTO
from db.repo import Repos
from handlers.staff.common import clip, home_button, stale
from handlers.staff.outcomes.base import (
    Out,
    OutCB,
    OutcomeForm,
    button,
    group_or_stale,
    group_view,
    trainee_in_scope,
    trainee_or_stale,
    trainee_view,
)
from handlers.staff.scope import centres_in_scope

router = FeatureRouter(__name__)
NOTE_MAX = 300


async def section_view(
    t: BoundTranslator, repo: Repos, scope: StaffScope
) -> tuple[str, InlineKeyboardMarkup]:
    rows = [
        [button(clip(f"{t.pick(c.city)} · {t.pick(c.name)}", 64), Out.centre, c.id)]
        for c in await centres_in_scope(repo, scope)
    ]
    rows.append([button(t.plain("outcomes-btn-report"), Out.report)])
    rows.append([home_button(t)])
    return t("outcomes-section"), InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(StaffMenuCB.filter(F.section == StaffSection.outcomes))
@router.callback_query(OutCB.filter(F.action == Out.section))
async def open_section(
    callback: CallbackQuery, state: FSMContext, t: BoundTranslator, repo: Repos, scope: StaffScope
) -> None:
    await state.clear()
    text, markup = await section_view(t, repo, scope)
    await show(callback, text, markup)


@router.callback_query(OutCB.filter(F.action == Out.centre))
async def on_centre(
    callback: CallbackQuery,
    callback_data: OutCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    centre = await repo.catalogue.centre(callback_data.id)
    if centre is None or not scope.allows(centre.id):
        stale(t, callback_answer)
        return
    rows = []
    for course in await repo.catalogue.courses(centre.id):
        for group in await repo.catalogue.groups(course.id):
            label = clip(f"{t.pick(course.title)} · {t.pick(group.name)}", 60)
            rows.append([button(label, Out.group, group.id)])
    rows.append([button(t.plain("btn-back"), Out.section), home_button(t)])
    text = t("outcomes-choose-group", centre=t.pick(centre.name))
    await show(callback, text, InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(OutCB.filter(F.action == Out.group))
async def on_group(
    callback: CallbackQuery,
    callback_data: OutCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    context = await group_or_stale(t, repo, scope, callback_data.id, callback_answer)
    if context is None:
        return
    await state.clear()
    await show(callback, *await group_view(t, repo, settings, context, clock.now()))


@router.callback_query(OutCB.filter(F.action == Out.trainee))
async def on_trainee(
    callback: CallbackQuery,
    callback_data: OutCB,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    app = await trainee_or_stale(t, repo, scope, callback_data.id, callback_answer)
    if app is None:
        return
    await show(callback, *await trainee_view(t, repo, settings, app, clock.now()))


@router.callback_query(OutCB.filter(F.action == Out.progress))
async def on_progress(
    callback: CallbackQuery,
    callback_data: OutCB,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    progress = callback_data.arg
    moved = None
    if progress in PROGRESS and progress != DROPPED:  # dropping out asks for a reason
        moved = await _move(
            t, repo, settings, clock, scope, callback.from_user.id, callback_data.id, progress
        )
    if moved is None:
        stale(t, callback_answer)
        return
    view, changed = moved
    if changed:
        callback_answer.text = t.plain("outcomes-saved-told")
    await show(callback, *view)


@router.callback_query(OutCB.filter(F.action == Out.drop))
async def on_drop(
    callback: CallbackQuery,
    callback_data: OutCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    app = await trainee_or_stale(t, repo, scope, callback_data.id, callback_answer)
    if app is None:
        return
    rows = [
        [button(t.plain("dropout-reason-" + r), Out.drop_reason, app.id, r)]
        for r in DROPOUT_REASONS
    ]
    rows.append([button(t.plain("btn-back"), Out.trainee, app.id)])
    await show(
        callback,
        t("outcomes-drop-reason", name=app.full_name),
        InlineKeyboardMarkup(inline_keyboard=rows),
    )


@router.callback_query(OutCB.filter(F.action == Out.drop_reason))
async def on_drop_reason(
    callback: CallbackQuery,
    callback_data: OutCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    app = await trainee_in_scope(repo, scope, callback_data.id)
    if app is None or callback_data.arg not in DROPOUT_REASONS:
        stale(t, callback_answer)
        return
    await state.set_state(OutcomeForm.dropout_note)
    await state.set_data({"app": app.id, "reason": callback_data.arg})
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [button(t.plain("outcomes-btn-no-note"), Out.drop_skip, app.id, callback_data.arg)],
            [button(t.plain("btn-back"), Out.drop, app.id)],
        ]
    )
    await show(callback, t("outcomes-drop-note"), markup)


async def record_progress(
    repo: Repos,
    settings: Settings,
    app_ids: list[int],
    progress: str,
    *,
    actor_id: int,
    now: datetime,
    reason: str | None = None,
    note: str | None = None,
) -> list[int]:
    """Set trainees' progress (audited) and tell each trainee whose progress changed;
    returns those."""
    changed = await repo.outcomes.set_progress(
        app_ids, progress, actor_id=actor_id, now=now, reason=reason, note=note
    )
    if changed:
        await progress_changed(repo, settings, changed, progress, now, reason=reason)
    return changed


async def _move(
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
    scope: StaffScope,
    actor_id: int,
    app_id: int,
    progress: str,
    reason: str | None = None,
    note: str | None = None,
) -> tuple[tuple[str, InlineKeyboardMarkup], bool] | None:
    """One trainee of this staff member's centres to ``progress`` (dropped out: with a
    reason from the list): the trainee's card after it and whether anything changed;
    None for a trainee that is gone, of another centre, or a reason not on the list."""
    app = await trainee_in_scope(repo, scope, app_id)
    if app is None or (progress == DROPPED and reason not in DROPOUT_REASONS):
        return None
    now = clock.now()
    changed = await record_progress(
        repo, settings, [app.id], progress, actor_id=actor_id, now=now, reason=reason, note=note
    )
    return await trainee_view(t, repo, settings, app, now), bool(changed)


@router.callback_query(OutCB.filter(F.action == Out.drop_skip))
async def on_drop_skip(
    callback: CallbackQuery,
    callback_data: OutCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    await state.clear()
    actor, reason = callback.from_user.id, callback_data.arg
    moved = await _move(t, repo, settings, clock, scope, actor, callback_data.id, DROPPED, reason)
    if moved is None:
        stale(t, callback_answer)
        return
    callback_answer.text = t.plain("outcomes-saved-told")
    await show(callback, *moved[0])


@router.message(StateFilter(OutcomeForm.dropout_note), HasText())
async def got_drop_note(
    message: Message,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
    scope: StaffScope,
) -> None:
    note = " ".join((message.text or "").split())
    if len(note) > NOTE_MAX:
        await message.answer(t("outcomes-note-too-long", limit=NOTE_MAX))
        return
    data = await state.get_data()
    await state.clear()
    assert message.from_user is not None
    app_id, reason = int(data.get("app", 0)), str(data.get("reason", ""))
    actor = message.from_user.id
    moved = await _move(
        t, repo, settings, clock, scope, actor, app_id, DROPPED, reason, note or None
    )
    if moved is None:
        await message.answer(t("error-stale-button"))
        return
    (text, markup), _ = moved
    await message.answer(t("outcomes-saved-told"))
    await message.answer(text, reply_markup=markup)


# ---- the completion roster ----------------------------------------------------------------


async def still_in(repo: Repos, group_id: int, now: datetime) -> list[TraineeDTO]:
    """The group's trainees not dropped out: those the roster completes or drops."""
    return [tr for tr in await repo.outcomes.trainees(group_id, now) if tr.progress != DROPPED]


async def roster_view(
    t: BoundTranslator, repo: Repos, clock: Clock, group_id: int, out: set[int]
) -> tuple[str, InlineKeyboardMarkup]:
    trainees = await still_in(repo, group_id, clock.now())
    rows = [
        [
            button(
                ("❌ " if tr.application_id in out else "✅ ")
                + clip(tr.full_name, 32)
                + (f" · {tr.rate}%" if tr.rate is not None else ""),
                Out.roster_toggle,
                tr.application_id,
            )
        ]
        for tr in trainees
    ]
    completed = sum(1 for tr in trainees if tr.application_id not in out)
    rows.append(
        [
            button(
                t.plain("outcomes-btn-roster-confirm", completed=completed, dropped=len(out)),
                Out.roster_confirm,
                group_id,
            )
        ]
    )
    rows.append([button(t.plain("btn-back"), Out.group, group_id)])
    return t("outcomes-roster"), InlineKeyboardMarkup(inline_keyboard=rows)


@router.callback_query(OutCB.filter(F.action == Out.roster))
async def on_roster(
    callback: CallbackQuery,
    callback_data: OutCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    clock: Clock,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    if await group_or_stale(t, repo, scope, callback_data.id, callback_answer) is None:
        return
    await state.clear()
    await state.set_data({"roster_group": callback_data.id, "roster_out": []})
    await show(callback, *await roster_view(t, repo, clock, callback_data.id, set()))


@router.callback_query(OutCB.filter(F.action == Out.roster_toggle))
async def on_roster_toggle(
    callback: CallbackQuery,
    callback_data: OutCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    clock: Clock,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    data = await state.get_data()
    group_id = data.get("roster_group")
    app = await trainee_in_scope(repo, scope, callback_data.id)
    if app is None or group_id is None or app.group_id != group_id:
        stale(t, callback_answer)
        return
    out = set(data.get("roster_out", []))
    out ^= {app.id}
    await state.update_data(roster_out=sorted(out))
    await show(callback, *await roster_view(t, repo, clock, group_id, out))


@router.callback_query(OutCB.filter(F.action == Out.roster_confirm))
async def on_roster_confirm(
    callback: CallbackQuery,
    callback_data: OutCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
    clock: Clock,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    data = await state.get_data()
    if data.get("roster_group") != callback_data.id:
        stale(t, callback_answer)
        return
    context = await group_or_stale(t, repo, scope, callback_data.id, callback_answer)
    if context is None:
        return
    now = clock.now()
    out = set(data.get("roster_out", []))
    trainees = await still_in(repo, callback_data.id, now)
    done = [tr.application_id for tr in trainees if tr.application_id not in out]
    gone = [tr.application_id for tr in trainees if tr.application_id in out]
    actor = callback.from_user.id
    completed = await record_progress(repo, settings, done, COMPLETED, actor_id=actor, now=now)
    dropped = await record_progress(
        repo, settings, gone, DROPPED, actor_id=actor, now=now, reason="other"
    )
    await state.clear()
    callback_answer.text = t.plain(
        "outcomes-roster-done", completed=len(completed), dropped=len(dropped)
    )
    await show(callback, *await group_view(t, repo, settings, context, now))
