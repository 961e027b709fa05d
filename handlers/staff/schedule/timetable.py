"""A term's timetable from a file: the ready-to-edit template, the import and its report."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiogram import Bot, F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer

from bot import reminders
from bot.clock import Clock
from bot.config import Settings
from bot.formatting import fmt_datetime, zone_label
from bot.i18n import BoundTranslator, Translator, escape
from bot.notify import notify_schedule_change
from bot.routing import FeatureRouter
from bot.services.catalog import (
    WEEKDAYS,
    CatalogData,
    CatalogError,
    ImportReport,
    Problem,
    apply_catalog,
    parse_catalog,
    preview_catalog,
    render_line,
)
from bot.staff_callbacks import ScheduleAction, ScheduleCB
from bot.telegram_utils import answer_first, drop_keyboard, show, split_text
from db.dto import GroupContextDTO, ScheduleChangeDTO, SessionDTO, StaffScope, UserDTO
from db.repo import Repos
from handlers.staff.common import (
    HasDocument,
    StaffForm,
    cancel_markup,
    home_button,
    stale,
)
from handlers.staff.decisions import announce_promotions
from handlers.staff.schedule.parsing import DEFAULT_LENGTH
from handlers.staff.schedule.views import sc_button, told_text
from handlers.staff.scope import context_in_scope, group_in_scope

router = FeatureRouter(__name__)

IMPORT_MAX_BYTES = 512 * 1024
IMPORT_ERRORS_SHOWN = 15
PROBLEM_CHARS = 240  # a line at most, so that 15 of them fit in one message

KIND_KEYS = {
    "regions": "schedule-kind-regions",
    "districts": "schedule-kind-districts",
    "centres": "schedule-kind-centres",
    "courses": "schedule-kind-courses",
    "groups": "schedule-kind-groups",
    "sessions": "schedule-kind-sessions",
}


# ---- timetable import ---------------------------------------------------------------------


@router.callback_query(ScheduleCB.filter(F.action == ScheduleAction.imports))
async def ask_import(
    callback: CallbackQuery,
    callback_data: ScheduleCB,
    state: FSMContext,
    t: BoundTranslator,
    repo: Repos,
    bot: Bot,
    callback_answer: CallbackAnswer,
    clock: Clock,
    scope: StaffScope,
) -> None:
    # id 0: the courses list's import of any part of the catalogue (no one group's template)
    context = await context_in_scope(repo, scope, callback_data.id) if callback_data.id else None
    if callback_data.id and context is None:
        stale(t, callback_answer)
        return
    await state.set_state(StaffForm.timetable)
    await state.set_data({"group_id": callback_data.id})
    await show(callback, t("schedule-import-ask", max=IMPORT_MAX_BYTES // 1024), cancel_markup(t))
    if context is None or callback.message is None:
        return
    sessions = await repo.catalogue.sessions([context.group.id], include_cancelled=True)
    text = timetable_template(t, context, sessions, clock.now())
    await bot.send_document(
        callback.message.chat.id,
        BufferedInputFile(text.encode(), filename=f"timetable-{context.group.code}.yaml"),
        caption=t("schedule-template-caption", group=t.pick(context.group.name)),
    )


TEMPLATE_EXISTING = 2  # upcoming classes the template lists, to move or call off
TEMPLATE_NEW = 2  # example new classes after the group's last one
TEMPLATE_START = time(18, 0)  # of the example classes of a group without any


def _comment(t: BoundTranslator, key: str, indent: str = "", **params: object) -> list[str]:
    text = " ".join(t.plain(key, **params).split())
    return [f"{indent}# {text}"]


def _yaml_session(
    s_start: datetime, s_end: datetime, room: str | None, code: str | None
) -> list[str]:
    lines = [f"      - code: {code}"] if code else []
    fields = [
        f"date: {s_start:%Y-%m-%d}",
        f'start: "{s_start:%H:%M}"',
        f'end: "{s_end:%H:%M}"',
    ]
    if room:
        fields.append(f"room: {json.dumps(room, ensure_ascii=False)}")
    for i, item in enumerate(fields):
        lead = "      - " if not code and i == 0 else "        "
        lines.append(lead + item)
    return lines


def timetable_template(
    t: BoundTranslator, context: GroupContextDTO, sessions: list[SessionDTO], now: datetime
) -> str:
    """A ready-to-edit timetable of one group in the catalogue format: its next classes
    (by code, to move or call off) and example new classes at its usual time, with short
    comments in the staff member's language (``#`` starts a comment in YAML)."""
    zone = ZoneInfo(context.centre.timezone)
    group = " ".join(t.pick(context.group.name).split())
    course = " ".join(t.pick(context.course.title).split())
    lines = _comment(t, "schedule-template-head", group=group, course=course)
    lines += _comment(t, "schedule-template-times", tz=zone_label(t, context.centre))
    lines += ["groups:", f"  - code: {context.group.code}"]
    lines += _comment(t, "schedule-template-code", "    ")
    upcoming = [s for s in sessions if s.code and not s.cancelled and s.starts_at > now]
    # Without classes to list, the key itself waits behind a # with the examples.
    lines.append("    sessions:" if upcoming[:TEMPLATE_EXISTING] else "    # sessions:")
    if upcoming[:TEMPLATE_EXISTING]:
        lines += _comment(t, "schedule-template-existing", "      ")
    for s in upcoming[:TEMPLATE_EXISTING]:
        lines += _yaml_session(
            s.starts_at.astimezone(zone), s.ends_at.astimezone(zone), s.room, s.code
        )
    if sessions:
        last = max(sessions, key=lambda s: s.starts_at)
        start, length, room = (
            last.starts_at.astimezone(zone),
            last.ends_at - last.starts_at,
            last.room,
        )
    else:
        today = now.astimezone(zone).date()
        monday = today + timedelta(days=7 - today.weekday())
        start = datetime.combine(monday, TEMPLATE_START, tzinfo=zone) - timedelta(weeks=1)
        length, room = DEFAULT_LENGTH, None
    week = timedelta(weeks=1)
    start += week
    if start <= now:  # the group's last class is long past: the same weekday, from now on
        start += week * -(-(now - start) // week)
    lines += _comment(t, "schedule-template-new", "      ")
    for i in range(TEMPLATE_NEW):
        # Examples are comments: the file sent back unchanged adds nothing.
        day = (start + i * week).date()
        local = datetime.combine(day, start.time(), tzinfo=zone)
        lines += ["    # " + line[4:] for line in _yaml_session(local, local + length, room, None)]
    lines += _comment(t, "schedule-template-weekly", "    ")
    first = (start + TEMPLATE_NEW * week).date()  # after the examples: no clash
    lines += [
        "    # weekly:",
        f"    #   days: [{WEEKDAYS[first.weekday()]}]",
        f'    #   start: "{start:%H:%M}"',
        f'    #   end: "{start + length:%H:%M}"',
        f"    #   from: {first:%Y-%m-%d}",
        f"    #   until: {first + timedelta(weeks=12):%Y-%m-%d}",
    ]
    if room:
        lines.append(f"    #   room: {json.dumps(room, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def diff_sessions(
    before: dict[int, SessionDTO], after: dict[int, SessionDTO], now: datetime
) -> list[ScheduleChangeDTO]:
    """Future classes added, moved and cancelled between two snapshots: the preview shows
    them, and trainees are told of each, as of a class changed by hand."""
    changes = []
    for sid, added in after.items():
        if sid not in before and not added.cancelled and added.starts_at > now:
            changes.append(ScheduleChangeDTO("added", added.group_id, None, added))
    for sid, old in before.items():
        new = after.get(sid)
        if new is None or old.cancelled or max(old.starts_at, new.starts_at) < now:
            continue
        if new.cancelled:
            changes.append(ScheduleChangeDTO("cancelled", new.group_id, old, new))
        elif (old.starts_at, old.ends_at, old.room) != (new.starts_at, new.ends_at, new.room):
            changes.append(ScheduleChangeDTO("moved", new.group_id, old, new))
    return sorted(changes, key=lambda c: (c.after or c.before).starts_at)  # type: ignore[union-attr]


PREVIEW_LINES = 8  # per kind of change; the rest are counted
PREVIEW_KEYS = {
    "added": "schedule-preview-added",
    "moved": "schedule-preview-moved",
    "cancelled": "schedule-preview-cancelled",
}


async def preview_text(
    t: BoundTranslator,
    repo: Repos,
    name: str,
    report: ImportReport,
    changes: list[ScheduleChangeDTO],
) -> str:
    """What the import will change, in the staff member's words, before anything is saved."""
    lines = [t("schedule-import-preview", file=name)]
    for kind, c in report.items():
        if kind != "sessions" and (c.created or c.updated):
            lines.append(
                t(
                    "schedule-import-kind",
                    kind=t.plain(KIND_KEYS[kind]),
                    created=c.created,
                    updated=c.updated,
                    unchanged=c.unchanged,
                )
            )
    contexts: dict[int, GroupContextDTO | None] = {}
    for kind, key in PREVIEW_KEYS.items():
        found = [c for c in changes if c.kind == kind]
        if not found:
            continue
        lines += ["", t(key, count=len(found))]
        for change in found[:PREVIEW_LINES]:
            if change.group_id not in contexts:
                contexts[change.group_id] = await repo.courses.group_context(change.group_id)
            context = contexts[change.group_id]
            if context is None:
                continue
            tz = context.centre.timezone
            new = change.after or change.before
            assert new is not None
            when = fmt_datetime(new.starts_at, tz, t.locale)
            if change.kind == "moved" and change.before is not None:
                when = f"{fmt_datetime(change.before.starts_at, tz, t.locale)} → {when}"
            lines.append(f"• {escape(t.pick(context.group.name))}: {when}")
        if len(found) > PREVIEW_LINES:
            lines.append(t.n("schedule-import-more", len(found) - PREVIEW_LINES))
    if not changes:
        lines += ["", t("schedule-preview-nothing")]
    lines += warning_lines(t, report)
    return split_text("\n".join(lines))[0]


def warning_lines(t: BoundTranslator, report: ImportReport) -> list[str]:
    """Texts the file gives in fewer than four languages: imported, and said."""
    if not report.warnings:
        return []
    shown = problem_lines(t, report.warnings)
    lines = ["", t("schedule-import-warnings", count=len(report.warnings))]
    lines.append(f"<pre>{escape(shown)}</pre>")
    if len(report.warnings) > IMPORT_ERRORS_SHOWN:
        lines.append(t.n("schedule-import-more", len(report.warnings) - IMPORT_ERRORS_SHOWN))
    return lines


async def _read_upload(
    message: Message, t: BoundTranslator, bot: Bot, file_id: str, name: str, size: int
) -> CatalogData | None:
    """The file parsed, or None once the staff member was told what is wrong."""
    if not name.lower().endswith((".yaml", ".yml")):
        await message.answer(t("schedule-import-not-yaml"), reply_markup=cancel_markup(t))
        return None
    if size > IMPORT_MAX_BYTES:
        await message.answer(
            t("schedule-import-too-big", max=IMPORT_MAX_BYTES // 1024),
            reply_markup=cancel_markup(t),
        )
        return None
    buffer = await bot.download(file_id, destination=io.BytesIO())
    raw = buffer.getvalue() if isinstance(buffer, io.BytesIO) else b""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        await message.answer(t("schedule-import-not-utf8"), reply_markup=cancel_markup(t))
        return None
    try:
        # CPU-bound (YAML, weekly rules): off the event loop, so other people's updates
        # are not held up by someone's large file.
        return await asyncio.to_thread(parse_catalog, text, name)
    except CatalogError as exc:
        await _errors(message, t, exc)
        return None


def problem_lines(t: BoundTranslator, problems: Sequence[Problem]) -> str:
    """The first problems of a file, one a line in the staff member's language, as plain
    text («line 12: course 'python-1': …»)."""
    return "\n".join(
        render_line(problem, t.plain)[:PROBLEM_CHARS] for problem in problems[:IMPORT_ERRORS_SHOWN]
    )


async def _errors(message: Message, t: BoundTranslator, exc: CatalogError) -> None:
    shown = problem_lines(t, exc.problems)
    more = len(exc.problems) - IMPORT_ERRORS_SHOWN
    body = t("schedule-import-errors", count=len(exc.problems)) + f"\n<pre>{escape(shown)}</pre>"
    if more > 0:
        body += "\n" + t.n("schedule-import-more", more)
    await message.answer(body, reply_markup=cancel_markup(t))


async def groups_out_of_scope(repo: Repos, scope: StaffScope, data: CatalogData) -> list[str]:
    """Codes of the file's groups that belong (or would belong) to a course outside the
    staff member's centres: such a file changes nothing."""
    if scope.is_admin:
        return []
    existing = await repo.schedule.group_ids_by_code([g.code for g in data.groups])
    foreign = []
    for g in data.groups:
        group_id = existing.get(g.code)
        inside = group_id is None or await group_in_scope(repo, scope, group_id) is not None
        if g.course is not None:
            course = await repo.catalogue.course_by_code(g.course)
            inside = inside and course is not None and scope.allows(course.centre_id)
        if not inside:
            foreign.append(g.code)
    return foreign


@router.message(StateFilter(StaffForm.timetable), HasDocument())
async def got_timetable(
    message: Message,
    state: FSMContext,
    role: str,
    t: BoundTranslator,
    repo: Repos,
    bot: Bot,
    clock: Clock,
    scope: StaffScope,
) -> None:
    """A file: check it and show what it would change; nothing is saved before Import."""
    document = message.document
    assert document is not None
    name = document.file_name or "timetable.yaml"
    data = await _read_upload(message, t, bot, document.file_id, name, document.file_size or 0)
    if data is None:
        return
    if (data.regions or data.centres or data.courses) and role != "admin":
        await message.answer(t("schedule-import-admin-only"), reply_markup=cancel_markup(t))
        return
    foreign = await groups_out_of_scope(repo, scope, data)
    if foreign:
        await message.answer(
            t("centres-import-not-yours", groups=", ".join(foreign[:10])),
            reply_markup=cancel_markup(t),
        )
        return
    codes = [g.code for g in data.groups]
    before = await repo.schedule.snapshot(
        list((await repo.schedule.group_ids_by_code(codes)).values())
    )
    try:
        report, after = await preview_catalog(repo.db, data)
    except CatalogError as exc:
        await _errors(message, t, exc)
        return
    changes = diff_sessions(before, {s.id: s for s in after}, clock.now())
    await state.update_data(
        file_id=document.file_id, file_name=name, file_size=document.file_size or 0
    )
    group_id = (await state.get_data()).get("group_id") or 0
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [sc_button(t.plain("schedule-btn-import-yes"), ScheduleAction.import_yes, group_id)],
            cancel_markup(t).inline_keyboard[0],
        ]
    )
    await message.answer(await preview_text(t, repo, name, report, changes), reply_markup=markup)


