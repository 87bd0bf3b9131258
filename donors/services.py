"""Writes to the donors ledger. Every rule about money in lives here, once."""

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from itertools import islice
from operator import itemgetter
from typing import NamedTuple

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.db.models.functions import Length
from django.utils import timezone

from backoffice.bulk import CopyWithHistory
from backoffice.errors import LedgerError
from backoffice.money import (
    format_money,
    money_in_places,
    money_places_check,
    money_round,
    smallest_unit,
    split_largest_remainder,
)
from backoffice.reversals import reversal_check, reversal_create

from .models import Activity, Donation, DonationBatch, Donor, Instalment, Pledge, SoftCredit, WriteOff
from .rates import RateBook
from .signals import donation_reversed
from .totals import PostedSums, posted_totals_add

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


@transaction.atomic
def activity_save(*, activity: Activity, by) -> Activity:
    """Record (or correct) a meeting, call, email or note. Its next step goes to the activity's
    owner: as chosen, else the contact's owner, else whoever recorded it."""
    if activity.pk is None:
        activity.recorded_by = by
    if activity.owner_id is None:
        contact_owner = activity.contact.owner_id if activity.contact_id else None
        activity.owner_id = contact_owner or activity.recorded_by_id
    activity.full_clean()
    activity.save()
    return activity


def next_steps_done(*, activities, on: dt.date | None = None) -> int:
    """Mark the open next steps of `activities` done (today, unless `on`); returns how many."""
    return activities.filter(next_step_on__isnull=False, next_step_done_on__isnull=True).update(
        next_step_done_on=on or timezone.localdate()
    )


# Pledges and instalments ----------------------------------------------------------------


def schedule_split(
    *, total: Decimal, currency: str, start: dt.date, frequency: str, count: int
) -> list[tuple[dt.date, Decimal]]:
    """`count` instalments from `start`, every month, quarter or year, adding up to `total`, each
    in the currency's places (whole yen, cents, fils)."""
    if frequency not in FREQUENCIES:
        raise LedgerError({"frequency": f"Unknown frequency {frequency!r}; use one of {', '.join(FREQUENCIES)}."})
    if count < 1:
        raise LedgerError({"count": "A schedule needs at least one instalment."})
    money_places_check(total, currency, field="total")
    if total / count < smallest_unit(currency):
        raise LedgerError(
            {
                "count": f"{format_money(total, currency)} cannot be split into {count} instalments of at least "
                f"{format_money(smallest_unit(currency), currency)}."
            }
        )
    step = FREQUENCIES[frequency]
    amounts = split_largest_remainder(total, [Decimal(1)] * count, currency)
    return [(start + step * i, amount) for i, amount in enumerate(amounts)]


def instalments_check_total(*, pledge: Pledge, amounts: Iterable[Decimal]) -> None:
    """The schedule adds up to the pledge total, to the penny: `amounts` are all its instalments."""
    scheduled = sum(amounts, Decimal("0"))
    if scheduled != pledge.total:
        raise LedgerError(
            {
                "instalments": (
                    f"The instalments add up to {money_in_places(scheduled, pledge.currency)} {pledge.currency}, "
                    f"but the pledge total is {money_in_places(pledge.total, pledge.currency)} {pledge.currency}."
                )
            }
        )


