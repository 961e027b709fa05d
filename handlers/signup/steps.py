"""The form's states and the order of its steps (which depend on the answers so far)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiogram.fsm.state import State, StatesGroup


class SignUp(StatesGroup):
    name = State()
    phone = State()
    district = State()
    group = State()
    consent = State()
    course = State()
    confirm = State()


ANY_GROUP = 0
UNLISTED = 0  # the district answer "my region is not in the list": no district recorded


# ---- step order ---------------------------------------------------------------------


def steps_of(data: dict[str, Any]) -> list[State]:
    # Consent comes first: nothing about the person is asked (or kept) before it.
    steps = [] if data.get("had_consent") else [SignUp.consent]
    steps += [SignUp.name, SignUp.phone, SignUp.district]
    if data.get("group_count", 0) > 1:
        steps.append(SignUp.group)
    steps.append(SignUp.confirm)
    return steps


def submitted_today(created: list[datetime], now: datetime) -> int:
    """Applications made in the last 24 hours (withdrawn ones included)."""
    return sum(1 for at in created if at > now - timedelta(days=1))


def step_number(data: dict[str, Any], state: State) -> tuple[int, int]:
    steps = steps_of(data)[:-1]  # the summary is not a question
    return (steps.index(state) + 1 if state in steps else len(steps)), len(steps)
