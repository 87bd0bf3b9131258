"""Writes of money out: agreements, budget versions, expenses and their charges. Every rule about
spending lives here, once; the posting rule itself is the donations' (`donors.services.posting_amounts`)."""

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from itertools import islice
from operator import attrgetter
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from backoffice.bulk import CopyWithHistory, history_send
from backoffice.errors import LedgerError
from backoffice.money import money_in_places, money_places_errors, money_round, split_largest_remainder
from backoffice.reversals import reversal_check, reversal_create
from backoffice.totals import groups_upsert
from donors.models import Pledge
from donors.rates import RateBook
from donors.services import posting_amounts
from grants.models import Output
from grants.services import obligations_generate

from .models import (
    Agreement,
    BudgetLine,
    BudgetVersion,
    Expense,
    ExpenseCharge,
    PostedChargeDayTotal,
    VarianceExplanation,
)
from .totals import charge_totals_add

HUNDRED = Decimal(100)

# Agreements ----------------------------------------------------------------------------


@transaction.atomic
def agreement_create(*, pledge: Pledge, funder_ref: str, start_date: dt.date, end_date: dt.date, **terms) -> Agreement:
    """The agreement of `pledge`, in the pledge's currency, and the reporting obligations its schedule creates."""
    if Agreement.objects.filter(pledge=pledge).exists():
        raise LedgerError({"pledge": f"Pledge {pledge.ref} already has an agreement."})
    agreement = Agreement(
        pledge=pledge,
        funder_ref=funder_ref,
        start_date=start_date,
        end_date=end_date,
        currency=pledge.currency,
        **terms,
    )
    agreement.full_clean()
    agreement.save()
    agreement_obligations_generate(agreement=agreement)
    return agreement


def agreement_obligations_generate(*, agreement: Agreement):
    """The pledge's reporting obligations for the agreement's schedule (grants' service: idempotent)."""
    if agreement.reporting_frequency == Agreement.Frequency.NONE:
        return []
    return obligations_generate(
        pledge=agreement.pledge,
        days_after=agreement.reporting_days_after,
        months=agreement.reporting_frequency,
        start=agreement.start_date,
        end=agreement.end_date,
    )


# Budgets -------------------------------------------------------------------------------


class NewLine(NamedTuple):
    code: str
    category: str
    year: int
    amount: Decimal
    description: str = ""
    output: Output | None = None
    indirect_eligible: bool = True


def current_budget(agreement: Agreement) -> BudgetVersion | None:
    """The agreement's latest approved budget version: the budget in force."""
    return agreement.budget_versions.approved().order_by("-number").first()


def budget_line_check(agreement: Agreement, line: BudgetLine) -> None:
    """A line is budgeted for a year the agreement covers."""
    if line.year and not agreement.start_date.year <= line.year <= agreement.end_date.year:
        raise LedgerError(
            {
                "year": (
                    f"Line {line.code}: {line.year} is outside the agreement's period "
                    f"({agreement.start_date} to {agreement.end_date})."
                )
            }
        )


@transaction.atomic
def budget_version_create(
    *, agreement: Agreement, lines: list[NewLine], reason: str = "", approved_by_funder: str = ""
) -> BudgetVersion:
    """A draft budget version with its lines: the original (number 1) or the next revision.
    Only one draft at a time; an approved version is never changed."""
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    if agreement.budget_versions.filter(status=BudgetVersion.Status.DRAFT).exists():
        raise LedgerError({"agreement": f"Agreement {agreement.funder_ref} has a draft budget: approve or edit it."})
    number = agreement.budget_versions.count() + 1
    version = BudgetVersion(agreement=agreement, number=number, reason=reason, approved_by_funder=approved_by_funder)
    version.full_clean()
    version.save()
    for new in lines:
        budget_line_add(version=version, **new._asdict())
    return version


