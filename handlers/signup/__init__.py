"""The sign-up form: one question at a time, Back and Cancel at every step.

Steps: consent (before anything about the person is asked: the centre that keeps the
data, what and for how long; once per centre; declining keeps nothing and shows the
catalogue) → phone → full name (no step when the phone came as the person's own contact
with a full name: that name is taken, and the summary shows it to edit) → district (or
"my region is not in the list": none) → group (if the course has several) → the course's
extra questions → summary, where any field can be edited before confirming. An answer
given with an inline button turns the pressed message into the next question when that
one has inline buttons too (one edit, no new message). At most SIGNUP_DAILY_LIMIT
applications per person in 24 hours. The form lives in the FSM storage (the database), so
it survives a restart of the bot.

The package, by concern: ``steps`` (states, step order), ``questions`` (each step's
question and keyboard, the summary), and the handlers in the order they are tried —
``entry`` (start, cancel, back), ``answers``, ``submit``, ``fallbacks``.
"""

from __future__ import annotations

from bot.filters import PrivateChat
from bot.routing import FeatureRouter
from handlers.signup import answers, entry, extra, fallbacks, submit

__all__ = ["router"]

# The feature's one router: its filters, then the modules' handlers in the order they
# are tried. The modules' own routers carry no filters: include them only here.
router = FeatureRouter(__name__)
router.message.filter(PrivateChat())
router.callback_query.filter(PrivateChat())
router.include(entry.router, answers.router, extra.router, submit.router, fallbacks.router)
