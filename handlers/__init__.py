"""Routers, one per feature, assembled in an explicit order (catch-all last)."""

from __future__ import annotations

from aiogram import Router


def setup_routers() -> Router:
    # Imported here so that importing `handlers` builds nothing.
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

    root = Router(name="root")
    recipes = [
        errors.router,
        system.router,
        # Commands and menu buttons first: pressed inside a form, they navigate.
        start.router,
        catalogue.router,
        my_applications.router,
        my_courses.router,
        # Staff commands and buttons win over the citizen form's state handlers.
        *staff_routers(),
        *support.staff,
        broadcast.router,
        attendance.router,
        attendance.answers,
        signup.router,
        # A free message nobody else took: offered to the centre's staff.
        support.citizen,
        fallback.router,
    ]
    root.include_routers(*(recipe.build() for recipe in recipes))
    return root
