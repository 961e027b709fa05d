"""Trainee progress after "accepted" (the vocabulary lives with the data, db/dto_outcomes)."""

from __future__ import annotations

from db.dto_outcomes import (
    COMPLETED,
    DROPOUT_REASONS,
    DROPPED,
    EMPLOYED,
    FOLLOW_UP_OUTCOMES,
    PROGRESS,
    STUDYING,
    missed_in_a_row,
)


def can_set(current: str | None, new: str) -> bool:
    """Which moves staff may make: anything but setting the same status again. A
    completed or dropped-out trainee can be put back to studying (a mistake undone)."""
    return new in PROGRESS and new != current


__all__ = [
    "COMPLETED",
    "DROPOUT_REASONS",
    "DROPPED",
    "EMPLOYED",
    "FOLLOW_UP_OUTCOMES",
    "PROGRESS",
    "STUDYING",
    "can_set",
    "missed_in_a_row",
]
