"""The extra questions' views: the form data they need, asking one, and the summary's
lines. (The handlers are in ``extra``.)"""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardMarkup

from bot.callbacks import SignupAction, SignupCB
from bot.i18n import BoundTranslator
from bot.keyboards import form_keyboard
from bot.services.outcomes.answers import shown
from db.dto_outcomes import QuestionDTO
from db.repo import Repos
from handlers.signup.steps import SignUp, step_number


def question_state(questions: list[QuestionDTO]) -> dict[str, Any]:
    """The form data a course's questions need (set when the course is chosen)."""
    return {
        "questions": [q.id for q in questions],
        "required": [q.id for q in questions if q.required],
        "q_index": 0,
    }


async def current_question(data: dict[str, Any], repo: Repos) -> QuestionDTO | None:
    ids = data.get("questions") or []
    index = int(data.get("q_index", 0))
    if not 0 <= index < len(ids):
        return None
    found = await repo.outcomes.questions([ids[index]])
    return found[0] if found else None


def _cb(action: SignupAction, value: int = 0) -> str:
    return SignupCB(action=action, value=value).pack()


async def ask_question(
    data: dict[str, Any], t: BoundTranslator, repo: Repos
) -> tuple[str, InlineKeyboardMarkup | ReplyKeyboardMarkup]:
    q = await current_question(data, repo)
    if q is None:  # removed from the catalogue meanwhile: the summary's Edit goes on
        return t("error-stale-button"), form_keyboard(t)
    number, total = step_number(data, SignUp.question)
    lines = [t("signup-step", number=number, total=total), f"<b>{escape(t.pick(q.text))}</b>"]
    if not q.required:
        lines[-1] += " " + t("q-optional")
    answer = (data.get("answers") or {}).get(str(q.id))
    rows: list[list[InlineKeyboardButton]] = []
    if q.kind == "choice":
        rows = [
            [
                InlineKeyboardButton(
                    text=("✓ " if o.code == answer else "") + t.pick(o.text),
                    callback_data=_cb(SignupAction.q_option, i),
                )
            ]
            for i, o in enumerate(q.options)
        ]
    elif q.kind == "multi":
        lines.append(t("q-multi-hint"))
        rows = multi_rows(q, set(data.get("q_multi") or []), t)
    elif q.kind == "number" and q.min_value is not None and q.max_value is not None:
        lines.append(t("q-error-number", min=f"{q.min_value:g}", max=f"{q.max_value:g}"))
    elif q.kind == "date":
        lines.append(t("q-error-date"))
    if not q.required and q.kind != "multi":
        rows.append(
            [InlineKeyboardButton(text=t.plain("q-skip"), callback_data=_cb(SignupAction.q_skip))]
        )
    if not rows:
        # A typed answer: the reply keyboard's Back and Cancel are the way out.
        return "\n".join(lines), form_keyboard(t)
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


async def summary_lines(data: dict[str, Any], t: BoundTranslator, repo: Repos) -> list[str]:
    ids = data.get("questions") or []
    if not ids:
        return []
    answers = data.get("answers") or {}
    by_id = {q.id: q for q in await repo.outcomes.questions(ids)}
    return [
        f"{escape(t.pick(by_id[i].text))}: "
        f"<b>{escape(shown(by_id[i], answers.get(str(i)), t.locale))}</b>"
        for i in ids
        if i in by_id
    ]


def multi_rows(
    q: QuestionDTO, chosen: set[str], t: BoundTranslator
) -> list[list[InlineKeyboardButton]]:
    """A multiple-choice question's buttons: each option on or off, Done, and Skip when
    the question is optional."""
    rows = [
        [
            InlineKeyboardButton(
                text=("☑️ " if o.code in chosen else "▫️ ") + t.pick(o.text),
                callback_data=_cb(SignupAction.q_toggle, i),
            )
        ]
        for i, o in enumerate(q.options)
    ]
    rows.append(
        [InlineKeyboardButton(text=t.plain("q-done"), callback_data=_cb(SignupAction.q_done))]
    )
    if not q.required:
        rows.append(
            [InlineKeyboardButton(text=t.plain("q-skip"), callback_data=_cb(SignupAction.q_skip))]
        )
    return rows