@transaction.atomic
def budget_line_add(*, version: BudgetVersion, **fields) -> BudgetLine:
    if version.is_approved:
        raise LedgerError({"version": f"{version} is approved; make a revision."})
    line = BudgetLine(version=version, **fields)
    line.full_clean()
    budget_line_check(version.agreement, line)
    line.save()
    return line


def budget_revision_start(*, agreement: Agreement, reason: str = "") -> BudgetVersion:
    """A draft revision that starts as a copy of the current budget's lines."""
    current = current_budget(agreement)
    if current is None:
        raise LedgerError({"agreement": f"Agreement {agreement.funder_ref} has no approved budget to revise."})
    lines = [
        NewLine(x.code, x.category, x.year, x.amount, x.description, x.output, x.indirect_eligible)
        for x in current.lines.all()
    ]
    return budget_version_create(agreement=agreement, lines=lines, reason=reason)


@transaction.atomic
def budget_version_approve(
    *, version: BudgetVersion, approved_on: dt.date, approved_by_funder: str = "", reason: str | None = None
) -> BudgetVersion:
    """Approve a draft version: from now on it is the budget in force and never changes. A revision
    needs its reason and who approved it at the funder."""
    version = BudgetVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_approved:
        raise LedgerError({"status": f"{version} is already approved."})
    if approved_by_funder:
        version.approved_by_funder = approved_by_funder
    if reason is not None:
        version.reason = reason
    errors = {}
    if not version.lines.exists():
        errors["lines"] = "A budget needs at least one line."
    if approved_on is None:
        errors["approved_on"] = "Give the date the funder approved the budget."
    if version.number > 1 and not version.reason.strip():
        errors["reason"] = "A revision needs its reason."
    if version.number > 1 and not version.approved_by_funder.strip():
        errors["approved_by_funder"] = "A revision needs who approved it at the funder."
    if errors:
        raise LedgerError(errors)
    version.approved_on = approved_on
    version.status = BudgetVersion.Status.APPROVED
    version.full_clean()
    version.save()
    return version


# Expenses ------------------------------------------------------------------------------


class NewCharge(NamedTuple):
    """A charge asked for: `line` of an agreement's current budget, with an `amount` in the expense's
    currency or a `share` (a percentage) of the expense."""

    line: BudgetLine
    amount: Decimal | None = None
    share: Decimal | None = None
    output: Output | None = None


@transaction.atomic
def expense_create(
    *,
    reference: str,
    incurred_on: dt.date,
    paid_on: dt.date,
    payee: str,
    description: str,
    amount: Decimal,
    currency: str,
    charges: list[NewCharge] = (),
    **extra,
) -> Expense:
    """A draft expense and its charges. Nothing counts until it is posted."""
    expense = Expense(
        reference=reference,
        incurred_on=incurred_on,
        paid_on=paid_on,
        payee=payee,
        description=description,
        amount=amount,
        currency=currency,
        **extra,
    )
    expense.full_clean()
    expense_amounts(expense)  # a missing rate is an error now, not at posting
    expense.save()
    if charges:
        expense_charges_set(expense=expense, charges=charges)
    return expense


def expense_amounts(expense: Expense, *, book: RateBook | None = None) -> dict:
    """The rate, its date and source, and the base amount posting freezes: the donations' posting
    rule, on the day the expense was paid."""
    amounts = posting_amounts(
        amount=expense.amount,
        currency=expense.currency,
        received_on=expense.paid_on,
        rate=expense.rate,
        rate_source=expense.rate_source,
        book=book,
    )
    amounts.pop("pledge_amount")
    return amounts


