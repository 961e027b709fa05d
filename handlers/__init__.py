"""Routers, one per feature, assembled in an explicit order (catch-all last)."""

from __future__ import annotations

from aiogram import Router


def setup_routers() -> Router:
    # Imported here so that importing `handlers` builds nothing.
    from bot.roles import RoleFilter
    from bot.routing import FeatureRouter, Gate, RootRouter
    from handlers import (
        attendance,
        broadcast,
        catalogue,
        errors,
        fallback,
        my_applications,
        my_courses,
        signup,
        start,
        support,
        system,
    )
    from handlers.staff import staff_routers

    root = RootRouter(name="root")
    support_answers, people = support.staff
    recipes: list[FeatureRouter | Gate] = [
        errors.router,
        system.router,
        # Commands and menu buttons first: pressed inside a form, they navigate.
        start.router,
        catalogue.router,
        my_applications.router,
        my_courses.router,
        # Staff commands and buttons win over the citizen form's state handlers. Each
        # staff feature passes only staff messages and callbacks (RoleFilter), so a
        # citizen's update skips them at one check (Gate).
        Gate("gate: staff features", *staff_routers(), check=RoleFilter()),
        # A reply to a card by someone who is not staff is answered: not behind a gate.
        support_answers,
        Gate(
            "gate: people, announcements, attendance",
            people,
            broadcast.router,
            attendance.router,
            check=RoleFilter(),
        ),
        attendance.answers,
        signup.router,
        # A free message nobody else took: offered to the centre's staff.
        support.citizen,
        fallback.router,
    ]
    root.include_routers(*(recipe.build() for recipe in recipes))
    return root
