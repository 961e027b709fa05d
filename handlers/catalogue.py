"""The course catalogue: centres → courses → a course card, with the centre's location."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer

from bot.callbacks import CatAction, CatCB, MyAction, MyCB
from bot.config import Settings
from bot.contacts import contacts_lines
from bot.filters import PrivateChat, TextKey
from bot.formatting import course_card
from bot.i18n import BoundTranslator, escape
from bot.keyboards import inline_rows
from bot.navigation import leave_form
from bot.routing import FeatureRouter
from bot.telegram_utils import show
from db.dto import CentreDTO, RegionDTO, UserDTO
from db.repo import Repos

router = FeatureRouter(__name__)
router.message.filter(PrivateChat())
router.callback_query.filter(PrivateChat())


FLAGS = {"KZ": "🇰🇿", "KG": "🇰🇬", "UZ": "🇺🇿", "TJ": "🇹🇯", "TM": "🇹🇲"}


def centre_button(t: BoundTranslator, centre: CentreDTO) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=t.plain("catalogue-centre-button", name=t.pick(centre.name), city=t.pick(centre.city)),
        callback_data=CatCB(action=CatAction.centre, id=centre.id).pack(),
    )


# Up to this many centres, the first screen lists them all (grouped by region in the
# text, one tap to a centre); more than that, it asks for the region first.
CENTRES_ON_FIRST_SCREEN = 8


async def home_region(repo: Repos, user: UserDTO | None) -> int | None:
    """The region of the district the person named in their latest application, if any.
    Asked only of someone who has consented (nobody applies before): a first visit costs
    no query; the district comes from the in-memory catalogue."""
    if user is None or user.consent_at is None:
        return None
    for app in await repo.applications.for_user(user.id):  # newest first
        if app.district_id is not None:
            district = await repo.catalogue.district(app.district_id)
            if district is not None:
                return district.region_id
    return None


async def centres_view(
    t: BoundTranslator, repo: Repos, user: UserDTO | None = None
) -> tuple[str, InlineKeyboardMarkup]:
    """The first screen: centres grouped by country and region (a flag each). A small
    network shows its centres right away; a large one asks for the region first. Once a
    person's district is known (an earlier application), their region comes first."""
    centres = await repo.catalogue.centres()
    if not centres:
        return t("catalogue-empty"), InlineKeyboardMarkup(inline_keyboard=[])
    regions = {r.id: r for r in await repo.catalogue.regions()}
    # Stable grouping: countries and regions in the order their first centre comes.
    groups: dict[int, list[CentreDTO]] = {}
    for c in centres:
        groups.setdefault(c.region_id, []).append(c)
    countries = list(dict.fromkeys(regions[r].country for r in groups if r in regions))
    order = sorted(
        groups,
        key=lambda r: countries.index(regions[r].country) if r in regions else len(countries),
    )
    home = await home_region(repo, user) if len(order) > 1 else None
    if home not in groups:
        home = None
    else:
        order.remove(home)
        order.insert(0, home)
    near = (
        [t("catalogue-your-region-first", region=region_name(t, regions.get(home)))]
        if home is not None
        else []
    )
    if len(centres) > CENTRES_ON_FIRST_SCREEN and len(order) > 1:
        buttons = [
            InlineKeyboardButton(
                text=f"{region_mark(regions.get(r))} {region_name(t, regions.get(r))} · "
                f"{len(groups[r])}",
                callback_data=CatCB(action=CatAction.region, id=r).pack(),
            )
            for r in order
        ]
        return "\n".join([t("catalogue-choose-region"), *near]), inline_rows(buttons)
    lines = [t("catalogue-choose-centre"), *near]
    if len(order) > 1:
        for r in order:
            cities = ", ".join(dict.fromkeys(t.pick(c.city) for c in groups[r]))
            lines.append(
                f"{region_mark(regions.get(r))} {escape(region_name(t, regions.get(r)))}: "
                f"{escape(cities)}"
            )
    buttons = [centre_button(t, c) for r in order for c in groups[r]]
    return "\n".join(lines), inline_rows(buttons)


def region_mark(region: RegionDTO | None) -> str:
    return FLAGS.get(region.country, "📍") if region else "📍"


def region_name(t: BoundTranslator, region: RegionDTO | None) -> str:
    return t.pick(region.name) if region else "—"


async def region_view(
    t: BoundTranslator, repo: Repos, region_id: int
) -> tuple[str, InlineKeyboardMarkup] | None:
    region = await repo.catalogue.region(region_id)
    centres = [c for c in await repo.catalogue.centres() if c.region_id == region_id]
    if region is None or not centres:
        return None
    buttons = [centre_button(t, c) for c in centres]
    buttons.append(
        InlineKeyboardButton(
            text=t.plain("btn-back"), callback_data=CatCB(action=CatAction.centres).pack()
        )
    )
    text = t("catalogue-choose-centre-in", region=t.pick(region.name))
    return text, inline_rows(buttons)