def charge_amounts(*, expense_amount: Decimal, currency: str, charges: list[NewCharge]) -> list[Decimal]:
    """Each charge's amount in the expense's currency: as given, or its share of the expense. Shares
    are split by the largest remainder (with the part not charged as one more part), so that charges
    of 100% in all add up exactly to the expense."""
    amounts: list[Decimal | None] = []
    for i, charge in enumerate(charges, start=1):
        if (charge.amount is None) == (charge.share is None):
            raise LedgerError({"charges": f"Charge {i}: give an amount or a share, not both and not neither."})
        amounts.append(charge.amount)
    shares = [c.share for c in charges if c.share is not None]
    if shares == [HUNDRED] and len(charges) == 1:
        return [expense_amount]  # the whole: what the split below gives, without its work
    if shares:
        total = sum(shares, Decimal(0))
        if total > HUNDRED:
            raise LedgerError({"share": f"The shares add up to {total}%: more than the whole expense."})
        parts = iter(split_largest_remainder(expense_amount, [*shares, HUNDRED - total], currency))
        amounts = [a if a is not None else next(parts) for a in amounts]
    return amounts


def charge_check(
    *, expense: Expense, line: BudgetLine, amount: Decimal, output: Output | None, n: int = 1, currents=None
) -> None:
    """A charge is allowed: a positive amount, to a direct-cost line of its agreement's current
    budget, for an expense incurred inside the agreement's period, and to the line's output if it has one."""
    label = f"Charge {n} ({line.code})"
    agreement = line.version.agreement
    if amount is None or amount <= 0:
        raise LedgerError({"amount": f"{label}: the amount must be greater than zero."})
    if line.category == BudgetLine.Category.INDIRECT:
        raise LedgerError(
            {
                "line": (
                    f"{label}: indirect costs are worked out from the agreement's rate, never charged; "
                    "charge the expense to a direct-cost line."
                )
            }
        )
    if currents is None:
        current = current_budget(agreement)
    elif agreement.pk in currents:
        current = currents[agreement.pk]
    else:
        current = currents[agreement.pk] = current_budget(agreement)
    if current is None or line.version_id != current.pk:
        raise LedgerError(
            {
                "line": (
                    f"{label}: the line is not in agreement {agreement.funder_ref}'s current budget"
                    + (f" (version {current.number})." if current else "; it has no approved budget.")
                )
            }
        )
    if not agreement.start_date <= expense.incurred_on <= agreement.end_date:
        raise LedgerError(
            {
                "incurred_on": (
                    f"{label}: the expense was incurred on {expense.incurred_on}, outside agreement "
                    f"{agreement.funder_ref}'s period ({agreement.start_date} to {agreement.end_date})."
                )
            }
        )
    if agreement.status == Agreement.Status.CLOSED:
        raise LedgerError({"line": f"{label}: agreement {agreement.funder_ref} is closed."})
    if line.output_id and output is not None and output.pk != line.output_id:
        raise LedgerError({"output": f"{label}: line {line.code} is for output {line.output}, not {output}."})


def charges_total_check(*, expense: Expense, amounts: list[Decimal]) -> None:
    """The charges never add up to more than the expense."""
    total = sum(amounts, Decimal(0))
    if total > expense.amount:
        raise LedgerError(
            {
                "charges": (
                    f"The charges add up to {money_in_places(total, expense.currency)} {expense.currency}, more than "
                    f"the expense's {money_in_places(expense.amount, expense.currency)} {expense.currency}."
                )
            }
        )


def charges_check(*, expense: Expense, charges: list[NewCharge], currents=None) -> list[Decimal]:
    """Every rule of a draft expense's charges, before anything is written: their amounts. Bulk work
    passes `currents`, a dict that keeps each agreement's current budget once read."""
    amounts = charge_amounts(expense_amount=expense.amount, currency=expense.currency, charges=charges)
    for n, (charge, amount) in enumerate(zip(charges, amounts, strict=True), start=1):
        charge_check(expense=expense, line=charge.line, amount=amount, output=charge.output, n=n, currents=currents)
    charges_total_check(expense=expense, amounts=amounts)
    return amounts


