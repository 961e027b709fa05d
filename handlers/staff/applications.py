"""Applications: a filter (course, group, status, district, and the answer to one of
the courses' choice questions), a paginated list, a card per application with its
decisions, and moving a trainee to another group.

The filter travels inside every button (AppsCB), so the list needs no state; every value
is re-checked against the database before it is used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from aiogram import Bot, F
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.callback_answer import CallbackAnswer

from bot.config import Settings
from bot.formatting import fmt_short_date, local_date, status_label
from bot.i18n import BoundTranslator, Translator
from bot.keyboards import inline_rows
from bot.notify import district_label, notify_applicant
from bot.roles import RoleFilter
from bot.routing import FeatureRouter
from bot.staff_callbacks import CODE_STATUSES, STATUS_CODES, AppsAction, AppsCB
from bot.staff_menu import StaffMenuCB, StaffSection
from bot.telegram_utils import TEXT_LIMIT, show, split_text
from db.dto import CourseDTO, DistrictDTO, GroupDTO, StaffScope, UserDTO
from db.dto_outcomes import OptionDTO, QuestionDTO
from db.repo import Repos
from db.repo.applications import ApplicationFilter, EnrolmentError
from handlers.staff.common import (
    StaffChats,
    StaffTraffic,
    alert,
    clip,
    course_names,
    home_button,
    stale,
)
from handlers.staff.decisions import (
    announce_promotions,
    card_markup,
    card_text,
    refresh_staff_message,
)
from handlers.staff.scope import application_in_scope, course_in_scope, courses_in_scope

router = FeatureRouter(__name__)
router.message.filter(StaffTraffic(), RoleFilter(), StaffChats())
router.callback_query.filter(StaffTraffic(), RoleFilter(), StaffChats())

PAGE_SIZE = 10
PICKER_MAX = 40
STATUS_ORDER = ("pending", "waitlisted", "accepted", "rejected", "cancelled")


STALE = "error-stale-button"
ANSWER_STALE = "staff-apps-answer-stale"


@dataclass(frozen=True, slots=True)
class AnswerFilter:
    """A choice question and one of its options: applications whose answer includes it.
    Buttons carry the option's place (from 1), not its code, to stay under 64 bytes."""

    question: QuestionDTO
    place: int

    @property
    def option(self) -> OptionDTO:
        return self.question.options[self.place - 1]


@dataclass(frozen=True, slots=True)
class Filter:
    """A checked filter: every id names an existing row, the group is the course's, and
    the question is a choice question the course (or one of the staff member's courses)
    asks."""

    course: CourseDTO | None = None
    group: GroupDTO | None = None
    status: str | None = None
    district: DistrictDTO | None = None
    answer: AnswerFilter | None = None

    def to_repo(self, scope: StaffScope) -> ApplicationFilter:
        """The repository's filter, limited to the staff member's centres."""
        return ApplicationFilter(
            course_id=self.course.id if self.course else None,
            group_id=self.group.id if self.group else None,
            status=self.status,
            district_id=self.district.id if self.district else None,
            centre_ids=scope.centre_ids,
            answer=(self.answer.question.id, self.answer.option.code) if self.answer else None,
        )

    def cb(self, action: AppsAction, *, export: int = 0, page: int = 0, **extra: int) -> AppsCB:
        return AppsCB(
            action=action,
            course=self.course.id if self.course else 0,
            group=self.group.id if self.group else 0,
            status=STATUS_CODES[self.status] if self.status else "",
            district=self.district.id if self.district else 0,
            page=page,
            export=export,
            question=self.answer.question.id if self.answer else 0,
            option=self.answer.place if self.answer else 0,
            **extra,
        )


async def choice_questions(
    repo: Repos, scope: StaffScope, course: CourseDTO | None
) -> list[QuestionDTO]:
    """The choice questions the course asks, or (no course chosen) any course of the
    staff member's centres asks."""
    course_ids = [course.id] if course else [c.id for c in await courses_in_scope(repo, scope)]
    return [q for q in await repo.outcomes.asked_by(course_ids) if q.is_choice]


