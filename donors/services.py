"""Writes to the donors ledger. Every rule about money in lives here, once."""

import datetime as dt
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Length
from django.utils import timezone

from backoffice.money import money_round, split_largest_remainder

from .models import Donation, DonationBatch, Donor, ExchangeRate, Instalment, Pledge, WriteOff
from .totals import posted_totals_add


class LedgerError(ValidationError):
    """A ledger rule was broken. Carries field names where a field is to blame."""


FREQUENCIES = {
    "monthly": relativedelta(months=1),
    "quarterly": relativedelta(months=3),
    "annual": relativedelta(years=1),
}


def next_ref(model, prefix: str) -> str:
    """The next free `PREFIX-0001` style reference for `model`."""
    last = (
        model.objects.filter(ref__regex=rf"^{prefix}-[0-9]+$")  # refs typed another way don't count
        .order_by(Length("ref").desc(), "-ref")
        .values_list("ref", flat=True)
        .first()
    )
    number = int(last.split("-")[-1]) + 1 if last else 1
    return f"{prefix}-{number:04d}"


# Donors ---------------------------------------------------------------------------------


@transaction.atomic
def donor_create(*, name: str, kind: str, country: str, preferred_currency: str, ref: str = "", **extra) -> Donor:
    donor = Donor(
        ref=ref or next_ref(Donor, "DON"),
        name=name,
        kind=kind,
        country=country,
        preferred_currency=preferred_currency,
        **extra,
    )
    donor.full_clean()
    donor.save()
    return donor


# Pledges and instalments ----------------------------------------------------------------


def schedule_split(*, total: Decimal, start: dt.date, frequency: str, count: int) -> list[tuple[dt.date, Decimal]]:
    """`count` instalments from `start`, every month, quarter or year, adding up to `total`."""
    if frequency not in FREQUENCIES:
        raise LedgerError({"frequency": f"Unknown frequency {frequency!r}; use one of {', '.join(FREQUENCIES)}."})
    if count < 1:
        raise LedgerError({"count": "A schedule needs at least one instalment."})
    if total / count < Decimal("0.01"):
        raise LedgerError({"count": f"{total} cannot be split into {count} instalments of at least 0.01."})
    step = FREQUENCIES[frequency]
    amounts = split_largest_remainder(total, [Decimal(1)] * count)
    return [(start + step * i, amount) for i, amount in enumerate(amounts)]


def _check_schedule_total(pledge: Pledge, amounts) -> None:
    scheduled = sum(amounts, Decimal("0"))
    if scheduled != pledge.total:
        raise LedgerError(
            {
                "instalments": (
                    f"The instalments add up to {scheduled} {pledge.currency}, "
                    f"but the pledge total is {pledge.total} {pledge.currency}."
                )
            }
        )


@transaction.atomic
def instalments_replace(*, pledge: Pledge, rows: list[tuple[dt.date, Decimal]]) -> list[Instalment]:
    """Replace a pledge's schedule. The new instalments must add up to the pledge total."""
    _check_schedule_total(pledge, [amount for _, amount in rows])
    if Donation.objects.filter(instalment__pledge=pledge).exists():
        raise LedgerError(
            {"instalments": "Donations are linked to this schedule's instalments; edit instalments one by one."}
        )
    pledge.instalments.all().delete()
    instalments = []
    for due_date, amount in rows:
        instalment = Instalment(pledge=pledge, due_date=due_date, amount=amount)
        instalment.full_clean()
        instalment.save()
        instalments.append(instalment)
    return instalments


@transaction.atomic
def instalments_generate(*, pledge: Pledge, frequency: str, count: int, first_due: dt.date | None = None):
    rows = schedule_split(total=pledge.total, start=first_due or pledge.start_date, frequency=frequency, count=count)
    return instalments_replace(pledge=pledge, rows=rows)


@transaction.atomic
def instalment_update(*, instalment: Instalment, due_date: dt.date | None = None, amount: Decimal | None = None):
    """Change one instalment; refused if the schedule would no longer add up to the pledge."""
    pledge = Pledge.objects.select_for_update().get(pk=instalment.pledge_id)
    instalment = Instalment.objects.get(pk=instalment.pk)
    if due_date is not None:
        instalment.due_date = due_date
    if amount is not None:
        instalment.amount = amount
    others = pledge.instalments.exclude(pk=instalment.pk).values_list("amount", flat=True)
    _check_schedule_total(pledge, [*others, instalment.amount])
    instalment.full_clean()
    instalment.save()
    return instalment