@transaction.atomic
def expense_charges_set(*, expense: Expense, charges: list[NewCharge]) -> list[ExpenseCharge]:
    """Replace a draft expense's charges, every rule checked before anything is written."""
    expense = Expense.objects.select_for_update().get(pk=expense.pk)
    if expense.is_posted:
        raise LedgerError({"charges": f"Expense {expense.reference} is posted; reverse it to change its charges."})
    lines = BudgetLine.objects.select_related("version__agreement", "output").in_bulk({c.line.pk for c in charges})
    charges = [c._replace(line=lines[c.line.pk]) for c in charges]
    amounts = charges_check(expense=expense, charges=charges)
    expense.charges.all().delete()
    made = []
    for charge, amount in zip(charges, amounts, strict=True):
        line = charge.line
        row = ExpenseCharge(
            expense=expense,
            agreement=line.version.agreement,
            line=line,
            output=charge.output or line.output,
            amount=amount,
            share=charge.share,
        )
        row.full_clean()
        row.save()
        made.append(row)
    return made


def paid_on_check(*, paid_on: dt.date, today: dt.date | None = None) -> None:
    """An expense is posted on or after the day it is paid."""
    today = today or timezone.localdate()
    if paid_on > today:
        raise LedgerError(
            {
                "paid_on": (
                    f"The date paid, {paid_on.isoformat()}, is in the future (today is {today.isoformat()}); "
                    "an expense is posted on or after the day it is paid."
                )
            }
        )


def charge_postings(*, expense: Expense, base_amount: Decimal, charges: list[ExpenseCharge], book=None) -> list[dict]:
    """What posting freezes on each charge: its part of the expense's base amount (largest remainder,
    the part not charged being one more part) and its amount in the agreement's currency at the rate
    of the day paid (`spot_amount`)."""
    if not charges:
        return []
    weights = [c.amount for c in charges]
    rest = expense.amount - sum(weights, Decimal(0))
    if len(charges) == 1 and not rest:
        bases = [base_amount]  # the whole: what the split below gives, without its work
    else:
        bases = split_largest_remainder(base_amount, [abs(w) for w in weights] + [abs(rest)], settings.BASE_CURRENCY)[
            : len(charges)
        ]
    book = book or RateBook.closing(expense.paid_on, {c.agreement.currency for c in charges})
    postings = []
    for charge, base in zip(charges, bases, strict=True):
        currency = charge.agreement.currency
        if currency == expense.currency:
            spot = charge.amount
        else:
            rate = book.lookup(currency, expense.paid_on)[0]
            spot = money_round(base / rate, currency)
        postings.append({"base_amount": base, "spot_amount": spot})
    return postings


def charges_present_check(*, expense: Expense, charges: list) -> None:
    """A posted expense is charged to at least one budget line."""
    if not charges:
        raise LedgerError({"charges": f"Expense {expense.reference} is charged to no budget line."})


def expense_post_preview(expense: Expense) -> dict:
    """What posting `expense` freezes (rate, its date and source, base amount, each charge's base and
    spot amounts), after every check posting makes; LedgerError when it cannot be posted."""
    if expense.is_posted:
        raise LedgerError(f"Expense {expense.reference} is already posted.")
    expense.full_clean()
    paid_on_check(paid_on=expense.paid_on)
    charges = list(expense.charges.select_related("line__version__agreement", "agreement", "output"))
    charges_present_check(expense=expense, charges=charges)
    for n, charge in enumerate(charges, start=1):
        charge_check(expense=expense, line=charge.line, amount=charge.amount, output=charge.output, n=n)
    charges_total_check(expense=expense, amounts=[c.amount for c in charges])
    amounts = expense_amounts(expense)
    postings = charge_postings(expense=expense, base_amount=amounts["base_amount"], charges=charges)
    return {**amounts, "charges": list(zip(charges, postings, strict=True))}


