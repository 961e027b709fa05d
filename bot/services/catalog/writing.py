"""``apply_catalog``: upsert parsed catalogue data by ``code`` in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.catalog.model import (
    CatalogData,
    CatalogError,
    Counts,
    CourseData,
    GroupData,
    ImportReport,
    SessionData,
    moved_forward,
)
from bot.services.catalog.parsing import parse_catalog
from bot.services.catalog.problems import (
    KIND_CENTRE,
    KIND_COURSE,
    KIND_GROUP,
    KIND_QUESTION,
    KIND_REGION,
    Problem,
    Text,
    coded,
    say,
    suggest,
)
from db.database import Database
from db.dto import SessionDTO
from db.models import (
    Centre,
    CentreFaq,
    ClassSession,
    Course,
    CourseQuestion,
    District,
    Group,
    Question,
    Region,
)

_M = TypeVar("_M", Region, District, Centre, Course, Group, ClassSession, Question)
_CHUNK = 500


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = sorted(values)
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _assign(row: object, values: dict[str, Any]) -> bool:
    """Set the attributes that differ; True when anything changed."""
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


class _Applier:
    def __init__(self, session: AsyncSession, data: CatalogData) -> None:
        self.s = session
        self.data = data
        self.report = ImportReport(warnings=data.warnings)
        self.problems: list[Problem] = []
        self.unchanged_courses: set[str] = set()

    def err(self, line: int, where: Text, message: Text) -> None:
        self.problems.append(Problem(line, (where,), message))

    async def by_code(self, model: type[_M], codes: Iterable[str]) -> dict[str, _M]:
        out: dict[str, _M] = {}
        for chunk in _chunks(set(codes)):
            rows = await self.s.scalars(select(model).where(model.code.in_(chunk)))
            out.update({row.code: row for row in rows if row.code is not None})
        return out

    async def by_id(self, model: type[_M], ids: Iterable[int]) -> dict[int, _M]:
        out: dict[int, _M] = {}
        for chunk in _chunks(set(ids)):
            rows = await self.s.scalars(select(model).where(model.id.in_(chunk)))
            out.update({row.id: row for row in rows})
        return out

    async def unknown(
        self,
        model: type[Region] | type[Centre] | type[Course] | type[Question],
        kind: Text,
        code: str,
        in_file: Iterable[str],
    ) -> Text:
        known = set(in_file) | set(await self.s.scalars(select(model.code)))
        found = say("catalog-err-not-found", kind=kind, code=code)
        return found.and_then(suggest(code, known))

    async def run(self) -> ImportReport:
        d = self.data
        file_regions = {r.code: r for r in d.regions}
        file_centres = {c.code: c for c in d.centres}
        file_courses = {c.code: c for c in d.courses}

        # ---- read what the database already holds
        regions = await self.by_code(Region, [*file_regions, *(c.region for c in d.centres)])
        districts = await self.by_code(District, (x.code for x in d.districts))
        centres = await self.by_code(Centre, [*file_centres, *(c.centre for c in d.courses)])
        courses = await self.by_code(
            Course, [*file_courses, *(g.course for g in d.groups if g.course)]
        )
        groups = await self.by_code(Group, (g.code for g in d.groups))
        courses_by_id = {c.id: c for c in courses.values()}
        courses_by_id |= await self.by_id(
            Course, {g.course_id for g in groups.values()} - set(courses_by_id)
        )
        centres_by_id = {c.id: c for c in centres.values()}
        centres_by_id |= await self.by_id(
            Centre, {c.centre_id for c in courses_by_id.values()} - set(centres_by_id)
        )

        # ---- check references and rules that need the database
        for c in d.centres:
            if c.region not in file_regions and c.region not in regions:
                msg = await self.unknown(Region, KIND_REGION, c.region, file_regions)
                self.err(c.region_line, coded(KIND_CENTRE, c.code), msg)
        for k in d.courses:
            if k.centre not in file_centres and k.centre not in centres:
                msg = await self.unknown(Centre, KIND_CENTRE, k.centre, file_centres)
                self.err(k.centre_line, coded(KIND_COURSE, k.code), msg)
        for g in d.groups:
            await self._check_group(g, groups.get(g.code), file_courses, courses, courses_by_id)
        file_questions = {q.code for q in d.questions}
        questions = await self.by_code(
            Question, [*file_questions, *(c for k in d.courses for c in k.questions or ())]
        )
        for k in d.courses:
            for qcode in k.questions or ():
                if qcode not in file_questions and qcode not in questions:
                    msg = await self.unknown(Question, KIND_QUESTION, qcode, file_questions)
                    self.err(k.questions_line or k.line, coded(KIND_COURSE, k.code), msg)

        # Which time zone each group's classes are in: the file wins over the database.
        course_centre = {c.code: centres_by_id[c.centre_id].code for c in courses_by_id.values()}
        course_centre |= {k.code: k.centre for k in d.courses}
        centre_tz = {c.code: c.timezone for c in centres_by_id.values()}
        centre_tz |= {c.code: c.timezone for c in d.centres}
        planned: list[tuple[GroupData, SessionData, datetime, datetime]] = []
        if not self.problems:
            for g in d.groups:
                if not g.sessions:
                    continue
                db_group = groups.get(g.code)
                course_code = g.course or (
                    courses_by_id[db_group.course_id].code if db_group else None
                )
                centre_code = course_centre.get(course_code or "")
                tz_name = centre_tz.get(centre_code or "")
                tz = self._zone(tz_name, g)
                if tz is None:
                    continue
                for s in g.sessions:
                    times = self._utc(s, tz, g)
                    if times is not None:
                        planned.append((g, s, *times))

        # Classes already stored: by code, and (for classes without a code) by group.
        existing_by_code = await self.by_code(
            ClassSession, (s.code for _, s, _, _ in planned if s.code)
        )
        db_group_ids = {groups[g.code].id for g, _, _, _ in planned if g.code in groups}
        existing_by_group: dict[int, list[ClassSession]] = {}
        for chunk in _chunks(db_group_ids):
            rows = await self.s.scalars(
                select(ClassSession)
                .where(ClassSession.group_id.in_(chunk))
                .order_by(ClassSession.id)
            )
            for row in rows:
                existing_by_group.setdefault(row.group_id, []).append(row)
        for g, s, _, _ in planned:
            stored = existing_by_code.get(s.code) if s.code else None
            db_group = groups.get(g.code)
            if stored is not None and (db_group is None or stored.group_id != db_group.id):
                self.err(
                    s.line,
                    coded(KIND_GROUP, g.code),
                    say("catalog-err-class-code-taken", code=str(s.code)),
                )
        if self.problems:
            problems = sorted(self.problems, key=lambda problem: problem.line)
            raise CatalogError(problems, d.filename)

        # ---- write
        await self._write_regions(regions, districts)
        await self._write_centres(centres, regions)
        await self._write_questions(questions)
        await self._write_courses(courses, centres)
        await self._write_course_questions(courses, questions)
        await self._write_groups(groups, courses)
        await self._write_sessions(planned, groups, existing_by_code, existing_by_group)
        return self.report

    async def _check_group(
        self,
        g: GroupData,
        row: Group | None,
        file_courses: dict[str, CourseData],
        courses: dict[str, Course],
        courses_by_id: dict[int, Course],
    ) -> None:
        where = coded(KIND_GROUP, g.code)
        if g.course and g.course not in file_courses and g.course not in courses:
            msg = await self.unknown(Course, KIND_COURSE, g.course, file_courses)
            self.err(g.course_line or g.line, where, msg)
            return
        if row is None and g.course is None and g.name is None and g.capacity is None:
            known = {x.code for x in self.data.groups} | set(
                await self.s.scalars(select(Group.code))
            )
            known.discard(g.code)
            self.err(
                g.line, where, say("catalog-err-no-such-group").and_then(suggest(g.code, known))
            )
            return
        if row is None:
            missing = [
                key
                for key, value in (("course", g.course), ("name", g.name), ("capacity", g.capacity))
                if value is None
            ]
            if missing:
                self.err(
                    g.line, where, say("catalog-err-new-group-needs", missing=", ".join(missing))
                )
            return
        current_course = courses_by_id[row.course_id].code
        if g.course and g.course != current_course:
            self.err(
                g.course_line or g.line,
                where,
                say("catalog-err-group-course-fixed", course=current_course),
            )
        if g.capacity is not None and g.capacity < row.seats_taken:
            self.err(
                g.line,
                where,
                say("catalog-err-capacity-below-taken", capacity=g.capacity, taken=row.seats_taken),
            )

    def _zone(self, name: str | None, g: GroupData) -> ZoneInfo | None:
        if name is None:
            self.err(g.line, coded(KIND_GROUP, g.code), say("catalog-err-no-zone"))
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.err(g.line, coded(KIND_GROUP, g.code), say("catalog-err-zone-unknown", zone=name))
            return None

    def _utc(self, s: SessionData, tz: ZoneInfo, g: GroupData) -> tuple[datetime, datetime] | None:
        starts, ends = s.starts_at(tz), s.ends_at(tz)
        for local, utc in ((s.local_start(), starts), (s.local_end(), ends)):
            if utc.astimezone(tz).replace(tzinfo=None) != local:
                self.err(
                    s.line,
                    coded(KIND_GROUP, g.code),
                    say("catalog-err-no-such-time", at=f"{local:%Y-%m-%d %H:%M}", zone=tz.key),
                )
                return None
        return starts, ends

    def _upsert(
        self, kind: str, rows: dict[str, _M], model: type[_M], code: str, values: dict[str, Any]
    ) -> bool:
        """One row by its code: added when ``rows`` (what the database holds) has none,
        else given the values that differ; counted under ``kind`` of the report. True
        when the row is new or changed."""
        row = rows.get(code)
        if row is None:
            rows[code] = model(code=code, **values)
            self.s.add(rows[code])
            self._count(kind, True, True)
            return True
        changed = _assign(row, values)
        self._count(kind, False, changed)
        return changed

    def _count(self, kind: str, created: bool, changed: bool) -> None:
        counts: Counts = getattr(self.report, kind)
        if created:
            counts.created += 1
        elif changed:
            counts.updated += 1
        else:
            counts.unchanged += 1

    async def _write_regions(
        self, regions: dict[str, Region], districts: dict[str, District]
    ) -> None:
        for r in self.data.regions:
            values = {"country": r.country, "kind": r.kind, "name": r.name, "sort": r.sort}
            self._upsert("regions", regions, Region, r.code, values)
        await self.s.flush()
        for r in self.data.regions:
            region_id = regions[r.code].id
            for x in r.districts:
                values = {"region_id": region_id, "name": x.name, "sort": x.sort}
                self._upsert("districts", districts, District, x.code, values)
        await self.s.flush()

    async def _write_centres(self, centres: dict[str, Centre], regions: dict[str, Region]) -> None:
        for c in self.data.centres:
            values = {
                "region_id": regions[c.region].id,
                "name": c.name,
                "city": c.city,
                "address": c.address,
                "latitude": c.latitude,
                "longitude": c.longitude,
                "timezone": c.timezone,
                "sort": c.sort,
            }
            if c.contacts is not None:
                values["contacts"] = c.contacts
            self._upsert("centres", centres, Centre, c.code, values)
        await self.s.flush()
        for c in self.data.centres:
            if c.faq is not None:  # given in the file: it replaces what is stored
                centre_id = centres[c.code].id
                await self.s.execute(delete(CentreFaq).where(CentreFaq.centre_id == centre_id))
                for sort, (question, answer) in enumerate(c.faq):
                    self.s.add(
                        CentreFaq(centre_id=centre_id, question=question, answer=answer, sort=sort)
                    )
        await self.s.flush()

    async def _write_courses(self, courses: dict[str, Course], centres: dict[str, Centre]) -> None:
        for k in self.data.courses:
            values = {
                "centre_id": centres[k.centre].id,
                "title": k.title,
                "description": k.description,
                "languages": ",".join(k.languages),
                "duration_weeks": k.duration_weeks,
                "modules": k.modules,
                "certificate": k.certificate,
                "start_date": k.start_date,
                "enrolment_open": k.enrolment_open,
                "free_of_charge": k.free_of_charge,
                "sort": k.sort,
            }
            if not self._upsert("courses", courses, Course, k.code, values):
                self.unchanged_courses.add(k.code)
        await self.s.flush()

    async def _write_questions(self, questions: dict[str, Question]) -> None:
        for q in self.data.questions:
            values = {
                "kind": q.kind,
                "text": q.text,
                "options": q.options_json(),
                "required": q.required,
                "min_value": q.min_value,
                "max_value": q.max_value,
                "sort": q.sort,
            }
            self._upsert("questions", questions, Question, q.code, values)
        await self.s.flush()

    async def _write_course_questions(
        self, courses: dict[str, Course], questions: dict[str, Question]
    ) -> None:
        """A course that lists ``questions`` asks exactly those, in that order."""
        for k in self.data.courses:
            if k.questions is None:
                continue
            course_id = courses[k.code].id
            wanted = {questions[code].id: i for i, code in enumerate(k.questions)}
            rows = await self.s.scalars(
                select(CourseQuestion).where(CourseQuestion.course_id == course_id)
            )
            changed = False
            for row in rows:
                if row.question_id not in wanted:
                    await self.s.delete(row)
                    changed = True
                else:
                    sort = wanted.pop(row.question_id)
                    changed = _assign(row, {"sort": sort}) or changed
            for question_id, sort in wanted.items():
                self.s.add(CourseQuestion(course_id=course_id, question_id=question_id, sort=sort))
                changed = True
            if changed and k.code in self.unchanged_courses:
                # The course row itself was unchanged, but what it asks changed.
                self.unchanged_courses.discard(k.code)
                self.report.courses.unchanged -= 1
                self.report.courses.updated += 1
        await self.s.flush()

    async def _write_groups(self, groups: dict[str, Group], courses: dict[str, Course]) -> None:
        for g in self.data.groups:
            values: dict[str, Any] = {}
            if g.course is not None:
                values["course_id"] = courses[g.course].id
            if g.name is not None:
                values["name"] = g.name
            if g.capacity is not None:
                values["capacity"] = g.capacity
            # seats_taken is left to its default (0) on a new group and never written here.
            self._upsert("groups", groups, Group, g.code, values)
        await self.s.flush()

    async def _write_sessions(
        self,
        planned: list[tuple[GroupData, SessionData, datetime, datetime]],
        groups: dict[str, Group],
        existing_by_code: dict[str, ClassSession],
        existing_by_group: dict[int, list[ClassSession]],
    ) -> None:
        claimed: set[int] = {row.id for row in existing_by_code.values()}

        def free_row_at(
            group_id: int, starts_at: datetime, *, uncoded: bool
        ) -> ClassSession | None:
            for row in existing_by_group.get(group_id, []):
                if row.id in claimed or row.starts_at != starts_at:
                    continue
                if uncoded and row.code is not None:
                    continue
                claimed.add(row.id)
                return row
            return None

        # Classes with a code first, so that a class without one never takes their row.
        ordered = sorted(planned, key=lambda item: item[1].code is None)
        for g, s, starts_at, ends_at in ordered:
            group_id = groups[g.code].id
            values: dict[str, Any] = {"starts_at": starts_at, "ends_at": ends_at}
            if s.room is not None:
                values["room"] = s.room
            if s.cancelled is not None:
                values["cancelled"] = s.cancelled
            row = existing_by_code.get(s.code) if s.code else None
            if row is None:
                # A class stored without a code at the same time is this class: adopt it
                # rather than adding a twin.
                row = free_row_at(group_id, starts_at, uncoded=s.code is not None)
                if row is not None and s.code is not None:
                    values["code"] = s.code
            if row is None:
                self.s.add(
                    ClassSession(
                        code=s.code,
                        group_id=group_id,
                        starts_at=starts_at,
                        ends_at=ends_at,
                        room=s.room,
                        cancelled=bool(s.cancelled),
                    )
                )
                self._count("sessions", True, True)
            else:
                self._count("sessions", False, _assign(row, values))
        await self.s.flush()


async def apply_catalog(db: Database, data: CatalogData) -> ImportReport:
    """Upsert parsed catalogue data in one transaction; nothing is written on error."""
    async with db.transaction() as session:
        return await _Applier(session, data).run()


class _DryRun(Exception):  # noqa: N818 - control flow, not an error
    """Raised inside the preview's transaction so that it rolls back."""

    def __init__(self, report: ImportReport, sessions: list[SessionDTO]) -> None:
        super().__init__("dry run")
        self.report = report
        self.sessions = sessions


