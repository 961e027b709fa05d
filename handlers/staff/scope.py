"""The centre check every staff route makes: a row outside the staff member's centres is
treated exactly like a row that does not exist (the button is stale, nothing changes).

``scope`` is injected by ``RoleFilter`` from the user context loaded once per update;
these helpers load the row the button names and return it only if its centre is in scope.
"""

from __future__ import annotations

from bot.i18n import BoundTranslator
from db.dto import (
    ApplicationDTO,
    CentreDTO,
    CourseDTO,
    GroupContextDTO,
    GroupDTO,
    SessionDTO,
    StaffScope,
)
from db.repo import Repos


def centre_label(t: BoundTranslator, centre: CentreDTO) -> str:
    """A centre on a button: its city first (names are long), clipped for small screens."""
    text = f"{t.pick(centre.city)} · {t.pick(centre.name)}"
    return text if len(text) <= 48 else text[:47] + "…"


async def course_in_scope(repo: Repos, scope: StaffScope, course_id: int) -> CourseDTO | None:
    course = await repo.catalogue.course(course_id) if course_id else None
    return course if course is not None and scope.allows(course.centre_id) else None


async def group_in_scope(repo: Repos, scope: StaffScope, group_id: int) -> GroupDTO | None:
    group = await repo.catalogue.group(group_id) if group_id else None
    if group is None or await course_in_scope(repo, scope, group.course_id) is None:
        return None
    return group


async def context_in_scope(
    repo: Repos, scope: StaffScope, group_id: int | None
) -> GroupContextDTO | None:
    """A group with its course and centre, if the centre is in scope."""
    context = await repo.courses.group_context(group_id) if group_id else None
    return context if context is not None and scope.allows(context.centre.id) else None


async def session_in_scope(
    repo: Repos, scope: StaffScope, session_id: int
) -> tuple[SessionDTO, GroupContextDTO] | None:
    session = await repo.catalogue.session(session_id) if session_id else None
    context = await context_in_scope(repo, scope, session.group_id) if session else None
    return (session, context) if session is not None and context is not None else None


async def application_in_scope(
    repo: Repos, scope: StaffScope, application_id: int
) -> ApplicationDTO | None:
    app = await repo.applications.get(application_id) if application_id else None
    if app is None or await course_in_scope(repo, scope, app.course_id) is None:
        return None
    return app


async def centres_in_scope(repo: Repos, scope: StaffScope) -> list[CentreDTO]:
    return [c for c in await repo.catalogue.centres() if scope.allows(c.id)]


async def courses_in_scope(repo: Repos, scope: StaffScope) -> list[CourseDTO]:
    return [c for c in await repo.catalogue.courses() if scope.allows(c.centre_id)]