@transaction.atomic
def expense_post(*, expense: Expense, by) -> Expense:
    """Freeze the rate, base amount and charges' amounts, and make the expense count."""
    expense = Expense.objects.select_for_update().get(pk=expense.pk)
    preview = expense_post_preview(expense)
    for charge, posting in preview.pop("charges"):
        for field, value in posting.items():
            setattr(charge, field, value)
        charge.save()
    for field, value in preview.items():
        setattr(expense, field, value)
    expense.status = Expense.Status.POSTED
    expense.posted_at = timezone.now()
    expense.posted_by = by
    expense.save()
    charge_totals_add(expense_ids=[expense.pk])
    return expense


def expense_reverse_check(expense: Expense) -> None:
    if not expense.is_posted:
        raise LedgerError(f"Expense {expense.reference} is a draft; only posted expenses are reversed.")
    reversal_check(expense, label=f"Expense {expense.reference}")


@transaction.atomic
def expense_reverse(*, expense: Expense, by, reason: str, on: dt.date | None = None) -> Expense:
    """Post the exact opposite of a posted expense and of each of its charges, incurred and paid `on`
    (today by default), with the original's rate. The reason is required and stored on the reversal."""
    expense = Expense.objects.get(pk=expense.pk)
    expense_reverse_check(expense)
    on = on or timezone.localdate()
    paid_on_check(paid_on=on)
    reversal = reversal_create(
        expense,
        label=f"Expense {expense.reference}",
        copied=["payee", "currency", "rate", "rate_date", "rate_source"],
        negated=["amount", "base_amount"],
        reference=f"{expense.reference}-REV",
        incurred_on=on,
        paid_on=on,
        description=f"Reversal of {expense.reference}",
        reversal_reason=reason,
    )
    # The charges go on while the reversal is a draft (a posted expense's charges are immutable).
    for c in expense.charges.all():
        ExpenseCharge(
            expense=reversal,
            agreement_id=c.agreement_id,
            line_id=c.line_id,
            output_id=c.output_id,
            amount=-c.amount,
            share=c.share,
            base_amount=-c.base_amount,
            spot_amount=-c.spot_amount,
        ).save()
    reversal.status = Expense.Status.POSTED
    reversal.posted_at = timezone.now()
    reversal.posted_by = by
    reversal.save()
    charge_totals_add(expense_ids=[reversal.pk])
    return reversal


# Bulk ------------------------------------------------------------------------------------


class NewExpense(NamedTuple):
    """An expense to write in bulk (demo data, the expense import), with its charges. Each charge's
    `line` comes with its version's agreement and its output loaded (select_related)."""

    reference: str
    incurred_on: dt.date
    paid_on: dt.date
    payee: str
    description: str
    amount: Decimal
    currency: str
    charges: list[NewCharge]
    rate: Decimal | None = None  # blank: the latest rate on or before paid_on (the posting rule)


