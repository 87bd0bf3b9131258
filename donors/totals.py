"""Totals of posted donations kept beside the ledger, so period figures need not read a million rows.

`PostedDayTotal` (per day received and currency), `PostedDonorMonthTotal` and
`PostedDonorYearTotal` (per donor and month or year received, in base currency) hold sums of
posted donations, reversals included, exactly as the ledger rows add up. Every path that posts
donations adds them, inside its own transaction: `donation_post` and `donation_reverse` call
`posted_totals_add` with the donations they have just posted; bulk posting
(`donors.services.DonationsBulk`: the donation import, `seed_demo`), which writes its rows with
COPY, sums them as it writes them, with `PostedSums`. A path that posts donations without
adding them makes the dashboard and the portfolio disagree with the ledger; the tests compare
the two.
"""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncYear

from backoffice.totals import groups_upsert, totals_upsert

from .models import Donation, PostedDayTotal, PostedDonorMonthTotal, PostedDonorYearTotal


@transaction.atomic
def posted_totals_add(*, donations: QuerySet) -> None:
    """Add `donations` to the totals: the posted ones among them, which must not have been added before.

    Three statements whatever the number of donations: each groups the donations in SQL and
    adds the groups to the existing totals (INSERT ... ON CONFLICT DO UPDATE).
    """
    _totals_add(donations, PostedDayTotal, PostedDonorMonthTotal, PostedDonorYearTotal)


@transaction.atomic
def posted_totals_rebuild() -> None:
    """Recompute the totals from the ledger (after a bulk load that did not add them, or to repair)."""
    _totals_rebuild(Donation, PostedDayTotal, PostedDonorMonthTotal, PostedDonorYearTotal)


@transaction.atomic
def donor_totals_rebuild(*, donor_ids) -> None:
    """Recompute the per-donor totals of these donors from the ledger: after a donor merge (or its
    undo) moved posted donations between them. The day totals do not depend on the donor."""
    donor_ids = sorted(donor_ids)
    for model in (PostedDonorMonthTotal, PostedDonorYearTotal):
        model.objects.filter(donor_id__in=donor_ids).delete()
    posted = Donation.objects.filter(donor_id__in=donor_ids, status="posted").order_by()
    _donor_totals_add(posted, PostedDonorMonthTotal, PostedDonorYearTotal)


def _totals_rebuild(donation_model, day_model, month_model, year_model) -> None:
    for model in (day_model, month_model, year_model):
        model.objects.all().delete()
    _totals_add(donation_model.objects.all(), day_model, month_model, year_model)


def _totals_add(donations: QuerySet, day_model, month_model, year_model) -> None:
    posted = donations.filter(status="posted").order_by()
    by_day = posted.values(k_day=F("received_on"), k_currency=F("currency")).annotate(
        k_count=Count("*"), k_amount=Sum("amount"), k_base=Sum("base_amount")
    )
    totals_upsert(
        day_model,
        by_day,
        keys={"received_on": "k_day", "currency": "k_currency"},
        sums={"count": "k_count", "amount": "k_amount", "base_amount": "k_base"},
    )
    _donor_totals_add(posted, month_model, year_model)


def _donor_totals_add(posted: QuerySet, month_model, year_model) -> None:
    for model, period, truncate in ((month_model, "month", TruncMonth), (year_model, "year", TruncYear)):
        by_donor = posted.values(k_donor=F("donor_id"), k_period=truncate("received_on")).annotate(
            k_count=Count("*"), k_base=Sum("base_amount")
        )
        totals_upsert(
            model,
            by_donor,
            keys={"donor_id": "k_donor", period: "k_period"},
            sums={"count": "k_count", "base_amount": "k_base"},
        )


class PostedSums:
    """The sums `posted_totals_add` makes, made instead by the caller as it writes posted donations,
    then added to the totals with `save()` in the same transaction (`backoffice.totals.groups_upsert`). For
    bulk posting (`donors.services.DonationsBulk`), which writes its rows with COPY: summing them
    as they go saves reading every row back at the end. Exact (Decimal); the years are the sums
    of the months.
    """

    def __init__(self):
        self.days: dict[tuple[dt.date, str], list] = {}  # -> [count, amount, base_amount]
        self.months: dict[tuple[int, dt.date], list] = {}  # (donor_id, 1st of month) -> [count, base_amount]

    def add(self, donor_id: int, received_on: dt.date, currency: str, amount: Decimal, base_amount: Decimal) -> None:
        """One posted donation."""
        day = self.days.get((received_on, currency))
        if day is None:
            self.days[(received_on, currency)] = [1, amount, base_amount]
        else:
            day[0] += 1
            day[1] += amount
            day[2] += base_amount
        key = (donor_id, received_on.replace(day=1))
        month = self.months.get(key)
        if month is None:
            self.months[key] = [1, base_amount]
        else:
            month[0] += 1
            month[1] += base_amount

    @transaction.atomic
    def save(self) -> None:
        """Add the sums to the kept totals."""
        years: dict[tuple[int, dt.date], list] = {}
        for (donor_id, month), (count, base) in self.months.items():
            year = years.setdefault((donor_id, month.replace(month=1)), [0, Decimal("0.00")])
            year[0] += count
            year[1] += base
        groups_upsert(
            PostedDayTotal, keys=["received_on", "currency"], sums=["count", "amount", "base_amount"], groups=self.days
        )
        groups_upsert(
            PostedDonorMonthTotal, keys=["donor_id", "month"], sums=["count", "base_amount"], groups=self.months
        )
        groups_upsert(PostedDonorYearTotal, keys=["donor_id", "year"], sums=["count", "base_amount"], groups=years)