@router.callback_query(ScheduleCB.filter(F.action == ScheduleAction.import_yes))
async def do_import(
    callback: CallbackQuery,
    state: FSMContext,
    user: UserDTO,
    role: str,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    clock: Clock,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> None:
    """Import the previewed file: the same checks again (the catalogue may have changed
    meanwhile), then trainees are told of every added, moved or cancelled class."""
    form = await state.get_data()
    file_id, name = form.get("file_id"), form.get("file_name")
    message = callback.message
    if (
        await state.get_state() != StaffForm.timetable.state
        or not isinstance(file_id, str)
        or not isinstance(name, str)
        or not isinstance(message, Message)
    ):
        stale(t, callback_answer)
        return
    await answer_first(callback, callback_answer)
    await drop_keyboard(callback)
    size = form.get("file_size")
    data = await _read_upload(message, t, bot, file_id, name, size if isinstance(size, int) else 0)
    if data is None:
        return
    if (data.regions or data.centres or data.courses) and role != "admin":
        await message.answer(t("schedule-import-admin-only"), reply_markup=cancel_markup(t))
        return
    foreign = await groups_out_of_scope(repo, scope, data)
    if foreign:
        await message.answer(
            t("centres-import-not-yours", groups=", ".join(foreign[:10])),
            reply_markup=cancel_markup(t),
        )
        return
    codes = [g.code for g in data.groups]
    before = await repo.schedule.snapshot(
        list((await repo.schedule.group_ids_by_code(codes)).values())
    )
    try:
        report = await apply_catalog(repo.db, data)
    except CatalogError as exc:
        await _errors(message, t, exc)
        return
    await state.clear()
    await reminders.catalog_changed()
    group_ids = list((await repo.schedule.group_ids_by_code(codes)).values())
    after = await repo.schedule.snapshot(group_ids)
    changes = diff_sessions(before, after, clock.now())
    told = await notify_schedule_change(bot, translator, repo, changes) if changes else 0
    promoted = await repo.courses.fill_free_seats(group_ids, actor_id=user.id)
    await announce_promotions(bot, settings, translator, repo, promoted)
    counts = {
        kind: {"created": c.created, "updated": c.updated}
        for kind, c in report.items()
        if c.created or c.updated
    }
    await repo.audit.add(user.id, "catalog.import", "catalog", name[:64], None, counts)
    lines = [t("schedule-import-done", file=name)]
    for kind, c in report.items():
        if c.total:
            lines.append(
                t(
                    "schedule-import-kind",
                    kind=t.plain(KIND_KEYS[kind]),
                    created=c.created,
                    updated=c.updated,
                    unchanged=c.unchanged,
                )
            )
    if changes:
        lines.append(t.n("schedule-import-changes", len(changes)) + " " + told_text(t, told))
    if promoted:
        lines.append(t.n("staff-promoted", len(promoted)))
    lines += warning_lines(t, report)
    await message.answer(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=[[home_button(t)]])
    )