class ExpensesBulk:
    """Many new expenses and their charges, as drafts or posted, written with COPY in the caller's
    transaction (as `donors.services.DonationsBulk` writes donations).

    `row(new)` holds `new` to every rule one expense is held to (the model's `clean`, `paid_on_check`
    when posting, the posting rule `expense_amounts`, `charges_check`, and at posting
    `charge_postings`) and gives the rows to write, or raises LedgerError keyed by field, as
    `expense_create`, `expense_charges_set` and `expense_post` would. `write(rows)` writes them, each
    with its '+' history row; `finish()` adds the posted charges to the kept totals (spending.totals),
    which they were summed into as they were written. Apart, so that an import can check every row of
    a file and report every bad one before it writes any. A unique reference is the database's
    constraint; an import looks the references up first, to report them.
    """

    EXPENSE = [
        "reference", "incurred_on", "paid_on", "payee", "description", "amount", "currency",
        "rate", "rate_date", "rate_source", "base_amount",
    ]  # fmt: skip
    EXPENSE_COMMON = ["evidence", "reversal_reason", "status", "posted_at", "posted_by_id", "created_at"]
    CHARGE = ["agreement_id", "line_id", "output_id", "amount", "share", "base_amount", "spot_amount"]
    INCURRED_ON, CURRENCY = EXPENSE.index("incurred_on"), EXPENSE.index("currency")
    _expense_values = attrgetter(*EXPENSE)  # an expense's values, as a tuple in EXPENSE's order

    def __init__(self, *, by, post: bool, book: RateBook | None = None, fields_checked: bool = False):
        """`fields_checked`: each value given has passed its model field's validators already (an
        import's cell parsers check the lengths and characters); the model's `clean()` still runs."""
        self.post = post
        self.fields_checked = fields_checked
        self.by_id = getattr(by, "pk", None)
        self.book = RateBook() if book is None else book
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.currents: dict = {}  # each agreement's current budget, read once
        self._expense = Expense()  # each row's values in turn, for the model's checks
        self._fields = [Expense._meta.get_field(name) for name in NewExpense._fields if name != "charges"]
        self._checked: dict[str, set] = {field.name: set() for field in self._fields}
        # The posted charges summed as they are written, by the kept totals' key: added by `finish()`.
        self.sums: dict[tuple, list] | None = {} if post else None
        self.expenses = CopyWithHistory(Expense, ["id", *self.EXPENSE, *self.EXPENSE_COMMON])
        self.charges = CopyWithHistory(ExpenseCharge, ["id", "expense_id", *self.CHARGE])

    def row(self, new: NewExpense) -> tuple[tuple, list[tuple]]:
        """The expense's row and its charges' rows for `new`, checked."""
        expense = self._expense
        for name, value in zip(new._fields, new, strict=True):
            if name != "charges":
                setattr(expense, name, value)
        expense.rate_date, expense.rate_source, expense.base_amount = None, "", None
        if not self.fields_checked:
            self._fields_check(expense)
        expense.clean()
        if self.post:
            paid_on_check(paid_on=new.paid_on, today=self.today)
            charges_present_check(expense=expense, charges=new.charges)
        amounts = expense_amounts(expense, book=self.book)  # a missing rate is an error, even for a draft
        for i, charge in enumerate(new.charges, start=1):
            if charge.amount is not None and (errors := money_places_errors({"amount": (charge.amount, new.currency)})):
                raise LedgerError({"charges": [f"Charge {i} ({charge.line.code}): {m}" for m in errors["amount"]]})
        charge_amounts_ = charges_check(expense=expense, charges=new.charges, currents=self.currents)
        made = [
            _BulkCharge(c.line.version.agreement, c.line, c.output or c.line.output, amount, c.share)
            for c, amount in zip(new.charges, charge_amounts_, strict=True)
        ]
        postings = [{"base_amount": None, "spot_amount": None}] * len(made)  # a draft's charges are not posted
        if self.post:
            for field, value in amounts.items():
                setattr(expense, field, value)
            postings = charge_postings(expense=expense, base_amount=expense.base_amount, charges=made, book=self.book)
        return (
            self._expense_values(expense),
            [
                (c.agreement.id, c.line.id, c.output.id if c.output else None, c.amount, c.share,
                 p["base_amount"], p["spot_amount"])
                for c, p in zip(made, postings, strict=True)
            ],
        )  # fmt: skip

    def _fields_check(self, expense: Expense) -> None:
        """What `full_clean` checks of each field given (its validators: length, plain text, places),
        each value once: a payee, a date or a currency repeats over a file, and the checks are
        functions of the value alone."""
        errors = {}
        for field in self._fields:
            value = getattr(expense, field.attname)
            if field.blank and value in field.empty_values:
                continue  # as full_clean: a blank allowed is not checked
            checked = self._checked[field.name]
            key = value.as_tuple() if isinstance(value, Decimal) else value  # 1.5 and 1.50 apart
            if key in checked:
                continue
            try:
                setattr(expense, field.attname, field.clean(value, expense))
            except ValidationError as error:
                errors[field.name] = error.messages
                continue
            if len(checked) < 4096:
                checked.add(key)
        if errors:
            raise ValidationError(errors)

    def write(self, rows: list[tuple[tuple, list[tuple]]]) -> None:
        """Write `rows` (from `row`), each expense and charge with its '+' history row."""
        if not rows:
            return
        if not connection.in_atomic_block:
            raise transaction.TransactionManagementError("Bulk expenses are written inside transaction.atomic().")
        now = self.now
        if self.post:
            common = ("", "", Expense.Status.POSTED.value, now, self.by_id, now)
        else:
            common = ("", "", Expense.Status.DRAFT.value, None, None, now)
        ids = self.expenses.copy([(*expense, *common) for expense, _charges in rows])
        charge_ids = self.charges.copy(
            [(expense_id, *charge) for expense_id, (_e, charges) in zip(ids, rows, strict=True) for charge in charges]
        )
        history_send([(self.expenses, ids), (self.charges, charge_ids)], self.now, self.by_id)
        if self.sums is not None:
            sums, incurred_on, currency = self.sums, self.INCURRED_ON, self.CURRENCY
            for expense, charges in rows:
                for agreement_id, line_id, _output_id, amount, _share, base_amount, spot_amount in charges:
                    key = (agreement_id, line_id, expense[incurred_on], expense[currency])
                    group = sums.get(key)
                    if group is None:
                        sums[key] = [1, amount, base_amount, spot_amount]
                    else:
                        group[0] += 1
                        group[1] += amount
                        group[2] += base_amount
                        group[3] += spot_amount

    def finish(self) -> None:
        """Add the posted charges to the kept totals (spending.totals), in the same transaction."""
        if self.sums:
            groups_upsert(
                PostedChargeDayTotal,
                keys=["agreement_id", "line_id", "incurred_on", "currency"],
                sums=["count", "amount", "base_amount", "spot_amount"],
                groups=self.sums,
            )
            self.sums = {}


