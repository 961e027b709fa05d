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
    question = State()  # the course's extra questions, one per step (data: q_index)
    confirm = State()


ANY_GROUP = 0
UNLISTED = 0  # the district answer "my region is not in the list": no district recorded


# ---- step order ---------------------------------------------------------------------


def steps_of(data: dict[str, Any]) -> list[State]:
    # Consent comes first: nothing about the person is asked (or kept) before it.
    steps = [] if data.get("had_consent") else [SignUp.consent]
    # The phone before the name: the contact shared with the phone button carries the
    # person's name, which then needs no step of its own (the summary shows it, to edit).
    steps.append(SignUp.phone)
    if not data.get("name_from_contact"):
        steps.append(SignUp.name)
    steps.append(SignUp.district)
    if data.get("group_count", 0) > 1:
        steps.append(SignUp.group)
    if data.get("questions"):
        steps.append(SignUp.question)
    steps.append(SignUp.confirm)
    return steps


def submitted_today(created: list[datetime], now: datetime) -> int:
    """Applications made in the last 24 hours (withdrawn ones included)."""
    return sum(1 for at in created if at > now - timedelta(days=1))


def step_number(data: dict[str, Any], state: State) -> tuple[int, int]:
    """(this step, all steps); each extra question counts as a step of its own."""
    steps = steps_of(data)[:-1]  # the summary is not a question
    extra = max(len(data.get("questions") or ()) - 1, 0)
    if state not in steps:
        return len(steps) + extra, len(steps) + extra
    number = steps.index(state) + 1
    if state == SignUp.question:
        number += int(data.get("q_index", 0))
    elif SignUp.question in steps and steps.index(state) > steps.index(SignUp.question):
        number += extra
    return number, len(steps) + extra


def first_unanswered(data: dict[str, Any]) -> int | None:
    """The index of the first required extra question without an answer (None: none)."""
    answers = data.get("answers") or {}
    for index, question_id in enumerate(data.get("questions") or ()):
        if str(question_id) not in answers and question_id in (data.get("required") or ()):
            return index
    return None