async def load_filter(repo: Repos, data: AppsCB, scope: StaffScope) -> Filter | str:
    """The filter a button names, or the key of the message refusing it: a part of it is
    stale, forged or names a course outside the staff member's centres."""
    course = group = district = answer = None
    if data.course:
        course = await course_in_scope(repo, scope, data.course)
        if course is None:
            return STALE
    if data.group:
        group = await repo.catalogue.group(data.group)
        if group is None or course is None or group.course_id != course.id:
            return STALE
    status = None
    if data.status:
        status = CODE_STATUSES.get(data.status)
        if status is None:
            return STALE
    if data.district:
        district = await repo.catalogue.district(data.district)
        if district is None:
            return STALE
    if data.page < 0 or data.export not in (0, 1):
        return STALE
    if data.question or data.option:
        # The catalogue may have changed the question or its options since the button.
        questions = {q.id: q for q in await choice_questions(repo, scope, course)}
        question = questions.get(data.question)
        if question is None or not 1 <= data.option <= len(question.options):
            return ANSWER_STALE
        answer = AnswerFilter(question, data.option)
    return Filter(course, group, status, district, answer)


async def filter_or_refuse(
    t: BoundTranslator,
    repo: Repos,
    data: AppsCB,
    scope: StaffScope,
    callback_answer: CallbackAnswer,
) -> Filter | None:
    """The checked filter of a pressed button, or None after saying why it is refused."""
    checked = await load_filter(repo, data, scope)
    if isinstance(checked, str):
        alert(callback_answer, t.plain(checked))
        return None
    return checked


def describe(t: BoundTranslator, flt: Filter) -> str:
    text = t(
        "staff-apps-filter",
        course=t.pick(flt.course.title) if flt.course else t.plain("staff-any"),
        group=t.pick(flt.group.name) if flt.group else t.plain("staff-any"),
        status=status_label(t, flt.status) if flt.status else t.plain("staff-any"),
        district=t.pick(flt.district.name) if flt.district else t.plain("staff-any"),
    )
    if flt.answer is not None:
        text += "\n" + t(
            "staff-apps-filter-answer",
            question=clip(t.pick(flt.answer.question.text), 60),
            answer=clip(t.pick(flt.answer.option.text), 40),
        )
    return text


def button(text: str, data: AppsCB) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text[:64], callback_data=data.pack())