async def preview_catalog(db: Database, data: CatalogData) -> tuple[ImportReport, list[SessionDTO]]:
    """What importing ``data`` would do, without writing anything: the report and the
    classes of the file's groups as they would be (new ones with ids that are not kept).
    Raises ``CatalogError`` as ``apply_catalog`` would."""
    codes = [g.code for g in data.groups]
    try:
        async with db.transaction() as session:
            report = await _Applier(session, data).run()
            await session.flush()
            rows = await session.scalars(
                select(ClassSession).join(Group).where(Group.code.in_(codes))
            )
            after = [
                SessionDTO(
                    id=r.id,
                    code=r.code,
                    group_id=r.group_id,
                    starts_at=r.starts_at,
                    ends_at=r.ends_at,
                    room=r.room,
                    cancelled=r.cancelled,
                )
                for r in rows
            ]
            raise _DryRun(report, after)
    except _DryRun as done:
        return done.report, done.sessions


async def import_catalog(
    db: Database, path: Path, *, dates_from: date | None = None
) -> ImportReport:
    """Read, check and import a catalogue file (also a partial one, e.g. only groups).
    With ``dates_from``, its dates are moved forward to that week (``moved_forward``)."""
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = Problem(0, (), say("catalog-err-not-utf8"))
        raise CatalogError([problem], path.name) from exc
    except OSError as exc:
        problem = Problem(0, (), say("catalog-err-cannot-read", problem=exc.strerror or str(exc)))
        raise CatalogError([problem], str(path)) from exc
    catalog = parse_catalog(text, path.name)
    if dates_from is not None:
        catalog = moved_forward(catalog, dates_from)
    return await apply_catalog(db, catalog)
