"""Export applicants or trainees (the applications filter) to XLSX or CSV, as a document."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from aiogram import Bot, F
from aiogram.types import BufferedInputFile, CallbackQuery
from aiogram.utils.callback_answer import CallbackAnswer

from bot.clock import Clock
from bot.formatting import reason_text
from bot.i18n import BoundTranslator
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.services.export import Table, to_csv, to_xlsx
from bot.services.outcomes.answers import shown
from bot.staff_callbacks import AppsAction, AppsCB
from bot.staff_menu import StaffMenuCB, StaffSection
from bot.telegram_utils import show
from db.dto import (
    ApplicationDTO,
    CentreDTO,
    CourseDTO,
    DistrictDTO,
    GroupDTO,
    StaffScope,
    UserDTO,
)
from db.repo import Repos
from handlers.staff.applications import Filter, describe, filter_or_refuse, filters_view
from handlers.staff.common import StaffChats, StaffTraffic, alert, stale
from handlers.staff.outcomes.base import progress_label

router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(), StaffChats())
router.callback_query.filter(StaffTraffic(), RoleFilter(), StaffChats())

EXPORT_MAX = 50_000
COLUMNS = (
    "export-col-id",
    "export-col-created",
    "export-col-status",
    "export-col-course",
    "export-col-centre",
    "export-col-group",
    "export-col-name",
    "export-col-phone",
    "export-col-district",
    "export-col-source",
    "export-col-decided",
    "export-col-reason",
)


async def build_table(
    t: BoundTranslator, repo: Repos, apps: Sequence[ApplicationDTO], *, trainees: bool
) -> Table:
    """One row per application, in the staff member's language; times in the local time
    of the course's centre."""
    courses: dict[int, CourseDTO] = {c.id: c for c in await repo.catalogue.courses()}
    centres: dict[int, CentreDTO] = {c.id: c for c in await repo.catalogue.centres()}
    groups: dict[int, GroupDTO] = {}
    for course_id in {a.course_id for a in apps}:
        groups.update({g.id: g for g in await repo.catalogue.groups(course_id)})
    districts: dict[int, DistrictDTO] = {d.id: d for d in await repo.catalogue.all_districts()}

    def local(value: datetime | None, centre: CentreDTO | None) -> datetime | None:
        if value is None:
            return None
        zone = ZoneInfo(centre.timezone) if centre else UTC
        return value.astimezone(zone).replace(tzinfo=None)

    # After the fixed columns: progress, certificate, and one column per extra question.
    ids = [a.id for a in apps]
    answers = await repo.outcomes.answers(ids)
    extras = await repo.outcomes.progress_and_certificates(ids)
    questions = await repo.outcomes.questions({q for a in answers.values() for q in a})
    rows = []
    for app in apps:
        course = courses.get(app.course_id)
        centre = centres.get(course.centre_id) if course else None
        group = groups.get(app.group_id) if app.group_id else None
        district = districts.get(app.district_id) if app.district_id else None
        progress, certificate = extras.get(app.id, (None, None))
        rows.append(
            (
                app.id,
                local(app.created_at, centre),
                t.plain("status-" + app.status),
                t.pick(course.title) if course else "",
                t.pick(centre.name) if centre else "",
                t.pick(group.name) if group else "",
                app.full_name,
                app.phone,
                t.pick(district.name) if district else "",
                app.source or "",
                local(app.decided_at, centre),
                reason_text(t, app.reason) if app.reason else "",
                progress_label(t, progress) if app.status == "accepted" else "",
                certificate or "",
                *(
                    shown(q, answers[app.id][q.id], t.locale) if q.id in answers[app.id] else ""
                    for q in questions
                ),
            )
        )
    title = t.plain("export-sheet-trainees" if trainees else "export-sheet-applications")
    headers = [t.plain(k) for k in COLUMNS]
    headers += [t.plain("export-col-progress"), t.plain("export-col-certificate")]
    headers += [t.pick(q.text) for q in questions]
    return Table(title=title, headers=headers, rows=rows)


@router.callback_query(StaffMenuCB.filter(F.section == StaffSection.export))
async def open_section(
    callback: CallbackQuery, t: BoundTranslator, repo: Repos, scope: StaffScope
) -> None:
    text, markup = await filters_view(t, repo, Filter(), 1, scope)
    await show(callback, text, markup)


@router.callback_query(AppsCB.filter(F.action.in_({AppsAction.xlsx, AppsAction.csv})))
async def on_export(
    callback: CallbackQuery,
    callback_data: AppsCB,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    bot: Bot,
    callback_answer: CallbackAnswer,
    clock: Clock,
    scope: StaffScope,
) -> None:
    flt = await filter_or_refuse(t, repo, callback_data, scope, callback_answer)
    if flt is None:
        return
    if callback.message is None:
        stale(t, callback_answer)
        return
    apps, total = await repo.applications.search(flt.to_repo(scope), limit=EXPORT_MAX)
    if not apps:
        alert(callback_answer, t.plain("export-empty"))
        return
    trainees = flt.status == "accepted"
    fmt = "xlsx" if callback_data.action is AppsAction.xlsx else "csv"
    table = await build_table(t, repo, apps, trainees=trainees)
    data = await asyncio.to_thread(to_xlsx if fmt == "xlsx" else to_csv, table)
    stamp = clock.now().strftime("%Y%m%d-%H%M")
    filename = f"{'trainees' if trainees else 'applications'}-{stamp}.{fmt}"
    chat_id = callback.message.chat.id
    await bot.send_document(
        chat_id,
        BufferedInputFile(data, filename=filename),
        caption=t.n("export-caption", len(apps), total=total) + "\n" + describe(t, flt),
        protect_content=True,  # names and phones: not to be forwarded on
    )
    await repo.audit.add(
        user.id,
        "export.applications",
        "export",
        fmt,
        None,
        {
            "rows": len(apps),
            **{
                k: sorted(v) if isinstance(v, frozenset) else v
                for k, v in asdict(flt.to_repo(scope)).items()
                if v is not None
            },
        },
        centre_id=flt.course.centre_id
        if flt.course
        else next(iter(scope.centres))
        if len(scope.centres) == 1
        else None,
    )
    callback_answer.text = t.plain("export-sent")
