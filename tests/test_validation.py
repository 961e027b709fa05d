import pytest

from bot.services.validation import normalize_name, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+7 701 123 45 67", "+77011234567"),
        ("87011234567", "+77011234567"),
        ("8 (701) 123-45-67", "+77011234567"),
        ("7011234567", "+77011234567"),
        ("+7 727 250 00 00", "+77272500000"),
        ("+996 555 123 456", "+996555123456"),
        ("0555 123 456", "+996555123456"),
        ("555123456", "+996555123456"),
        ("996700123456", "+996700123456"),
        ("+7 912 123 4567", None),  # Russia
        ("+998901234567", None),  # Uzbekistan
        ("+996 155 123 456", None),
        ("12345", None),
        ("call me", None),
        ("", None),
        ("+7 701 123 45 67 ext 5", None),
        ("7+7011234567", None),
        # Only ASCII digits: Arabic-Indic or superscript digits are not a phone number.
        ("87٠١١٢٣٤٥٦٧", None),
        ("+7 701 123 45 6⁷", None),
    ],
)
def test_phone(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "name", "error"),
    [
        ("Серикова Аида", "Серикова Аида", None),
        ("  Қайрат   Әлиұлы ", "Қайрат Әлиұлы", None),
        ("Асанов Бакыт-Уулу", "Асанов Бакыт-Уулу", None),
        ("O'Neil Sean", "O'Neil Sean", None),
        ("Aida", None, "signup-name-need-two-words"),
        ("A" * 300, None, "signup-name-too-long"),
        ("", None, "signup-name-too-short"),
        ("Иван 2", None, "signup-name-invalid"),
        ("<b>Bold</b> Name", None, "signup-name-invalid"),
    ],
)
def test_name(raw: str, name: str | None, error: str | None) -> None:
    assert normalize_name(raw) == (name, error)
