"""What the ledger says for IATI: each activity's transactions and budgets, read as of a time.

An activity is a programme (`("programme", id)`), one of its outputs (`("output", id)`), or the
core activity (`CORE`) that holds money no funder restricted. Money lands where the funder's
restriction puts it (docs/iati.md says why): a pledge and the donations paid under it on the output
or programme it is restricted to, unrestricted money on the core activity; an expense on the output
or programme its charges fund, and what is charged to no budget line on the core activity.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from donors.models import Donation, Donor, Pledge, WriteOff
from spending.models import Agreement, Expense, ExpenseCharge
from spending.services import current_budget

CORE = ("core", 0)
ActivityKey = tuple[str, int]


@dataclass(frozen=True)
class Funder:
    """A transaction's provider: named only when the donor agreed to be acknowledged (and is not a person)."""

    name: str  # "" when anonymous
    type_code: str  # IATI OrganisationType; "" when anonymous

    @property
    def anonymous(self) -> bool:
        return not self.name


# IATI's OrganisationType for each kind of donor.
DONOR_TYPE = {
    Donor.Kind.GOVERNMENT: "10",
    Donor.Kind.COMPANY: "70",
    Donor.Kind.FOUNDATION: "60",
    Donor.Kind.CIVIL_SOCIETY: "21",
    Donor.Kind.INTERGOVERNMENTAL: "40",
}
ANONYMOUS = Funder(name="", type_code="")


def funder_of(donor: Donor) -> Funder:
    if not donor.publicly_acknowledged or donor.kind == Donor.Kind.INDIVIDUAL:
        return ANONYMOUS
    return Funder(name=donor.name, type_code=DONOR_TYPE[donor.kind])


@dataclass(frozen=True)
class Transaction:
    activity: ActivityKey
    type_code: str  # IATI TransactionType: 11 incoming commitment, 1 incoming funds, 4 expenditure
    date: dt.date  # the transaction-date: when the money came in, was committed, or the expense incurred
    value_date: dt.date  # the day whose rate converts it: received, committed, or paid
    amount: Decimal
    currency: str
    funder: Funder | None  # the provider of incoming money; None on expenditure
    description: str
    sort_key: tuple  # the ledger row it comes from, for a stable order


@dataclass(frozen=True)
class Budget:
    activity: ActivityKey
    year: int
    currency: str
    amount: Decimal
    revised: bool  # from a revised budget version (IATI BudgetType 2) rather than the original (1)


def pledge_activity(pledge: Pledge) -> ActivityKey:
    if pledge.restricted_output_id:
        return ("output", pledge.restricted_output_id)
    if pledge.restricted_programme_id:
        return ("programme", pledge.restricted_programme_id)
    return CORE


def commitments(*, on: dt.date) -> list[Transaction]:
    """Incoming commitments: each pledge's total on its start date, less each write-off on its day.
    A cancelled pledge commits nothing."""
    pledges = Pledge.objects.filter(start_date__lte=on).filter(Q(cancelled_on__isnull=True) | Q(cancelled_on__gt=on))
    found = [
        Transaction(
            activity=pledge_activity(p),
            type_code="11",
            date=p.start_date,
            value_date=p.start_date,
            amount=p.total,
            currency=p.currency,
            funder=funder_of(p.donor),
            description=p.title,
            sort_key=("pledge", p.pk),
        )
        for p in pledges.select_related("donor")
    ]
    write_offs = WriteOff.objects.filter(pledge__in=pledges, written_off_on__lte=on).select_related("pledge__donor")
    found += [
        Transaction(
            activity=pledge_activity(w.pledge),
            type_code="11",
            date=w.written_off_on,
            value_date=w.written_off_on,
            amount=-w.amount,
            currency=w.pledge.currency,
            funder=funder_of(w.pledge.donor),
            description=f"Written off: {w.pledge.title}",
            sort_key=("writeoff", w.pk),
        )
        for w in write_offs
    ]
    return found


def incoming_funds(*, on: dt.date) -> list[Transaction]:
    """Incoming funds: each posted donation (a reversal negative) in its currency on the day received."""
    donations = Donation.objects.posted().filter(received_on__lte=on).select_related("donor", "pledge")
    return [
        Transaction(
            activity=pledge_activity(d.pledge) if d.pledge_id else CORE,
            type_code="1",
            date=d.received_on,
            value_date=d.received_on,
            amount=d.amount,
            currency=d.currency,
            funder=funder_of(d.donor),
            description=d.pledge.title if d.pledge_id else "Unrestricted donation",
            sort_key=("donation", d.pk),
        )
        for d in donations
    ]


def charge_activity(charge: ExpenseCharge) -> ActivityKey:
    output_id = charge.output_id or charge.line.output_id
    return ("output", output_id) if output_id else pledge_activity(charge.agreement.pledge)


def expenditures(*, on: dt.date) -> list[Transaction]:
    """Expenditure: each posted expense paid by `on`, dated the day it was incurred, split over the
    activities its charges fund (in the expense's currency); what no charge covers goes to the core activity."""
    expenses = Expense.objects.posted().filter(paid_on__lte=on).order_by("pk")
    charges = (
        ExpenseCharge.objects.filter(expense__in=expenses)
        .select_related("line", "agreement__pledge")
        .order_by("expense_id", "pk")
    )
    by_expense: dict[int, dict[ActivityKey, list]] = defaultdict(lambda: defaultdict(list))
    for charge in charges:
        by_expense[charge.expense_id][charge_activity(charge)].append(charge)
    found = []
    for expense in expenses:
        parts = by_expense.get(expense.pk, {})
        charged = Decimal(0)
        for activity, its in parts.items():
            amount = sum((c.amount for c in its), Decimal(0))
            charged += amount
            categories = sorted({c.line.get_category_display() for c in its})
            found.append(
                Transaction(
                    activity=activity,
                    type_code="4",
                    date=expense.incurred_on,
                    value_date=expense.paid_on,
                    amount=amount,
                    currency=expense.currency,
                    funder=None,
                    description="; ".join(categories),
                    sort_key=("expense", expense.pk),
                )
            )
        if rest := expense.amount - charged:
            found.append(
                Transaction(
                    activity=CORE,
                    type_code="4",
                    date=expense.incurred_on,
                    value_date=expense.paid_on,
                    amount=rest,
                    currency=expense.currency,
                    funder=None,
                    description="Not charged to a funder's budget",
                    sort_key=("expense", expense.pk),
                )
            )
    return found


def transactions(*, on: dt.date) -> list[Transaction]:
    return commitments(on=on) + incoming_funds(on=on) + expenditures(on=on)


def budgets() -> list[Budget]:
    """Each agreement's budget in force, per activity, currency and calendar year."""
    sums: dict[tuple, Decimal] = defaultdict(Decimal)
    revised: dict[tuple, bool] = defaultdict(bool)
    for agreement in Agreement.objects.select_related("pledge").order_by("pk"):
        version = current_budget(agreement)
        if version is None:
            continue
        for line in version.lines.order_by("pk"):
            key = (
                ("output", line.output_id) if line.output_id else pledge_activity(agreement.pledge),
                line.year,
                agreement.currency,
            )
            sums[key] += line.amount
            revised[key] |= version.number > 1
    return [
        Budget(activity=key[0], year=key[1], currency=key[2], amount=amount, revised=revised[key])
        for key, amount in sums.items()
    ]