async def courses_view(
    t: BoundTranslator, repo: Repos, centre_id: int
) -> tuple[str, InlineKeyboardMarkup] | None:
    """A centre's page: its courses, its address and contacts."""
    centre = await repo.catalogue.centre(centre_id)
    if centre is None:
        return None
    buttons = []
    for course in await repo.catalogue.courses(centre_id):
        if not course.enrolment_open:
            mark = "🔒"
        elif course.seats_left <= 0:
            mark = "🕒"
        else:
            mark = "🟢"
        buttons.append(
            InlineKeyboardButton(
                text=f"{mark} {t.pick(course.title)}",
                callback_data=CatCB(action=CatAction.course, id=course.id).pack(),
            )
        )
    everywhere = await repo.catalogue.centres()
    by_region = len(everywhere) > CENTRES_ON_FIRST_SCREEN and (
        len({c.region_id for c in everywhere}) > 1
    )
    back = (
        CatCB(action=CatAction.region, id=centre.region_id)
        if by_region
        else CatCB(action=CatAction.centres)
    )
    buttons.append(InlineKeyboardButton(text=t.plain("btn-back"), callback_data=back.pack()))
    lines = [
        t("catalogue-choose-course", centre=t.pick(centre.name), city=t.pick(centre.city)),
        "",
        t("course-address", address=t.pick(centre.address)),
        *contacts_lines(t, centre),
    ]
    return "\n".join(lines), inline_rows(buttons)


async def course_view(
    t: BoundTranslator, repo: Repos, course_id: int, user: UserDTO | None
) -> tuple[str, InlineKeyboardMarkup] | None:
    course = await repo.catalogue.course(course_id)
    if course is None:
        return None
    centre = await repo.catalogue.centre(course.centre_id)
    if centre is None:
        return None
    groups = await repo.catalogue.groups(course.id)
    sessions = await repo.catalogue.sessions([g.id for g in groups], limit=200)
    by_group = [(g, [s for s in sessions if s.group_id == g.id][:21]) for g in groups]
    live = None
    if user is not None:
        live = next(
            (a for a in await repo.applications.live_for_user(user.id) if a.course_id == course.id),
            None,
        )
    text = course_card(t, course, centre, by_group, live)
    rows: list[list[InlineKeyboardButton]] = []
    if live is not None:
        rows.append(
            [
                InlineKeyboardButton(
                    text=t.plain("course-open-my-applications"),
                    callback_data=MyCB(action=MyAction.list).pack(),
                )
            ]
        )
    elif course.enrolment_open:
        key = "course-signup" if course.seats_left > 0 else "course-join-waitlist"
        rows.append(
            [
                InlineKeyboardButton(
                    text=t.plain(key),
                    callback_data=CatCB(action=CatAction.signup, id=course.id).pack(),
                )
            ]
        )
    rows.append(
        [
            InlineKeyboardButton(
                text=t.plain("course-location"),
                callback_data=CatCB(action=CatAction.venue, id=course.id).pack(),
            ),
            InlineKeyboardButton(
                text=t.plain("btn-back"),
                callback_data=CatCB(action=CatAction.centre, id=centre.id).pack(),
            ),
        ]
    )
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def open_centre_by_code(message: Message, code: str, t: BoundTranslator, repo: Repos) -> None:
    """A deep link to one centre (t.me/bot?start=ctr_<code>): its page, else the list."""
    centre = await repo.catalogue.centre_by_code(code)
    view = await courses_view(t, repo, centre.id) if centre else None
    if view is None:
        text, markup = await centres_view(t, repo)
        await message.answer(t("catalogue-centre-not-found"))
        await message.answer(text, reply_markup=markup)
        return
    await message.answer(view[0], reply_markup=view[1])


async def open_course_by_code(
    message: Message, code: str, t: BoundTranslator, repo: Repos, user: UserDTO | None
) -> None:
    course = await repo.catalogue.course_by_code(code)
    view = await course_view(t, repo, course.id, user) if course else None
    if view is None:
        text, markup = await centres_view(t, repo)
        await message.answer(t("catalogue-course-not-found"))
        await message.answer(text, reply_markup=markup)
        return
    await message.answer(view[0], reply_markup=view[1])


@router.message(Command("courses"))
@router.message(TextKey("menu-catalogue"))
async def open_catalogue(
    message: Message,
    state: FSMContext,
    user: UserDTO,
    t: BoundTranslator,
    repo: Repos,
    settings: Settings,
) -> None:
    await leave_form(message, state, t, repo, settings)
    text, markup = await centres_view(t, repo, user)
    await message.answer(text, reply_markup=markup)


@router.callback_query(CatCB.filter(F.action != CatAction.signup))
async def on_catalogue(
    callback: CallbackQuery,
    callback_data: CatCB,
    t: BoundTranslator,
    repo: Repos,
    user: UserDTO,
    callback_answer: CallbackAnswer,
) -> None:
    action = callback_data.action
    if action is CatAction.centres:
        text, markup = await centres_view(t, repo, user)
        await show(callback, text, markup)
        return
    if action is CatAction.region:
        view = await region_view(t, repo, callback_data.id)
    elif action is CatAction.centre:
        view = await courses_view(t, repo, callback_data.id)
    elif action is CatAction.course:
        view = await course_view(t, repo, callback_data.id, user)
    else:  # venue
        course = await repo.catalogue.course(callback_data.id)
        centre = await repo.catalogue.centre(course.centre_id) if course else None
        if centre is None or callback.message is None:
            callback_answer.text = t.plain("error-stale-button")
            callback_answer.show_alert = True
            return
        await callback.bot.send_venue(  # type: ignore[union-attr]
            chat_id=callback.message.chat.id,
            latitude=centre.latitude,
            longitude=centre.longitude,
            title=t.plain("venue-title", name=t.pick(centre.name))[:100],
            address=t.pick(centre.address)[:100],
        )
        return
    if view is None:
        callback_answer.text = t.plain("error-stale-button")
        callback_answer.show_alert = True
        return
    await show(callback, view[0], view[1])