async def filters_view(
    t: BoundTranslator, repo: Repos, flt: Filter, export: int, scope: StaffScope
) -> tuple[str, InlineKeyboardMarkup]:
    total = await repo.applications.count(flt.to_repo(scope))
    header = t("export-header") if export else t("staff-apps-header")
    text = f"{header}\n\n{describe(t, flt)}\n{t.n('staff-apps-found', total)}"
    any_ = t.plain("staff-any")
    rows = [
        [
            button(
                t.plain("staff-btn-course", value=t.pick(flt.course.title) if flt.course else any_),
                flt.cb(AppsAction.courses, export=export),
            ),
        ],
        [
            button(
                t.plain(
                    "staff-btn-status", value=status_label(t, flt.status) if flt.status else any_
                ),
                flt.cb(AppsAction.statuses, export=export),
            ),
            button(
                t.plain(
                    "staff-btn-district", value=t.pick(flt.district.name) if flt.district else any_
                ),
                flt.cb(AppsAction.districts, export=export),
            ),
        ],
    ]
    if flt.course is not None:
        rows[0].append(
            button(
                t.plain("staff-btn-group", value=t.pick(flt.group.name) if flt.group else any_),
                flt.cb(AppsAction.groups, export=export),
            )
        )
    if flt.answer is not None or await choice_questions(repo, scope, flt.course):
        value = clip(t.pick(flt.answer.option.text), 24) if flt.answer else any_
        rows.append(
            [
                button(
                    t.plain("staff-btn-answer", value=value),
                    flt.cb(AppsAction.questions, export=export),
                )
            ]
        )
    if export:
        if flt.status != "accepted":
            trainees = replace(flt, status="accepted")
            rows.append(
                [button(t.plain("export-btn-trainees"), trainees.cb(AppsAction.filters, export=1))]
            )
    else:
        rows.append([button(t.plain("staff-btn-show", count=total), flt.cb(AppsAction.list))])
    rows.append(
        [
            button(t.plain("export-btn-xlsx"), flt.cb(AppsAction.xlsx, export=export)),
            button(t.plain("export-btn-csv"), flt.cb(AppsAction.csv, export=export)),
        ]
    )
    rows.append([home_button(t)])
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def list_view(
    t: BoundTranslator, repo: Repos, flt: Filter, page: int, scope: StaffScope
) -> tuple[str, InlineKeyboardMarkup]:
    total = await repo.applications.count(flt.to_repo(scope))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages - 1)
    apps, total = await repo.applications.search(
        flt.to_repo(scope), limit=PAGE_SIZE, offset=page * PAGE_SIZE
    )
    courses = {c.id: c for c in await repo.catalogue.courses()}
    centres = await repo.catalogue.centres()
    cities = {c.id: t.pick(c.city) for c in centres}
    zones = {c.id: c.timezone for c in centres}
    groups: dict[int, GroupDTO | None] = {}
    districts: dict[int, str] = {}
    blocks = [
        t("staff-apps-page", page=page + 1, pages=pages, total=total),
        describe(t, flt),
    ]
    open_buttons = []
    for app in apps:
        if app.group_id and app.group_id not in groups:
            groups[app.group_id] = await repo.catalogue.group(app.group_id)
        if app.district_id and app.district_id not in districts:
            districts[app.district_id] = await district_label(t, repo, app.district_id)
        course = courses.get(app.course_id)
        group = groups.get(app.group_id) if app.group_id else None
        # Several centres teach the same course, and district names repeat across regions:
        # the centre's city and the district's region tell them apart.
        city = cities.get(course.centre_id, "—") if course else "—"
        blocks.append(
            t(
                "staff-apps-item",
                id=app.id,
                status=status_label(t, app.status),
                name=clip(app.full_name, 60),
                phone=app.phone,
                course=f"{clip(t.pick(course.title), 40)} ({clip(city, 20)})" if course else "—",
                group=clip(t.pick(group.name), 30) if group else "—",
                district=clip(districts.get(app.district_id or 0, "—"), 60),
                # The centre's local date, as on the card (not the UTC date).
                date=fmt_short_date(
                    local_date(app.created_at, zones.get(course.centre_id) if course else None),
                    t.locale,
                ),
            )
        )
        open_buttons.append(
            button(
                t.plain("staff-btn-open", id=app.id), flt.cb(AppsAction.open, page=page, id=app.id)
            )
        )
    if not apps:
        blocks.append(t("staff-apps-empty"))
    text = "\n\n".join(blocks)
    if len(text) > TEXT_LIMIT:  # never reached with the clipped fields; a last guard
        text = split_text(text)[0]
    markup = inline_rows(open_buttons, width=5)
    nav = []
    if page > 0:
        nav.append(button("◀️", flt.cb(AppsAction.list, page=page - 1)))
    if page < pages - 1:
        nav.append(button("▶️", flt.cb(AppsAction.list, page=page + 1)))
    if nav:
        markup.inline_keyboard.append(nav)
    markup.inline_keyboard.append(
        [button(t.plain("staff-btn-filters"), flt.cb(AppsAction.filters)), home_button(t)]
    )
    return text, markup


# ---- handlers ---------------------------------------------------------------------------


@router.callback_query(StaffMenuCB.filter(F.section == StaffSection.applications))
async def open_section(
    callback: CallbackQuery, t: BoundTranslator, repo: Repos, scope: StaffScope
) -> None:
    text, markup = await filters_view(t, repo, Filter(status="pending"), 0, scope)
    await show(callback, text, markup)


