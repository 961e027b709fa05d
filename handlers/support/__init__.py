"""Talk to a person (issue 12): the staff side (answers, card buttons, inbox, person
search and cards) and the citizen side (a free message offered to the centre).

Two router recipes, placed apart in ``handlers/__init__.py``: ``staff`` right after the
staff workspace (a staff member's reply to a card is never read as a citizen's message),
``citizen`` just before the catch-all (forms and menus come first)."""

from __future__ import annotations

from bot.routing import FeatureRouter
from handlers.support import citizen as citizen_module
from handlers.support import people
from handlers.support import staff as staff_module

staff = FeatureRouter("handlers.support.staff_side")
staff.include(staff_module.router, people.router)
citizen = citizen_module.router

__all__ = ["citizen", "staff"]