@transaction.atomic
def pledge_create(
    *,
    donor: Donor,
    title: str,
    total: Decimal,
    currency: str,
    start_date: dt.date,
    end_date: dt.date,
    frequency: str | None = None,
    count: int | None = None,
    ref: str = "",
    **extra,
) -> Pledge:
    pledge = Pledge(
        ref=ref or next_ref(Pledge, "PLG"),
        donor=donor,
        title=title,
        total=total,
        currency=currency,
        start_date=start_date,
        end_date=end_date,
        **extra,
    )
    pledge.full_clean()
    pledge.save()
    if frequency:
        instalments_generate(pledge=pledge, frequency=frequency, count=count or 1)
    return pledge


@transaction.atomic
def pledge_cancel(*, pledge: Pledge, on: dt.date | None = None) -> Pledge:
    if pledge.cancelled_on:
        raise LedgerError(f"Pledge {pledge.ref} is already cancelled.")
    Pledge.objects.filter(pk=pledge.pk).update(cancelled_on=on or timezone.localdate())
    pledge.refresh_from_db()
    return pledge


# Write-offs -----------------------------------------------------------------------------


def write_off_amount(*, pledge: Pledge, amount: Decimal | None, reason: str) -> Decimal:
    """Check a write-off against the pledge and return its amount (the rest when none is given)."""
    from .selectors import pledge_figures

    figures = pledge_figures(pledge)
    if figures.status == Pledge.Status.CANCELLED:
        raise LedgerError({"pledge": f"Pledge {pledge.ref} is cancelled."})
    if figures.outstanding <= 0:
        raise LedgerError({"amount": f"Nothing is outstanding on pledge {pledge.ref}."})
    amount = figures.outstanding if amount is None else amount
    if amount <= 0:
        raise LedgerError({"amount": "The amount must be greater than zero."})
    if amount > figures.outstanding:
        raise LedgerError(
            {
                "amount": (
                    f"{amount} {pledge.currency} is more than the {figures.outstanding} {pledge.currency} outstanding."
                )
            }
        )
    if not (reason or "").strip():
        raise LedgerError({"reason": "A write-off needs a reason."})
    return amount


@transaction.atomic
def pledge_write_off(
    *, pledge: Pledge, reason: str, by, amount: Decimal | None = None, on: dt.date | None = None
) -> WriteOff:
    """Write off part or (with no amount) the rest of what is outstanding on a pledge."""
    pledge = Pledge.objects.select_for_update().get(pk=pledge.pk)
    amount = write_off_amount(pledge=pledge, amount=amount, reason=reason)
    write_off = WriteOff(pledge=pledge, amount=amount, reason=reason, by=by, written_off_on=on or timezone.localdate())
    write_off.full_clean()
    write_off.save()
    return write_off


@transaction.atomic
def writeoff_reverse(*, write_off: WriteOff, by, reason: str) -> WriteOff:
    write_off = WriteOff.objects.select_for_update().get(pk=write_off.pk)
    if write_off.reversal_of_id:
        raise LedgerError("A reversal cannot itself be reversed.")
    if WriteOff.objects.filter(reversal_of=write_off).exists():
        raise LedgerError("This write-off has already been reversed.")
    reversal = WriteOff(
        pledge_id=write_off.pledge_id,
        amount=-write_off.amount,
        reason=reason or f"Reversal of write-off {write_off.pk}",
        by=by,
        written_off_on=timezone.localdate(),
        reversal_of=write_off,
    )
    reversal.full_clean()
    reversal.save()
    return reversal


# Exchange rates -------------------------------------------------------------------------


def rate_lookup(*, currency: str, on: dt.date) -> tuple[Decimal, dt.date, str]:
    """The latest rate on or before `on`: (rate, the rate's date, its source)."""
    if currency == settings.BASE_CURRENCY:
        return Decimal("1"), on, "base currency"
    rate = ExchangeRate.objects.filter(currency=currency, date__lte=on).order_by("-date").first()
    if rate is None:
        raise LedgerError({"currency": f"No exchange rate for {currency} on or before {on.isoformat()}."})
    return rate.rate, rate.date, rate.source


# Donations ------------------------------------------------------------------------------


@transaction.atomic
def donation_create(*, donor: Donor, reference: str, received_on: dt.date, amount: Decimal, currency: str, **extra):
    """A draft donation. Nothing counts until it is posted."""
    donation = Donation(
        donor=donor, reference=reference, received_on=received_on, amount=amount, currency=currency, **extra
    )
    donation.full_clean()
    donation_amounts(donation)  # a missing rate is an error now, not at posting
    donation.save()
    return donation


def _rate_lookup_in(book):
    """`rate_lookup` answered from a `donors.rates.RateBook` (same rule, no query)."""

    def lookup(*, currency: str, on: dt.date):
        try:
            return book.lookup(currency, on)
        except LookupError as error:
            raise LedgerError({"currency": str(error)}) from None

    return lookup