@router.callback_query(AppsCB.filter(F.action == AppsAction.filters))
async def on_filters(
    callback: CallbackQuery,
    callback_data: AppsCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    flt = await filter_or_refuse(t, repo, callback_data, scope, callback_answer)
    if flt is None:
        return
    text, markup = await filters_view(t, repo, flt, callback_data.export, scope)
    await show(callback, text, markup)


@router.callback_query(
    AppsCB.filter(
        F.action.in_(
            {AppsAction.courses, AppsAction.groups, AppsAction.statuses, AppsAction.districts}
        )
    )
)
async def on_pick(
    callback: CallbackQuery,
    callback_data: AppsCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    """A list of values for one part of the filter; each button is the new filter."""
    flt = await filter_or_refuse(t, repo, callback_data, scope, callback_answer)
    if flt is None:
        return
    export = callback_data.export
    action = callback_data.action
    any_ = t.plain("staff-any")
    choices: list[tuple[str, Filter]] = []
    if action is AppsAction.courses:
        key = "staff-pick-course"
        # A new course keeps the answer filter only if it asks that question too.
        asking = await repo.outcomes.courses_asking(flt.answer.question.id) if flt.answer else set()
        choices.append((any_, replace(flt, course=None, group=None)))
        names = await course_names(t, repo, scope)
        for course in (await courses_in_scope(repo, scope))[:PICKER_MAX]:
            answer = flt.answer if course.id in asking else None
            choices.append(
                (names[course.id], Filter(course, None, flt.status, flt.district, answer))
            )
    elif action is AppsAction.groups:
        if flt.course is None:
            stale(t, callback_answer)
            return
        key = "staff-pick-group"
        choices.append((any_, replace(flt, group=None)))
        for group in await repo.catalogue.groups(flt.course.id):
            label = t.plain(
                "staff-group-seats",
                group=t.pick(group.name),
                taken=group.seats_taken,
                capacity=group.capacity,
            )
            choices.append((label, replace(flt, group=group)))
    elif action is AppsAction.statuses:
        key = "staff-pick-status"
        choices.append((any_, replace(flt, status=None)))
        choices += [(status_label(t, s), replace(flt, status=s)) for s in STATUS_ORDER]
    else:
        key = "staff-pick-district"
        choices.append((any_, replace(flt, district=None)))
        counts = await repo.courses.districts_in_applications(
            course_id=flt.course.id if flt.course else None,
            group_id=flt.group.id if flt.group else None,
            centre_ids=scope.centre_ids,
        )
        for item in counts[:PICKER_MAX]:
            district = await repo.catalogue.district(int(item.key or 0))
            if district is not None:
                label = f"{t.pick(district.name)} ({item.count})"
                choices.append((label, replace(flt, district=district)))
    await show_picker(callback, t, t(key), choices, flt, export)


async def show_picker(
    callback: CallbackQuery,
    t: BoundTranslator,
    text: str,
    choices: list[tuple[str, Filter]],
    back: Filter | AppsCB,
    export: int,
) -> None:
    """A picker: one button per new filter, two a row, then Back."""
    buttons = [
        button(label, choice.cb(AppsAction.filters, export=export)) for label, choice in choices
    ]
    markup = inline_rows(buttons, width=2)
    back_data = back if isinstance(back, AppsCB) else back.cb(AppsAction.filters, export=export)
    markup.inline_keyboard.append([button(t.plain("btn-back"), back_data)])
    await show(callback, text, markup)


@router.callback_query(AppsCB.filter(F.action == AppsAction.questions))
async def on_pick_question(
    callback: CallbackQuery,
    callback_data: AppsCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    """The choice questions of the chosen course (or of the staff member's courses): one
    is picked, then one of its answers."""
    flt = await filter_or_refuse(t, repo, callback_data, scope, callback_answer)
    if flt is None:
        return
    export = callback_data.export
    questions = await choice_questions(repo, scope, flt.course)
    if not questions:
        alert(callback_answer, t.plain("staff-apps-no-questions"))
        return
    rows = [
        [
            button(
                t.plain("staff-any"),
                replace(flt, answer=None).cb(AppsAction.filters, export=export),
            )
        ]
    ]
    rows += [
        [button(clip(t.pick(q.text), 60), flt.cb(AppsAction.options, export=export, value=q.id))]
        for q in questions[:PICKER_MAX]
    ]
    rows.append([button(t.plain("btn-back"), flt.cb(AppsAction.filters, export=export))])
    await show(callback, t("staff-pick-question"), InlineKeyboardMarkup(inline_keyboard=rows))


@router.callback_query(AppsCB.filter(F.action == AppsAction.options))
async def on_pick_option(
    callback: CallbackQuery,
    callback_data: AppsCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    """The answers of one question, each with how many applications the filter finds
    with it."""
    flt = await filter_or_refuse(t, repo, callback_data, scope, callback_answer)
    if flt is None:
        return
    questions = {q.id: q for q in await choice_questions(repo, scope, flt.course)}
    question = questions.get(callback_data.value)
    if question is None:
        alert(callback_answer, t.plain(ANSWER_STALE))
        return
    choices = []
    for place, option in enumerate(question.options, start=1):
        choice = replace(flt, answer=AnswerFilter(question, place))
        count = await repo.applications.count(choice.to_repo(scope))
        choices.append((f"{t.pick(option.text)} ({count})", choice))
    back = flt.cb(AppsAction.questions, export=callback_data.export)
    text = t("staff-pick-option", question=t.pick(question.text))
    await show_picker(callback, t, text, choices, back, callback_data.export)


@router.callback_query(AppsCB.filter(F.action == AppsAction.list))
async def on_list(
    callback: CallbackQuery,
    callback_data: AppsCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    flt = await filter_or_refuse(t, repo, callback_data, scope, callback_answer)
    if flt is None:
        return
    text, markup = await list_view(t, repo, flt, callback_data.page, scope)
    await show(callback, text, markup)


@router.callback_query(AppsCB.filter(F.action == AppsAction.open))
async def on_open(
    callback: CallbackQuery,
    callback_data: AppsCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    flt = await filter_or_refuse(t, repo, callback_data, scope, callback_answer)
    if flt is None:
        return
    app = await application_in_scope(repo, scope, callback_data.id)
    if app is None:
        stale(t, callback_answer)
        return
    back = flt.cb(AppsAction.list, page=callback_data.page).pack()
    await show(callback, await card_text(t, repo, app), card_markup(t, app, back))


@router.callback_query(AppsCB.filter(F.action == AppsAction.move))
async def on_move(
    callback: CallbackQuery,
    callback_data: AppsCB,
    t: BoundTranslator,
    repo: Repos,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    """The other groups of the trainee's course, with their free seats."""
    flt = await filter_or_refuse(t, repo, callback_data, scope, callback_answer)
    if flt is None:
        return
    app = await application_in_scope(repo, scope, callback_data.id)
    if app is None:
        stale(t, callback_answer)
        return
    if app.status != "accepted":
        alert(
            callback_answer, t.plain("staff-move-not-accepted", status=status_label(t, app.status))
        )
        return
    buttons = [
        button(
            t.plain(
                "staff-group-seats", group=t.pick(g.name), taken=g.seats_taken, capacity=g.capacity
            ),
            flt.cb(AppsAction.move_to, page=callback_data.page, id=app.id, value=g.id),
        )
        for g in await repo.catalogue.groups(app.course_id)
        if g.id != app.group_id
    ]
    if not buttons:
        alert(callback_answer, t.plain("staff-move-no-groups"))
        return
    markup = inline_rows(buttons)
    markup.inline_keyboard.append(
        [button(t.plain("btn-back"), flt.cb(AppsAction.open, page=callback_data.page, id=app.id))]
    )
    await show(callback, t("staff-move-pick", id=app.id, name=app.full_name), markup)


@router.callback_query(AppsCB.filter(F.action == AppsAction.move_to))
async def on_move_to(
    callback: CallbackQuery,
    callback_data: AppsCB,
    user: UserDTO,
    t: BoundTranslator,
    translator: Translator,
    repo: Repos,
    settings: Settings,
    bot: Bot,
    callback_answer: CallbackAnswer,
    scope: StaffScope,
) -> None:
    flt = await filter_or_refuse(t, repo, callback_data, scope, callback_answer)
    if flt is None:
        return
    app = await application_in_scope(repo, scope, callback_data.id)
    group = await repo.catalogue.group(callback_data.value)
    if app is None or group is None or group.course_id != app.course_id:
        stale(t, callback_answer)
        return
    try:
        outcome = await repo.applications.move(app.id, actor_id=user.id, group_id=group.id)
    except EnrolmentError as exc:
        keys = {
            "full": "staff-move-full-hint",
            "already": "staff-move-already",
            "not_accepted": "staff-move-not-accepted",
        }
        current = exc.application or app
        alert(
            callback_answer,
            t.plain(
                keys.get(exc.code, "error-stale-button"), status=status_label(t, current.status)
            ),
        )
        return
    moved = outcome.application
    delivered = await notify_applicant(bot, translator, repo, moved, "moved")
    await refresh_staff_message(bot, settings, translator, repo, moved)
    await announce_promotions(bot, settings, translator, repo, outcome.promoted)
    back = flt.cb(AppsAction.list, page=callback_data.page).pack()
    await show(callback, await card_text(t, repo, moved), card_markup(t, moved, back))
    told = t.plain("staff-applicant-told" if delivered else "staff-applicant-not-told")
    callback_answer.text = f"{t.plain('staff-done-moved', group=t.pick(group.name))} {told}"
