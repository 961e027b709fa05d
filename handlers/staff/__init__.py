"""The staff workspace: one router per feature, each checking the role itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.routing import FeatureRouter


def staff_routers() -> list[FeatureRouter]:
    """Staff router recipes in order: the menu first (so /admin and the 🛠 button leave
    any form), then the features. ``setup_routers`` builds each for its Dispatcher."""
    from handlers.staff import (
        applications,
        audit,
        chats,
        contacts,
        courses,
        decisions,
        export,
        menu,
        outcomes,
        reject_presets,
        schedule,
        stats,
        team,
        team_add,
        team_reach,
    )

    return [
        menu.router,
        decisions.router,
        reject_presets.router,
        applications.router,
        export.router,
        courses.router,
        schedule.router,
        stats.router,
        outcomes.router,
        team.router,
        team_add.router,
        team_reach.router,
        chats.router,
        contacts.router,
        audit.router,
    ]
