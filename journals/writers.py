"""The three journal files: the one place that knows each format's columns, dates, signs and escaping.

Columns are the vendors' own (docs/journals.md says where each is documented):
- Xero, "Enter multiple manual journals using an import template" (help.xero.com, ManualJournalsImport):
  Narration and Date group the lines of one journal; Amount is a debit when positive, a credit when
  negative; TaxRate is mandatory; dates as dd/mm/yyyy.
- QuickBooks Online, "Import journal entries" (quickbooks.intuit.com learn-support): Journal No groups
  the lines; Debits and Credits are positive amounts in their own columns; Class and Location when
  class and location tracking are on; Currency when multicurrency is on.
- Generic: one row per line with everything Fundtrace knows of it, for Sage and other ledgers.

A file is a function of its entries only (no time of export, no order left to chance): the same
entries give the same bytes.
"""

import csv
import io
from decimal import Decimal

from backoffice.money import money_in_places
from transfers.fields import escape

XERO_COLUMNS = [
    "Narration", "Date", "Description", "AccountCode", "TaxRate", "Amount",
    "TrackingName1", "TrackingOption1", "TrackingName2", "TrackingOption2",
]  # fmt: skip
QUICKBOOKS_COLUMNS = [
    "Journal No", "Journal Date", "Currency", "Account Name", "Debits", "Credits", "Description", "Name",
    "Location", "Class",
]  # fmt: skip
GENERIC_COLUMNS = [
    "entry", "date", "kind", "narration", "account_code", "account_name", "debit", "credit", "currency",
    "description", "tracking_category", "tracking_option", "cost_centre", "original_currency", "original_amount",
    "records",
]  # fmt: skip


class Amount(str):
    """A number written as it is: never escaped as a formula (a credit in Xero starts with '-')."""


def _csv(header: list[str], rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            [cell if isinstance(cell, Amount) or not isinstance(cell, str) else escape(cell) for cell in row]
        )
    return out.getvalue().encode("utf-8")


def _amount(value: Decimal, currency: str) -> str:
    return f"{money_in_places(value, currency):f}"


def _debit_credit(value: Decimal, currency: str) -> tuple[str, str]:
    if value > 0:
        return _amount(value, currency), ""
    return "", _amount(-value, currency)


def _dmy(day) -> str:
    return day.strftime("%d/%m/%Y")


def xero(entries, *, currency: str) -> bytes:
    rows = []
    for e in entries:
        for line in e.lines:
            t = line.tracking
            rows.append([
                f"{e.number} {e.narration}", _dmy(e.day), line.description, line.account.code, line.account.tax_rate,
                Amount(_amount(line.amount, currency)), t.category if t else "", t.option if t else "", "", "",
            ])  # fmt: skip
    return _csv(XERO_COLUMNS, rows)


def quickbooks(entries, *, currency: str) -> bytes:
    rows = []
    for e in entries:
        for line in e.lines:
            debit, credit = _debit_credit(line.amount, currency)
            rows.append([
                e.number, _dmy(e.day), currency, line.account.name, Amount(debit), Amount(credit),
                f"{e.narration}: {line.description}", "", "", line.tracking.option if line.tracking else "",
            ])  # fmt: skip
    return _csv(QUICKBOOKS_COLUMNS, rows)


def generic(entries, *, currency: str) -> bytes:
    rows = []
    for e in entries:
        for line in e.lines:
            debit, credit = _debit_credit(line.amount, currency)
            t = line.tracking
            rows.append([
                e.number, e.day.isoformat(), e.kind, e.narration, line.account.code, line.account.name,
                Amount(debit), Amount(credit), currency, line.description, t.category if t else "",
                t.option if t else "", t.code if t else "", line.currency,
                Amount(_amount(line.original, line.currency)), line.records,
            ])  # fmt: skip
    return _csv(GENERIC_COLUMNS, rows)


WRITERS = {"xero": xero, "quickbooks": quickbooks, "generic": generic}
