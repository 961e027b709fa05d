"""Finding a person the way staff type: part of a name in any case and script (Kazakh,
Kyrgyz and Russian Cyrillic or a Latin spelling), a phone in any local format, or an
application number. Pure functions, no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from db.repo.people import PersonRow

# Cyrillic (ru, kk, ky) to a coarse Latin skeleton. Letters that people spell several
# ways in Latin (ж zh/j, х kh/h, й/и/ы/і i/y, ю yu/iu) fold to one form on both sides.
_CYRILLIC = {
    "а": "a", "ә": "a", "б": "b", "в": "v", "г": "g", "ғ": "g", "д": "d", "е": "e",
    "ё": "e", "ж": "j", "з": "z", "и": "i", "й": "i", "і": "i", "к": "k", "қ": "k",
    "л": "l", "м": "m", "н": "n", "ң": "n", "о": "o", "ө": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ұ": "u", "ү": "u", "ф": "f", "х": "h", "һ": "h",
    "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "", "ы": "i", "ь": "", "э": "e",
    "ю": "iu", "я": "ia",
}  # fmt: skip
# Latin spellings folded the same way (longest first).
_LATIN = (
    ("shch", "sh"), ("zh", "j"), ("kh", "h"), ("yu", "iu"), ("ya", "ia"), ("yo", "e"),
    ("q", "k"), ("y", "i"), ("w", "u"), ("x", "h"), ("c", "ts"),
)  # fmt: skip
# Kazakh Latin (2021) and Turkish-style letters people type.
_ACCENTED = str.maketrans({
    "ä": "a", "ö": "o", "ü": "u", "ū": "u", "ı": "i", "ñ": "n", "ğ": "g", "ş": "sh",
    "ç": "ch", "é": "e", "á": "a", "ó": "o", "ú": "u", "í": "i",
})  # fmt: skip


@lru_cache(maxsize=200_000)
def fold(text: str) -> str:
    """A name as a comparable skeleton: lower case, Latin, letters only, no doubles.
    Cached: every search folds the same names of every applicant again."""
    lowered = text.lower().translate(_ACCENTED)
    latin = "".join(_CYRILLIC.get(ch, ch) for ch in lowered)
    latin = re.sub(r"[^a-z]+", "", latin)
    for spelled, folded in _LATIN:
        latin = latin.replace(spelled, folded)
    return re.sub(r"(.)\1+", r"\1", latin)


def phone_digits(text: str) -> str:
    """The digits of a phone as typed, made international where the format says so:
    ``8 701…`` (Kazakhstan's trunk prefix) → 7701…, ``0555…`` (Kyrgyzstan's) → 996555…."""
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and digits.startswith("8"):
        return "7" + digits[1:]
    if len(digits) == 10 and digits.startswith("0"):
        return "996" + digits[1:]
    return digits


@dataclass(frozen=True, slots=True)
class Query:
    """What staff typed, read as each thing it could be."""

    raw: str
    name: str  # folded; "" if the query has no letters
    phone: str  # digits; "" if too few for a phone
    application_id: int | None


def parse_query(raw: str) -> Query:
    raw = raw.strip()
    letters = re.sub(r"[\W\d_]+", "", raw)
    name = fold(raw) if letters else ""
    digits = re.sub(r"\D", "", raw)
    phone = phone_digits(raw) if len(digits) >= 5 and not letters else ""
    number = re.fullmatch(r"\s*(?:#|№|no\.?|n)?\s*(\d{1,9})\s*", raw, flags=re.IGNORECASE)
    application_id = int(number.group(1)) if number else None
    return Query(raw, name if len(name) >= 2 else "", phone, application_id)


def _phone_matches(query: str, stored: str) -> bool:
    digits = re.sub(r"\D", "", stored)
    if len(query) >= 9:
        # The national number's last nine digits identify it in KZ (10) and KG (9).
        return digits.endswith(query[-9:])
    return query in digits


def matches(query: Query, person: PersonRow) -> bool:
    if query.application_id is not None and query.application_id in person.application_ids:
        return True
    if query.phone and any(_phone_matches(query.phone, p) for p in person.phones):
        return True
    if query.name:
        names: Iterable[str] = (*person.full_names, person.first_name or "", person.username or "")
        return any(query.name in fold(n) for n in names if n)
    return False


def search(query: Query, people: Sequence[PersonRow], *, limit: int = 20) -> list[PersonRow]:
    """Matching people, exact application numbers first, then by name."""
    found = [p for p in people if matches(query, p)]
    found.sort(
        key=lambda p: (
            query.application_id not in p.application_ids,
            (p.full_names[0] if p.full_names else p.first_name or "").lower(),
        )
    )
    return found[:limit]
