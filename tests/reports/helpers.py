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


def total_in(queryset, currency: str, field="amount") -> Decimal:
    """The exact sum of a column (stored with three places), rounded to `currency`'s places as a
    snapshot writes money: whole yen, cents, fils."""
    return money_round(queryset.aggregate(t=Sum(field))["t"] or Decimal("0"), currency)


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


def ledger_grow(*, ref_prefix: str, count: int, by, pledge_start: dt.date, pledge_end: dt.date) -> None:
    """More of everything a portfolio reads, through the services: `count` company donors, each
    with a posted donation in June 2025, an allocation of part of it, and a quarterly USD pledge.
    For tests that the number of queries does not grow with the data."""
    from donors import services as donor_services
    from tests.factories import AllocationFactory, DonationFactory, DonorFactory, OutputFactory

    for k in range(count):
        donor = DonorFactory(ref=f"{ref_prefix}{k:03d}", kind="company")
        donation = donor_services.donation_post(
            donation=DonationFactory(donor=donor, received_on=dt.date(2025, 6, 1 + k), amount=Decimal("900.00")),
            by=by,
        )
        AllocationFactory(
            donation=donation, output=OutputFactory(), amount=Decimal("300.00"), allocated_on=dt.date(2025, 7, 1)
        )
        donor_services.pledge_create(
            donor=donor, title="More", total=Decimal("5000.00"), currency="USD", start_date=pledge_start,
            end_date=pledge_end, frequency="quarterly", count=4,
        )  # fmt: skip
