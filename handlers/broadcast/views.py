"""The audience in words and buttons: its filters, the audience screen and the pickers."""

from __future__ import annotations

from dataclasses import replace

from aiogram.types import (
    InlineKeyboardMarkup,
)

from bot.config import Settings
from bot.i18n import LANGUAGE_NAMES, BoundTranslator
from db.dto import Audience, CentreDTO, CountDTO, RegionDTO
from db.repo import Repos
from handlers.broadcast.base import PICK_MAX, STATUSES, BcAction, bc_button

# ---- audience: text and data -------------------------------------------------------------


async def audience_centre(repo: Repos, audience: Audience) -> CentreDTO | None:
    """The centre whose time zone places a schedule: the chosen course's, else the first."""
    course_id = audience.course_id
    if course_id is None and audience.group_id is not None:
        group = await repo.catalogue.group(audience.group_id)
        course_id = group.course_id if group else None
    if course_id is not None:
        course = await repo.catalogue.course(course_id)
        if course is not None:
            return await repo.catalogue.centre(course.centre_id)
    centres = await repo.catalogue.centres()
    return centres[0] if centres else None


async def filter_values(t: BoundTranslator, repo: Repos, audience: Audience) -> dict[str, str]:
    """Each filter's value as staff read it ("" when not set)."""
    values = dict.fromkeys("lcgds", "")
    if audience.locale:
        values["l"] = LANGUAGE_NAMES.get(audience.locale, audience.locale)
    if audience.course_id is not None:
        course = await repo.catalogue.course(audience.course_id)
        values["c"] = t.pick(course.title) if course else f"#{audience.course_id}"
    if audience.group_id is not None:
        group = await repo.catalogue.group(audience.group_id)
        values["g"] = t.pick(group.name) if group else f"#{audience.group_id}"
    if audience.district_id is not None:
        district = await repo.catalogue.district(audience.district_id)
        values["d"] = t.pick(district.name) if district else f"#{audience.district_id}"
    if audience.status:
        values["s"] = t.plain("status-" + audience.status)
    return values


FILTER_KEYS = {
    "l": "broadcast-filter-language",
    "c": "broadcast-filter-course",
    "g": "broadcast-filter-group",
    "d": "broadcast-filter-district",
    "s": "broadcast-filter-status",
}
BUTTON_KEYS = {
    "l": "broadcast-btn-language",
    "c": "broadcast-btn-course",
    "g": "broadcast-btn-group",
    "d": "broadcast-btn-district",
    "s": "broadcast-btn-status",
}
PICK_KEYS = {
    "l": "broadcast-pick-language",
    "c": "broadcast-pick-course",
    "g": "broadcast-pick-group",
    "d": "broadcast-pick-district",
    "s": "broadcast-pick-status",
}


async def describe(
    t: BoundTranslator, repo: Repos, audience: Audience, *, reach: bool = False
) -> str:
    """ "everyone who uses the bot" or "language: … · course: …" (plain text); with
    ``reach``, the centres' announcement reach as a programme admin set it now."""
    values = await filter_values(t, repo, audience)
    parts = [t.plain(FILTER_KEYS[dim], value=value) for dim, value in values.items() if value]
    text = " · ".join(parts) if parts else t.plain("broadcast-filter-everyone")
    if audience.centres is None:
        return text
    centres = {c.id: c for c in await repo.catalogue.centres()}
    ours = [centres[c] for c in audience.centres if c in centres]
    reaches = await repo.broadcasts.reaches(audience.centres) if reach else {}
    if audience.course_id is not None or audience.group_id is not None or audience.status:
        reaches = {}  # filters about the centres' own applications: no widening
    return f"{text} · {reach_limit(t, ours, reaches, await repo.catalogue.regions())}"


def reach_limit(
    t: BoundTranslator,
    centres: list[CentreDTO],
    reaches: dict[int, str],
    regions: list[RegionDTO],
) -> str:
    """Whom announcements limited to these centres reach, in words."""
    if any(reaches.get(c.id) == "everyone" for c in centres):
        return t.plain("centres-reach-limit-everyone")
    names = {r.id: t.pick(r.name) for r in regions}
    parts = []
    only = [t.pick(c.city) for c in centres if c.id not in reaches]
    if only or not centres:
        parts.append(t.plain("centres-audience-limit", centres=", ".join(only) or "—"))
    for c in centres:
        if reaches.get(c.id) == "region":
            parts.append(
                t.plain(
                    "centres-reach-limit-region",
                    centre=t.pick(c.city),
                    region=names.get(c.region_id, "—"),
                )
            )
    return "; ".join(parts)