@transaction.atomic
def instalments_replace(*, pledge: Pledge, rows: list[tuple[dt.date, Decimal]]) -> list[Instalment]:
    """Replace a pledge's schedule. The new instalments must add up to the pledge total."""
    instalments_check_total(pledge=pledge, amounts=[amount for _, amount in rows])
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
    rows = schedule_split(
        total=pledge.total,
        currency=pledge.currency,
        start=first_due or pledge.start_date,
        frequency=frequency,
        count=count,
    )
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
    instalments_check_total(pledge=pledge, amounts=[*others, instalment.amount])
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
    money_places_check(amount, pledge.currency, field="amount")
    if amount <= 0:
        raise LedgerError({"amount": "The amount must be greater than zero."})
    if amount > figures.outstanding:
        raise LedgerError(
            {
                "amount": (
                    f"{money_in_places(amount, pledge.currency)} {pledge.currency} is more than the "
                    f"{money_in_places(figures.outstanding, pledge.currency)} {pledge.currency} outstanding."
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
    return reversal_create(
        write_off,
        label=f"Write-off {write_off.pk}",
        copied=["pledge_id"],
        negated=["amount"],
        reason=reason or f"Reversal of write-off {write_off.pk}",
        by=by,
        written_off_on=timezone.localdate(),
    )


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


def base_amount_at(amount: Decimal, rate: Decimal) -> Decimal:
    """An amount in base currency at `rate`: half up to the base currency's places. The one rule
    for a donation's base amount at posting and a soft credit's base part."""
    return money_round(amount * rate, settings.BASE_CURRENCY)


def posting_amounts(
    *,
    amount: Decimal,
    currency: str,
    received_on: dt.date,
    rate: Decimal | None = None,
    rate_source: str = "",
    pledge_currency: str | None = None,
    book: RateBook | None = None,
) -> dict:
    """The rate (with its date and source), base amount and pledge amount a donation is posted
    with: the rate typed on it, else the latest rate on or before the day it was received; the
    base amount half up to the cent; against a pledge in another currency, the base amount at
    the pledge currency's rate of that day. Bulk work passes a `book` of every rate, so that no
    donation costs a query; without one, the rates are read in one query."""
    money_places_check(amount, currency, field="amount")
    if rate is not None and currency == settings.BASE_CURRENCY and rate != 1:
        raise LedgerError({"rate": f"A {settings.BASE_CURRENCY} donation has a rate of exactly 1."})
    other_currency = pledge_currency is not None and pledge_currency != currency
    if book is None:
        book = RateBook.closing(
            received_on, [*([currency] if rate is None else []), *([pledge_currency] if other_currency else [])]
        )
    if rate is None:
        rate, rate_date, rate_source = book.lookup(currency, received_on)
    else:
        rate_date, rate_source = received_on, rate_source or "entered"
    base_amount = base_amount_at(amount, rate)
    pledge_amount = None
    if pledge_currency is not None:
        pledge_amount = amount
        if other_currency:
            try:
                pledge_rate = book.lookup(pledge_currency, received_on)[0]
            except LedgerError:
                raise LedgerError(
                    {
                        "pledge": (
                            f"The pledge is in {pledge_currency} but the donation is in {currency}, "
                            f"and there is no {pledge_currency} rate on or before {received_on}."
                        )
                    }
                ) from None
            pledge_amount = money_round(base_amount / pledge_rate, pledge_currency)
    return {
        "rate": rate,
        "rate_date": rate_date,
        "rate_source": rate_source,
        "base_amount": base_amount,
        "pledge_amount": pledge_amount,
    }


def received_on_check(*, received_on: dt.date, today: dt.date | None = None) -> None:
    """Money is posted on or after the day it arrives: a date in the future is a typing mistake
    or a gift not here yet. Every posting path calls this (one donation, a batch, an import)."""
    today = today or timezone.localdate()
    if received_on > today:
        raise LedgerError(
            {
                "received_on": (
                    f"The date received, {received_on.isoformat()}, is in the future (today is "
                    f"{today.isoformat()}); a donation is posted on or after the day it is received."
                )
            }
        )


def donation_amounts(donation: Donation) -> dict:
    """`posting_amounts` for a donation (a draft, or one being posted)."""
    return posting_amounts(
        amount=donation.amount,
        currency=donation.currency,
        received_on=donation.received_on,
        rate=donation.rate,
        rate_source=donation.rate_source,
        pledge_currency=donation.pledge.currency if donation.pledge_id else None,
    )


def donation_post_preview(donation: Donation) -> dict:
    """What posting `donation` would freeze on it (`posting_amounts`: rate, its date and source,
    base amount, pledge amount), after every check posting makes; LedgerError when it cannot be
    posted. The confirmation page shows it; `donation_post` applies it."""
    if donation.is_posted:
        raise LedgerError(f"Donation {donation.reference} is already posted.")
    donation.full_clean()
    received_on_check(received_on=donation.received_on)
    return donation_amounts(donation)


@transaction.atomic
def donation_post(*, donation: Donation, by) -> Donation:
    """Freeze the rate and base amount and make the donation count. Posting twice is refused."""
    donation = Donation.objects.select_for_update().get(pk=donation.pk)
    for field, value in donation_post_preview(donation).items():
        setattr(donation, field, value)
    donation.status = Donation.Status.POSTED
    donation.posted_at = timezone.now()
    donation.posted_by = by
    donation.save()
    posted_totals_add(donations=Donation.objects.filter(pk=donation.pk))
    return donation


def donation_reverse_check(donation: Donation) -> None:
    """LedgerError when `donation` cannot be reversed: a draft, a reversal, or reversed already."""
    if not donation.is_posted:  # a posted donation never goes back to draft: no lock needed to say so
        raise LedgerError(f"Donation {donation.reference} is a draft; only posted donations are reversed.")
    reversal_check(donation, label=f"Donation {donation.reference}")


@transaction.atomic
def donation_reverse(*, donation: Donation, by, reason: str, on: dt.date | None = None) -> Donation:
    """Post the exact opposite of a posted donation, with the original rate, received `on` (today
    by default), and reverse its allocations. The reason is required and stored on the reversal."""
    donation = Donation.objects.get(pk=donation.pk)
    donation_reverse_check(donation)
    on = on or timezone.localdate()
    received_on_check(received_on=on)
    reversal = reversal_create(
        donation,
        label=f"Donation {donation.reference}",
        copied=["donor_id", "pledge_id", "instalment_id", "currency", "method", "rate", "rate_date", "rate_source"],
        negated=["amount", "base_amount", "pledge_amount"],
        reference=f"{donation.reference}-REV",
        received_on=on,
        note=f"Reversal of {donation.reference}",
        reversal_reason=reason,
        status=Donation.Status.POSTED,
        posted_at=timezone.now(),
        posted_by=by,
    )
    posted_totals_add(donations=Donation.objects.filter(pk=reversal.pk))
    donation_reversed.send(sender=Donation, donation=donation, reversal=reversal, by=by)
    return reversal


# Soft credits ---------------------------------------------------------------------------


def soft_credit_check(*, donation: Donation, donor: Donor, amount: Decimal | None = None) -> Decimal:
    """The amount a soft credit of `donation` to `donor` would have (what is left of the donation when
    no `amount`), or LedgerError: a draft, a reversal or a reversed donation, a donor crediting itself or
    a merged donor, an amount out of the currency's places, or credits adding up to more than the donation."""
    label = f"Donation {donation.reference}"
    if not donation.is_posted:
        raise LedgerError({"donation": f"{label} is a draft: post it first, then credit it to another donor."})
    if donation.is_reversal or Donation.objects.filter(reversal_of=donation).exists():
        raise LedgerError({"donation": f"{label} is reversed or is a reversal: it cannot be soft-credited."})
    if donor.pk == donation.donor_id:
        raise LedgerError({"donor": f"{donor} paid {label}: a donor cannot soft-credit itself."})
    if donor.merged_into_id:
        raise LedgerError({"donor": f"{donor} was merged into {donor.merged_into}: credit that donor instead."})
    if donation.soft_credits.filter(donor=donor).exists():
        raise LedgerError({"donor": f"{label} is already credited to {donor}."})
    credited = donation.soft_credits.aggregate(s=Sum("amount"))["s"] or Decimal(0)
    left = donation.amount - credited
    amount = left if amount is None else amount
    money_places_check(amount, donation.currency, field="amount")
    if amount <= 0 or amount > left:
        raise LedgerError(
            {
                "amount": (
                    f"{label} is {format_money(donation.amount, donation.currency)}, of which "
                    f"{format_money(credited, donation.currency)} is already credited to other donors: a soft credit "
                    f"is more than zero and at most {format_money(left, donation.currency)}."
                )
            }
        )
    return amount


@transaction.atomic
def soft_credit_create(*, donation: Donation, donor: Donor, kind: str, amount: Decimal | None = None, by) -> SoftCredit:
    """Credit `donor` with the posted `donation` (the whole of it when no `amount`, else a part), after
    `soft_credit_check`. The payer keeps the hard credit; the donation is not touched."""
    donation = Donation.objects.select_for_update().get(pk=donation.pk)  # one writer at a time per donation
    amount = soft_credit_check(donation=donation, donor=donor, amount=amount)
    soft_credit = SoftCredit(
        donation=donation,
        donor=donor,
        kind=kind,
        amount=amount,
        base_amount=base_amount_at(amount, donation.rate),
        created_by=by,
    )
    soft_credit.full_clean()
    soft_credit._history_user = by
    soft_credit.save()
    return soft_credit


@transaction.atomic
def soft_credit_remove(*, soft_credit: SoftCredit, by) -> None:
    """Take a soft credit back (recorded in its history). The donation and its hard credit are untouched."""
    soft_credit._history_user = by
    soft_credit.delete()


# Bulk -----------------------------------------------------------------------------------


class NewDonation(NamedTuple):
    """A donation to write in bulk (a file's row, a demo gift). `pledge_currency` goes with `pledge_id`."""

    reference: str
    donor_id: int
    received_on: dt.date
    amount: Decimal
    currency: str
    method: str = Donation.Method.BANK_TRANSFER
    note: str = ""
    rate: Decimal | None = None
    rate_source: str = ""
    pledge_id: int | None = None
    pledge_currency: str | None = None


class DonationsBulk:
    """Many new donations, as drafts or posted, written with COPY in the caller's transaction.

    `row(new)` applies the posting rule (`posting_amounts`, from a book of every rate: no query)
    and gives the row to write, or raises LedgerError keyed by field, as `donation_create` and
    `donation_post` would. `write(rows)` writes rows, each with its '+' history row; `finish()`
    adds the posted ones to the kept totals (donors.totals), which the rows were summed into as
    they were written. Apart, so that an import can check every row of a file and report every
    bad one before it writes any. The checks that need the database (a unique reference, an
    existing donor and pledge) are its constraints; an import looks them up first, to report them.
    """

    COLUMNS = [
        "reference", "donor_id", "pledge_id", "received_on", "amount", "currency", "method", "note",
        "rate", "rate_date", "rate_source", "base_amount", "pledge_amount",
    ]  # fmt: skip
    COMMON = ["status", "posted_at", "posted_by_id", "created_at", "batch_id"]  # set by `write`, not `row`
    CURRENCY = COLUMNS.index("currency")
    SUMMED = itemgetter(*map(COLUMNS.index, ["donor_id", "received_on", "currency", "amount", "base_amount"]))

    def __init__(self, *, by, post: bool, book: RateBook | None = None):
        self.post = post
        self.by_id = getattr(by, "pk", None)
        self.book = RateBook() if book is None else book
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.sums = PostedSums() if post else None
        self.donations = CopyWithHistory(Donation, ["id", *self.COLUMNS, *self.COMMON])

    def row(self, new: NewDonation) -> tuple:
        """The row to write for `new`, checked."""
        if self.post:
            received_on_check(received_on=new.received_on, today=self.today)
        amounts = posting_amounts(
            amount=new.amount,
            currency=new.currency,
            received_on=new.received_on,
            rate=new.rate,
            rate_source=new.rate_source,
            pledge_currency=new.pledge_currency,
            book=self.book,
        )
        given = (new.reference, new.donor_id, new.pledge_id, new.received_on, new.amount, new.currency, new.method)
        if not self.post:  # a draft keeps what it was given; a missing rate was still an error
            return (*given, new.note, new.rate, None, new.rate_source, None, None)
        return (
            *given,
            new.note,
            amounts["rate"],
            amounts["rate_date"],
            amounts["rate_source"],
            amounts["base_amount"],
            amounts["pledge_amount"],
        )

    def write(
        self,
        rows: list[tuple],
        *,
        batch: DonationBatch | None = None,
        batches: dict[str, DonationBatch] | None = None,
    ) -> None:
        """Write `rows` (from `row`), each with its '+' history row: in `batch` if given, or in
        the batch of its currency in `batches` (an import's batch per currency)."""
        if not rows:
            return
        if not connection.in_atomic_block:
            raise transaction.TransactionManagementError("Bulk donations are written inside transaction.atomic().")
        status = Donation.Status.POSTED if self.post else Donation.Status.DRAFT
        now = self.now
        posted_at, posted_by_id = (now, self.by_id) if self.post else (None, None)
        common = (status, posted_at, posted_by_id, now)
        batch_of = {currency: b.pk for currency, b in (batches or {}).items()}
        batch_id, currency = (batch.pk if batch else None), self.CURRENCY
        self.donations.write(
            [(*row, *common, batch_of[row[currency]] if batches else batch_id) for row in rows], now, self.by_id
        )
        if self.sums is not None:
            add, summed = self.sums.add, self.SUMMED
            for row in rows:
                add(*summed(row))

    def finish(self) -> None:
        """Add what was posted to the kept totals, in the same transaction."""
        if self.sums is not None:
            self.sums.save()
            self.sums = PostedSums()


@transaction.atomic
def donations_post_bulk(
    *,
    donations: Iterable[NewDonation],
    by,
    batch: DonationBatch | None = None,
    book: RateBook | None = None,
    chunk_size: int = 10_000,
) -> int:
    """Post many new donations at once (`DonationsBulk`), a chunk at a time so that memory stays
    flat, and return how many. A bad one raises LedgerError, and none is posted."""
    bulk = DonationsBulk(by=by, post=True, book=book)
    count = 0
    donations = iter(donations)
    while chunk := list(islice(donations, chunk_size)):
        bulk.write([bulk.row(new) for new in chunk], batch=batch)
        count += len(chunk)
    bulk.finish()
    return count


# Batches --------------------------------------------------------------------------------


@transaction.atomic
def batch_post(*, batch: DonationBatch, by) -> DonationBatch:
    """Post every draft donation in the batch, only if count and control total match."""
    batch = DonationBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status == DonationBatch.Status.POSTED:
        raise LedgerError(f"Batch {batch.reference} is already posted.")
    if refusal := batch.refusal():
        raise LedgerError(refusal)
    donations = batch.donations.filter(status=Donation.Status.DRAFT, reversal_of__isnull=True)
    figures = donations.aggregate(total=Sum("amount"))
    count = donations.count()
    total = figures["total"] or Decimal("0")
    problems = []
    if count != batch.expected_count:
        problems.append(f"it has {count} donations, {batch.expected_count} expected")
    if total != batch.expected_total:
        problems.append(
            f"they add up to {format_money(total, batch.currency)}, "
            f"{format_money(batch.expected_total, batch.currency)} expected"
        )
    if problems:
        raise LedgerError(f"Batch {batch.reference} cannot be posted: {'; '.join(problems)}.")
    for donation in donations.select_related("pledge"):
        donation_post(donation=donation, by=by)
    batch.status = DonationBatch.Status.POSTED
    batch.posted_at = timezone.now()
    batch.posted_by = by
    batch.save()
    return batch
