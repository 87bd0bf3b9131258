"""How figures read in the active language: the one home of number and date formatting for what
people read (reports, their HTML version, donor emails); `backoffice.money.format_money` builds on it.

The subpackages are Django's format modules (FORMAT_MODULE_PATH), one per language: their
separators and date format are what these functions follow. The back office itself is always
English (no LocaleMiddleware); a donor's report and email switch language with
`django.utils.translation.override(donor.language)`.
"""

import datetime as dt
import functools

from django.utils import dateformat, translation
from django.utils.formats import get_format

# Between a French figure and its unit (12,5 %): a line never breaks there (reportlab breaks at U+202F).
NO_BREAK_SPACE = "\xa0"


def _french() -> bool:
    return (translation.get_language() or "").startswith("fr")


def number_localise(text: str) -> str:
    """A number written the English way ('1,234,567.89', '-12.5') with the active language's
    separators: '1 234 567,89' in French (no-break spaces). English is returned untouched."""
    language = translation.get_language()
    table = None if language is None else _separators(language)
    return text if table is None else text.translate(table)


@functools.cache
def _separators(language: str) -> dict | None:
    """The table from English separators to the language's (its format module's), or None where
    they are English's. Kept: a report formats hundreds of figures, and the format modules are
    read once."""
    thousands, decimal = get_format("THOUSAND_SEPARATOR", language), get_format("DECIMAL_SEPARATOR", language)
    if (thousands, decimal) == (",", "."):
        return None
    return str.maketrans({",": thousands, ".": decimal})


def format_percent(text: str) -> str:
    """'12.5' as a percentage: '12.5%' in English, '12,5 %' in French (a no-break space
    before the sign, as French typography sets it)."""
    return number_localise(text) + (f"{NO_BREAK_SPACE}%" if _french() else "%")


def format_day(day: dt.date, *, long: bool = False) -> str:
    """A day as a reader reads it: '6 Dec 2026' in English ('6 December 2026' `long`), '6 décembre
    2026' in French (and '1er décembre 2026': French writes the first of a month as an ordinal)."""
    if not _french():
        return f"{day.day} {day:{'%B' if long else '%b'} %Y}"
    text = dateformat.format(day, get_format("DATE_FORMAT"))
    return f"1er{text[1:]}" if day.day == 1 else text
