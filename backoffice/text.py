"""The one rule for the characters of stored text: no control characters.

Nobody types them on purpose, and each breaks something downstream: NUL is refused by
PostgreSQL, CR and LF in a name end up in email headers (BadHeaderError), and any of them makes
the XML of a chart or an XLSX export invalid. Notes (multi-line text fields) may hold tabs and
line breaks; every other field holds none. Applied as model field validators (so the admin's
forms and `full_clean` refuse them) and by the import's text parser (transfers.fields.text).
"""

import re

from django.core.exceptions import ValidationError

# Unicode's control characters (category Cc): C0, DEL and C1.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_NOTES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # tab, LF and CR allowed
# What XML 1.0 cannot hold at all, for text drawn into a chart.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def control_character_problem(value: str, *, notes: bool = False) -> str | None:
    """Why `value` is refused, or None: the first control character and where it is."""
    found = (_CONTROL_IN_NOTES if notes else _CONTROL).search(value)
    if found is None:
        return None
    allowed = (
        "notes may hold tabs and line breaks, but no other" if notes else "only notes may hold tabs and line breaks"
    )
    return (
        f"contains the control character U+{ord(found[0]):04X} at character {found.start() + 1}; remove it ({allowed})"
    )


def validate_plain_text(value: str) -> None:
    if problem := control_character_problem(value):
        raise ValidationError(problem[0].upper() + problem[1:] + ".", code="control_character")


def validate_notes_text(value: str) -> None:
    if problem := control_character_problem(value, notes=True):
        raise ValidationError(problem[0].upper() + problem[1:] + ".", code="control_character")


def xml_safe(value: str) -> str:
    """Text as it can be drawn into SVG/XML: a character XML cannot hold becomes U+FFFD. For
    text already stored, which the validators above did not see (raw SQL, older rows)."""
    return _NOT_XML.sub("\ufffd", value)
