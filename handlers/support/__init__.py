"""Talk to a person (issue 12): the staff side (answers, card buttons, inbox, person
search and cards) and the citizen side (a free message offered to the centre).

Router recipes placed apart in ``handlers/__init__.py``: ``staff`` (answers and card
buttons, then person search and cards; two routers, as their router-level filters differ:
a reply to a card by someone who is not staff must still be answered) right after the
staff workspace, so a staff member's reply is never read as a citizen's message;
``citizen`` just before the catch-all (forms and menus come first)."""

from __future__ import annotations

from bot.routing import FeatureRouter
from handlers.support import citizen as citizen_module
from handlers.support import people
from handlers.support import staff as staff_module

staff: tuple[FeatureRouter, ...] = (staff_module.router, people.router)
citizen = citizen_module.router

__all__ = ["citizen", "staff"]