def donation_amounts(donation: Donation, *, book=None) -> dict:
    """The rate, base amount and pledge amount a donation would be posted with.

    Bulk paths (imports) pass a `donors.rates.RateBook` as `book` so no rate costs a query.
    """
    lookup = rate_lookup if book is None else _rate_lookup_in(book)
    if donation.rate is not None:
        if donation.currency == settings.BASE_CURRENCY and donation.rate != 1:
            raise LedgerError({"rate": f"A {settings.BASE_CURRENCY} donation has a rate of exactly 1."})
        rate, rate_date, source = donation.rate, donation.received_on, donation.rate_source or "entered"
    else:
        rate, rate_date, source = lookup(currency=donation.currency, on=donation.received_on)
    base_amount = money_round(donation.amount * rate)
    pledge_amount = None
    if donation.pledge_id:
        pledge = donation.pledge
        if pledge.currency == donation.currency:
            pledge_amount = donation.amount
        else:
            try:
                pledge_rate, _, _ = lookup(currency=pledge.currency, on=donation.received_on)
            except LedgerError:
                raise LedgerError(
                    {
                        "pledge": (
                            f"The pledge is in {pledge.currency} but the donation is in {donation.currency}, "
                            f"and there is no {pledge.currency} rate on or before {donation.received_on}."
                        )
                    }
                ) from None
            pledge_amount = money_round(base_amount / pledge_rate)
    return {
        "rate": rate,
        "rate_date": rate_date,
        "rate_source": source,
        "base_amount": base_amount,
        "pledge_amount": pledge_amount,
    }


@transaction.atomic
def donation_post(*, donation: Donation, by) -> Donation:
    """Freeze the rate and base amount and make the donation count. Posting twice is refused."""
    donation = Donation.objects.select_for_update().get(pk=donation.pk)
    if donation.is_posted:
        raise LedgerError(f"Donation {donation.reference} is already posted.")
    donation.full_clean()
    for field, value in donation_amounts(donation).items():
        setattr(donation, field, value)
    donation.status = Donation.Status.POSTED
    donation.posted_at = timezone.now()
    donation.posted_by = by
    donation.save()
    posted_totals_add(donations=Donation.objects.filter(pk=donation.pk))
    return donation


@transaction.atomic
def donation_reverse(*, donation: Donation, by, reason: str = "") -> Donation:
    """Post the exact opposite of a posted donation, with the original rate, and reverse its allocations."""
    donation = Donation.objects.select_for_update().get(pk=donation.pk)
    if not donation.is_posted:
        raise LedgerError(f"Donation {donation.reference} is a draft; only posted donations are reversed.")
    if donation.is_reversal:
        raise LedgerError(f"Donation {donation.reference} is a reversal; a reversal cannot be reversed.")
    if Donation.objects.filter(reversal_of=donation).exists():
        raise LedgerError(f"Donation {donation.reference} has already been reversed.")
    now = timezone.now()
    reversal = Donation(
        reference=f"{donation.reference}-REV",
        donor_id=donation.donor_id,
        pledge_id=donation.pledge_id,
        instalment_id=donation.instalment_id,
        received_on=timezone.localdate(),
        amount=-donation.amount,
        currency=donation.currency,
        method=donation.method,
        note=reason or f"Reversal of {donation.reference}",
        rate=donation.rate,
        rate_date=donation.rate_date,
        rate_source=donation.rate_source,
        base_amount=-donation.base_amount,
        pledge_amount=-donation.pledge_amount if donation.pledge_amount is not None else None,
        status=Donation.Status.POSTED,
        posted_at=now,
        posted_by=by,
        reversal_of=donation,
    )
    reversal.full_clean()
    reversal.save()
    posted_totals_add(donations=Donation.objects.filter(pk=reversal.pk))
    from grants.services import allocations_reverse_for_donation

    allocations_reverse_for_donation(donation=donation, by=by)
    return reversal


# Batches --------------------------------------------------------------------------------


@transaction.atomic
def batch_post(*, batch: DonationBatch, by) -> DonationBatch:
    """Post every draft donation in the batch, only if count and control total match."""
    batch = DonationBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status == DonationBatch.Status.POSTED:
        raise LedgerError(f"Batch {batch.reference} is already posted.")
    donations = batch.donations.filter(status=Donation.Status.DRAFT, reversal_of__isnull=True)
    figures = donations.aggregate(total=Sum("amount"))
    count = donations.count()
    total = money_round(figures["total"] or Decimal("0.00"))
    problems = []
    if count != batch.expected_count:
        problems.append(f"it has {count} donations, {batch.expected_count} expected")
    if total != batch.expected_total:
        problems.append(f"they add up to {total}, {batch.expected_total} expected")
    if problems:
        raise LedgerError(f"Batch {batch.reference} cannot be posted: {'; '.join(problems)}.")
    for donation in donations.select_related("pledge"):
        donation_post(donation=donation, by=by)
    batch.status = DonationBatch.Status.POSTED
    batch.posted_at = timezone.now()
    batch.posted_by = by
    batch.save()
    return batch
