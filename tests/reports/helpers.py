"""Independent ledger sums and PDF text for report tests: straight from rows, no report code."""

import datetime as dt
import io
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from pypdf import PdfReader

from backoffice.money import format_money, money_round
from donors.models import Donation, ExchangeRate, Instalment, Pledge, WriteOff


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def shown(value: dict) -> str:
    return format_money(Decimal(value["amount"]), value["currency"])


def total(queryset, field="amount") -> Decimal:
    return money_round(queryset.aggregate(t=Sum(field))["t"] or Decimal("0.00"))


def posted(**filters):
    return Donation.objects.filter(status="posted", **filters)


def closing_rate(currency: str, on: dt.date) -> Decimal:
    if currency == settings.BASE_CURRENCY:
        return Decimal("1")
    return ExchangeRate.objects.filter(currency=currency, date__lte=on).order_by("-date").first().rate


def pledges_at(end: dt.date, **filters):
    return Pledge.objects.filter(start_date__lte=end, cancelled_on__isnull=True, **filters)


def pledge_outstanding(pledge, end: dt.date) -> tuple[Decimal, Decimal]:
    """(outstanding, overdue) at `end`, from the pledge's own rows."""
    received = total(posted(pledge=pledge, received_on__lte=end), "pledge_amount")
    written = total(WriteOff.objects.filter(pledge=pledge, written_off_on__lte=end))
    fell_due = total(Instalment.objects.filter(pledge=pledge, due_date__lt=end))
    balance = pledge.total - received - written
    return max(balance, Decimal("0.00")), max(min(fell_due - received - written, balance), Decimal("0.00"))


def figure(snapshot: dict, key: str) -> dict:
    return next(f for f in snapshot["figures"] if f["key"] == key)
