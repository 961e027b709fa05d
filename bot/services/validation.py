"""Pure validation of what citizens type: phone numbers and names."""

from __future__ import annotations

import re
import unicodedata

NAME_MIN = 3
NAME_MAX = 100
_NAME_ALLOWED = re.compile(r"^[^\W\d_]+(?:[ '’`.\-][^\W\d_]+)*\.?$", re.UNICODE)


def normalize_phone(raw: str) -> str | None:
    """A Kazakhstan or Kyrgyzstan number in E.164, or None.

    Accepts what people type: spaces, dashes, brackets, a leading +, the national trunk
    prefixes (8 in Kazakhstan, 0 in Kyrgyzstan) or no prefix at all.
    Kazakhstan: +7 followed by 10 digits starting with 6 or 7 (Russia's +7 9xx is not
    accepted). Kyrgyzstan: +996 followed by 9 digits starting with 2-9.
    """
    text = raw.strip()
    if not text or len(text) > 32:
        return None
    # ASCII digits only: \d would also take '٠٧' or '²', which int() and Telegram's
    # phone links do not understand.
    if re.search(r"[^0-9\s+()\-.]", text) or text.count("+") > 1 or "+" in text[1:]:
        return None
    digits = re.sub(r"[^0-9]", "", text)
    candidates: list[str] = []
    if len(digits) == 11 and digits[0] in "78":
        candidates.append("7" + digits[1:])
    if len(digits) == 10 and digits[0] in "67" and not text.startswith("+"):
        candidates.append("7" + digits)
    if len(digits) == 12 and digits.startswith("996"):
        candidates.append(digits)
    if len(digits) == 10 and digits[0] == "0" and not text.startswith("+"):
        candidates.append("996" + digits[1:])
    if len(digits) == 9 and not text.startswith("+"):
        candidates.append("996" + digits)
    for number in candidates:
        if re.fullmatch(r"7[67][0-9]{9}", number) or re.fullmatch(r"996[2-9][0-9]{8}", number):
            return "+" + number
    return None


def normalize_name(raw: str) -> tuple[str | None, str | None]:
    """(cleaned full name, None) or (None, error key) for what a citizen typed."""
    text = unicodedata.normalize("NFC", " ".join(raw.split()))
    if len(text) > NAME_MAX:
        return None, "signup-name-too-long"
    if len(text) < NAME_MIN:
        return None, "signup-name-too-short"
    if not _NAME_ALLOWED.match(text):
        return None, "signup-name-invalid"
    if len(text.split(" ")) < 2:
        return None, "signup-name-need-two-words"
    return text, None
