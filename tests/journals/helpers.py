"""An account map that places every posting, and small ledgers to export."""

import csv
import datetime as dt
import io
from decimal import Decimal

from django.utils import timezone

from donors import services as donor_services
from donors.models import Donation
from grants.models import Programme
from journals.models import COST_CATEGORIES, AccountMap
from spending import services as spending_services
from spending.services import NewCharge
from tests.factories import BatchFactory, DonationFactory


def tomorrow():
    """A day when today is over: today's postings outside a batch may go out."""
    return timezone.localdate() + dt.timedelta(days=1)


def account_map(*, currencies=("GBP",), programmes=()):
    """Income by restriction and method 4000-4009, costs by category 5000-5009, banks 1200-, programmes."""
    n = 0
    for restriction in AccountMap.Restriction.values:
        for method in Donation.Method.values:
            AccountMap.objects.create(
                kind="income", restriction=restriction, method=method, account_code=f"40{n:02d}",
                account_name=f"Income {restriction} {method}",
            )  # fmt: skip
            n += 1
    for i, (category, _) in enumerate(COST_CATEGORIES):
        AccountMap.objects.create(
            kind="cost", category=category, account_code=f"50{i:02d}", account_name=f"Cost {category}"
        )
    for i, currency in enumerate(currencies):
        AccountMap.objects.create(
            kind="bank", currency=currency, account_code=f"12{i:02d}", account_name=f"Bank {currency}"
        )
    for programme in programmes or Programme.objects.all():
        AccountMap.objects.create(
            kind="programme", programme=programme, account_code=f"CC-{programme.code}", account_name=programme.name
        )


def posted_donation(*, by=None, **fields):
    return donor_services.donation_post(donation=DonationFactory(**fields), by=by)


def posted_batch(*, amounts, currency="GBP", by=None, reference=None, **fields):
    batch = BatchFactory(
        currency=currency, expected_count=len(amounts), expected_total=sum(amounts, Decimal(0)),
        **({"reference": reference} if reference else {}),
    )  # fmt: skip
    for amount in amounts:
        DonationFactory(batch=batch, currency=currency, amount=amount, **fields)
    return donor_services.batch_post(batch=batch, by=by)


def posted_expense(*, reference, amount, charges, currency="GBP", by=None, day=dt.date(2025, 3, 1)):
    expense = spending_services.expense_create(
        reference=reference, incurred_on=day, paid_on=day, payee="Hotel Europa", description="Summit venue",
        amount=Decimal(amount), currency=currency,
        charges=[NewCharge(line=line, amount=Decimal(a)) for line, a in charges],
    )  # fmt: skip
    return spending_services.expense_post(expense=expense, by=by)


def rows(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