class _BulkCharge(NamedTuple):
    """A charge to write in bulk: what `charge_postings` reads of an ExpenseCharge, without the model."""

    agreement: Agreement
    line: BudgetLine
    output: Output | None
    amount: Decimal
    share: Decimal | None


@transaction.atomic
def expenses_post_bulk(*, expenses: Iterable[NewExpense], by, book: RateBook | None = None, chunk_size=10_000) -> int:
    """Post many new expenses with their charges (`ExpensesBulk`), a chunk at a time so that memory
    stays flat, and return how many. A bad one raises LedgerError and none is posted."""
    bulk = ExpensesBulk(by=by, post=True, book=book)
    count = 0
    expenses = iter(expenses)
    while chunk := list(islice(expenses, chunk_size)):
        line_ids = {c.line.pk for new in chunk for c in new.charges}
        lines = BudgetLine.objects.select_related("version__agreement", "output").in_bulk(line_ids)
        rows = []
        for new in chunk:
            rows.append(bulk.row(new._replace(charges=[c._replace(line=lines[c.line.pk]) for c in new.charges])))
        bulk.write(rows)
        count += len(chunk)
    bulk.finish()
    return count


def conversion_method() -> str:
    method = settings.SPENDING_CONVERSION
    if method not in ("average", "spot"):
        raise LedgerError(f"SPENDING_CONVERSION is {method!r}; use 'average' or 'spot'.")
    return method


# Variance explanations -------------------------------------------------------------------


@transaction.atomic
def variance_explanation_save(
    *, agreement: Agreement, start: dt.date, end: dt.date, line_code: str, text: str, by
) -> VarianceExplanation:
    """Write (or rewrite) the explanation of a line's variance in the period start..end. A report already
    made keeps the text it copied; the next one reads this."""
    explanation = VarianceExplanation.objects.select_for_update().filter(
        agreement=agreement, period_start=start, period_end=end, line_code=line_code
    ).first() or VarianceExplanation(agreement=agreement, period_start=start, period_end=end, line_code=line_code)
    explanation.text = (text or "").strip()
    explanation.written_by, explanation.written_at = by, timezone.now()
    explanation.full_clean()
    explanation.save()
    return explanation