async def audience_view(
    t: BoundTranslator, repo: Repos, settings: Settings, audience: Audience, author_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    count = await repo.broadcasts.audience_count(
        audience, settings.default_locale, author_id=author_id
    )
    values = await filter_values(t, repo, audience)
    any_ = t.plain("broadcast-any")
    dims = ["l", "c", "g", "d", "s"] if audience.course_id is not None else ["l", "c", "d", "s"]
    filters = [
        bc_button(t.plain(BUTTON_KEYS[dim], value=values[dim] or any_), BcAction.pick, dim=dim)
        for dim in dims
    ]
    rows = [[bc_button(t.plain("broadcast-audience-all"), BcAction.everyone)]]
    rows += [filters[i : i + 2] for i in range(0, len(filters), 2)]
    if not audience.is_everyone:
        rows.append([bc_button(t.plain("broadcast-btn-reset"), BcAction.reset)])
    rows.append([bc_button(t.plain("broadcast-btn-continue", count=count), BcAction.done)])
    rows.append([bc_button(t.plain("broadcast-btn-quit"), BcAction.quit)])
    text = t(
        "broadcast-audience", filters=await describe(t, repo, audience, reach=True), count=count
    )
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def picker_view(
    t: BoundTranslator, repo: Repos, audience: Audience, dim: str
) -> tuple[str, InlineKeyboardMarkup] | None:
    options: list[tuple[str, str]] = []
    if dim == "l":
        options = [(code, name) for code, name in LANGUAGE_NAMES.items()]
    elif dim == "c":
        centres = {c.id: c for c in await repo.catalogue.centres()}
        courses = await repo.catalogue.courses()
        if audience.centres is not None:
            courses = [c for c in courses if c.centre_id in audience.centres]
        for course in courses[:PICK_MAX]:
            centre = centres.get(course.centre_id)
            suffix = f" · {t.pick(centre.city)}" if centre else ""
            options.append((str(course.id), t.pick(course.title) + suffix))
    elif dim == "g":
        if audience.course_id is None:
            return None
        groups = await repo.catalogue.groups(audience.course_id)
        options = [(str(g.id), t.pick(g.name)) for g in groups[:PICK_MAX]]
    elif dim == "d":
        named = await repo.courses.districts_in_applications(
            course_id=audience.course_id,
            group_id=audience.group_id,
            centre_ids=audience.centres,
        )
        named += await wider_districts(repo, audience, {int(i.key or 0) for i in named})
        for item in named[:PICK_MAX]:
            district = await repo.catalogue.district(int(item.key or 0))
            if district is not None:
                options.append((str(district.id), f"{t.pick(district.name)} ({item.count})"))
    elif dim == "s":
        options = [(status, t.plain("status-" + status)) for status in STATUSES]
    else:
        return None
    rows = [[bc_button(label, BcAction.set, dim=dim, value=value)] for value, label in options]
    rows.append([bc_button(t.plain("broadcast-pick-any"), BcAction.set, dim=dim, value="")])
    rows.append([bc_button(t.plain("broadcast-btn-back"), BcAction.filters)])
    return t(PICK_KEYS[dim]), InlineKeyboardMarkup(inline_keyboard=rows)


async def wider_districts(repo: Repos, audience: Audience, shown: set[int]) -> list[CountDTO]:
    """Districts a widened reach adds to the district picker (no course chosen): every
    district people named (reach ``everyone``), or those of the centres' regions."""
    if audience.centres is None or audience.course_id is not None:
        return []
    reaches = await repo.broadcasts.reaches(audience.centres)
    if not reaches:
        return []
    named = await repo.courses.districts_in_applications()
    if "everyone" not in reaches.values():
        centres = {c.id: c for c in await repo.catalogue.centres()}
        regions = {
            centres[c].region_id for c, r in reaches.items() if r == "region" and c in centres
        }
        districts = {d.id for r in regions for d in await repo.catalogue.districts(r)}
        named = [i for i in named if int(i.key or 0) in districts]
    return [i for i in named if int(i.key or 0) not in shown]


def with_filter(audience: Audience, dim: str, value: str) -> Audience | None:
    """The audience with one filter changed; None if the value makes no sense."""
    number = int(value) if value.isdigit() else None
    if value and dim in "cgd" and number is None:
        return None
    if dim == "l":
        if value and value not in LANGUAGE_NAMES:
            return None
        return replace(audience, locale=value or None)
    if dim == "c":  # a group belongs to a course: changing the course drops it
        return replace(audience, course_id=number, group_id=None)
    if dim == "g":
        return replace(audience, group_id=number)
    if dim == "d":
        return replace(audience, district_id=number)
    if dim == "s":
        if value and value not in STATUSES:
            return None
        return replace(audience, status=value or None)
    return None
