"""Strict cell parsers and the spreadsheet-formula escape, shared by every import and export.

Nothing here depends on the locale: a number is ASCII digits with '.' for decimals, a date is
YYYY-MM-DD. Anything else is an error with a message that shows the value and the expected form.
"""

import datetime as dt
import re
from decimal import Decimal
from functools import partial

from backoffice.money import CURRENCY_CODES
from backoffice.text import control_character_problem


class CellError(ValueError):
    """A cell's value is not acceptable; the message says why."""


_MONEY = re.compile(r"[0-9]{1,12}(\.[0-9]{1,3})?", re.ASCII)
_RATE = re.compile(r"[0-9]{1,10}(\.[0-9]{1,8})?", re.ASCII)
_NUMBER_LIKE = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)

# Cells starting with these run as formulas in Excel, LibreOffice and Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text(value: str, *, max_length: int | None = None, notes: bool = False) -> str:
    """A text cell; `notes` for the multi-line fields, which may hold tabs and line breaks."""
    if problem := control_character_problem(value, notes=notes):
        raise CellError(problem)
    value = unescape(value)
    if max_length is not None and len(value) > max_length:
        raise CellError(f"is {len(value)} characters long; at most {max_length} are allowed")
    return value


def money(value: str, *, positive: bool = True) -> Decimal:
    """An amount: digits, optionally '.' and up to three decimals (KWD has three); nothing else.
    Whether the places suit the row's currency is the ledger's check (JPY has none)."""
    negative = value.startswith("-") and not positive
    digits = value[1:] if negative else value
    if not _MONEY.fullmatch(digits):
        if _NUMBER_LIKE.fullmatch(value):
            if value.startswith("-"):
                raise CellError(f"{value!r} must be greater than zero")
            if "." in value and len(value.split(".")[1]) > 3:
                raise CellError(f"{value!r} has more than 3 decimal places, more than any currency has")
            raise CellError(f"{value!r} is too large (at most 12 digits before the decimal point)")
        raise CellError(
            f"{value!r} is not an amount like 1234.50 (ASCII digits, '.' before the decimals, "
            "at most 3 decimals, no thousands separators, no currency sign)"
        )
    amount = Decimal(value)
    if positive and amount <= 0:
        raise CellError(f"{value!r} must be greater than zero")
    return amount


def decimal(value: str, *, places: int = 2) -> Decimal:
    """A measured figure (baseline, target): like an amount, may be zero or negative."""
    pattern = rf"-?[0-9]{{1,12}}(\.[0-9]{{1,{places}}})?"
    if not re.fullmatch(pattern, value, re.ASCII):
        raise CellError(f"{value!r} is not a number like 1234.5 (ASCII digits, '.', at most {places} decimals)")
    return Decimal(value)


def rate(value: str) -> Decimal:
    if not _RATE.fullmatch(value):
        raise CellError(f"{value!r} is not a rate like 0.81234567 (ASCII digits, '.', at most 8 decimals, no exponent)")
    parsed = Decimal(value)
    if parsed <= 0:
        raise CellError(f"{value!r} must be greater than zero")
    return parsed


def date(value: str) -> dt.date:
    if not _DATE.fullmatch(value):
        raise CellError(f"{value!r} is not a date in the form YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CellError(f"{value!r} is not a real date")


def currency(value: str) -> str:
    if value not in CURRENCY_CODES:
        raise CellError(f"{value!r} is not an ISO 4217 currency code (three capital letters, such as GBP)")
    return value


def choice(value: str, choices) -> str:
    for allowed, _label in choices:
        if value == allowed:
            return value
    raise CellError(f"{value!r} is not one of: {', '.join(c for c, _ in choices)}")


def boolean(value: str) -> bool:
    if value == "true":
        return True
    if value == "false":
        return False
    raise CellError(f"{value!r} is not true or false")


# Formula escaping -----------------------------------------------------------------------


def escape(value: str) -> str:
    """Make a text cell inert in spreadsheets: prefix a single quote to a formula start.

    A text that already starts with a quote before a formula start (or another quote) gets one
    more quote, so `unescape(escape(s)) == s` for every text and files round-trip.
    """
    if value.startswith(FORMULA_STARTS) or (value.startswith("'") and value[1:2] in (*FORMULA_STARTS, "'")):
        return "'" + value
    return value


def unescape(value: str) -> str:
    if value.startswith("'") and value[1:2] in (*FORMULA_STARTS, "'") and value[1:2]:
        return value[1:]
    return value


# Descriptions ---------------------------------------------------------------------------


def describe(parse) -> str:
    """What a cell must hold, in words, from the parser itself: the import page, the template's
    documentation and docs/imports.md say what the parser checks, so they cannot drift apart."""
    func, options = (parse.func, parse.keywords) if isinstance(parse, partial) else (parse, {})
    if func is text:
        if options.get("notes"):
            return "Text; may hold tabs and line breaks"
        length = options.get("max_length")
        return f"Text, at most {length} characters" if length else "Text"
    if func is money:
        sign = "greater than zero" if options.get("positive", True) else "may be negative"
        return (
            "Amount: digits, '.' and at most its currency's decimals (JPY none, GBP 2, KWD 3), "
            f"no thousands separators; {sign}"
        )
    if func is decimal:
        return f"Number: digits, '.' and at most {options.get('places', 2)} decimals; may be zero or negative"
    if func is rate:
        return "Rate: digits, '.' and at most 8 decimals; greater than zero"
    if func is date:
        return "Date: YYYY-MM-DD"
    if func is currency:
        return "Currency: an ISO 4217 code in capitals"
    if func is boolean:
        return "true or false"
    if func is choice:
        return "One of: " + ", ".join(value for value, _label in options["choices"])
    raise ValueError(f"No description for the parser {parse!r}: give its column a format.")
