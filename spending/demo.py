"""Demo money out: agreements for most government pledges, each with an original budget and a revision,
and about 2,000 posted expenses (some split between two funders, some lines over budget).

Called by seed_demo through `grants.signals.demo_seeded`. Agreements are made only for pledges that
have none, so running it again inserts nothing. Everything goes through the services' rules; the
expenses are posted in bulk (`expenses_post_bulk`).
"""

import datetime as dt
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from backoffice.money import money_round, split_largest_remainder
from donors.models import Donor, Pledge
from donors.rates import RateBook
from grants.models import Output

from . import services
from .models import Agreement, BudgetLine
from .services import NewCharge, NewExpense, NewLine

LAST_SPEND = dt.date(2026, 10, 30)  # the demo's ledger ends here, as its gifts do
# code, category, description, share of the budget
LINES = [
    ("1.1", "personnel", "Programme staff", 35),
    ("1.2", "travel", "Travel", 10),
    ("2.1", "events", "Regional workshops and summit", 25),
    ("2.2", "contractual", "Research contracts", 15),
    ("3.1", "supplies", "Publications and translation", 5),
]
PAYEES = {
    "personnel": ["Payroll", "Payroll", "Interim staffing agency"],
    "travel": ["Skyward Travel Ltd", "Rail Europe", "Hotel Metropol"],
    "events": ["Conference Centre Geneva", "Nairobi Convention Hall", "AV Rentals Ltd"],
    "contractual": ["University of Leeds", "Insight Research Ltd", "Data Lab Institute"],
    "supplies": ["PrintWorks Ltd", "Lingua Translations", "Design Studio Nord"],
}


def seed_spending(*, rng, by) -> dict:
    book = RateBook()
    pledges = list(
        Pledge.objects.filter(donor__kind=Donor.Kind.GOVERNMENT, cancelled_on__isnull=True)
        .select_related("donor")
        .order_by("ref")
    )
    events = list(Output.objects.filter(kind=Output.Kind.EVENT).order_by("title"))
    chosen = [p for i, p in enumerate(pledges) if i % 4 != 3]  # most, not all
    fresh = [p for p in chosen if not Agreement.objects.filter(pledge=p).exists()]
    agreements = [_agreement(pledge, rng, events) for pledge in fresh]
    expenses = []
    for agreement in agreements:
        expenses.extend(_expenses(agreement, rng, book, agreements))
    posted = services.expenses_post_bulk(expenses=expenses, by=by, book=book) if expenses else 0
    return {"agreements": len(agreements), "expenses": posted}


def _months_in(year: int, start: dt.date, end: dt.date) -> int:
    first = max(start, dt.date(year, 1, 1))
    last = min(end, dt.date(year, 12, 31))
    return (last.year - first.year) * 12 + last.month - first.month + 1


def _agreement(pledge: Pledge, rng, events) -> Agreement:
    indirect = rng.choice([Decimal("0"), Decimal("7"), Decimal("10")])
    agreement = services.agreement_create(
        pledge=pledge,
        funder_ref=pledge.agreement_ref or f"GA-{pledge.ref}",
        start_date=pledge.start_date,
        end_date=pledge.end_date,
        indirect_rate=indirect,
        status=Agreement.Status.ACTIVE,
    )
    years = list(range(pledge.start_date.year, pledge.end_date.year + 1))
    budget = money_round(pledge.total * Decimal("0.9"), pledge.currency)
    by_year = split_largest_remainder(
        budget, [Decimal(_months_in(y, pledge.start_date, pledge.end_date)) for y in years], pledge.currency
    )
    kinds = [*LINES, *([("9.1", "indirect", "Indirect costs", 6)] if indirect else [])]
    output = rng.choice(events) if events else None
    lines = []
    for year, amount in zip(years, by_year, strict=True):
        parts = split_largest_remainder(amount, [Decimal(share) for *_, share in kinds], pledge.currency)
        lines += [
            NewLine(
                code=code,
                category=category,
                year=year,
                amount=part,
                description=description,
                output=output if category == "events" else None,
                indirect_eligible=category != "indirect",
            )
            for (code, category, description, _), part in zip(kinds, parts, strict=True)
        ]
    original = services.budget_version_create(agreement=agreement, lines=lines)
    services.budget_version_approve(version=original, approved_on=pledge.start_date)
    revised_on = pledge.start_date + relativedelta(months=12)
    if revised_on <= LAST_SPEND:
        revision = services.budget_revision_start(
            agreement=agreement, reason="The summit moved to a larger venue; travel money moved to events."
        )
        travel = revision.lines.filter(code="1.2")
        moved = sum(line.amount for line in travel) * Decimal("0.3")
        moves = split_largest_remainder(
            money_round(moved, agreement.currency), [line.amount for line in travel], agreement.currency
        )
        for line, move in zip(travel, moves, strict=True):
            BudgetLine.objects.filter(pk=line.pk).update(amount=line.amount - move)
            BudgetLine.objects.filter(version=revision, code="2.1", year=line.year).update(
                amount=revision.lines.get(code="2.1", year=line.year).amount + move
            )
        services.budget_version_approve(
            version=revision, approved_on=revised_on, approved_by_funder=f"Grant manager, {pledge.donor.name}"
        )
    return agreement


def _expenses(agreement: Agreement, rng, book, agreements) -> list[NewExpense]:
    """Spend on each direct line for the part of its year gone by, most lines a little under budget,
    about one in ten over; about one expense in twenty split with another agreement's events line."""
    current = services.current_budget(agreement)
    made = []
    for line in current.lines.exclude(category=BudgetLine.Category.INDIRECT).order_by("year", "code"):
        first = max(agreement.start_date, dt.date(line.year, 1, 1))
        last = min(agreement.end_date, dt.date(line.year, 12, 31))
        if first > LAST_SPEND:
            continue
        gone = min(last, LAST_SPEND)
        fraction = Decimal((gone - first).days + 1) / Decimal((last - first).days + 1)
        factor = Decimal("1.25") if rng.random() < 0.1 else Decimal(rng.randint(75, 98)) / 100
        target = money_round(line.amount * fraction * factor, agreement.currency)
        count = rng.randint(6, 14)
        if target < count:
            continue
        parts = split_largest_remainder(target, [Decimal(rng.randint(5, 15)) for _ in range(count)], agreement.currency)
        for part in parts:
            incurred = first + dt.timedelta(days=rng.randint(0, (gone - first).days))
            paid = min(incurred + dt.timedelta(days=rng.randint(0, 30)), LAST_SPEND)
            currency, amount = agreement.currency, part
            if currency != "GBP" and rng.random() < 0.2:  # paid from the alliance's sterling account
                rate = book.lookup(currency, paid)[0]
                currency, amount = "GBP", money_round(part * rate, "GBP")
            charges = [NewCharge(line, share=Decimal("100"))]
            other = _partner_line(agreement, line, incurred, agreements) if rng.random() < 0.05 else None
            if other is not None:
                charges = [NewCharge(line, share=Decimal("60")), NewCharge(other, share=Decimal("40"))]
            n = len(made) + 1
            made.append(
                NewExpense(
                    reference=f"EXP-{agreement.pledge.ref}-{n:04d}",
                    incurred_on=incurred,
                    paid_on=paid,
                    payee=rng.choice(PAYEES[line.category]),
                    description=f"{line.description}, {incurred:%B %Y}"
                    + (" (shared with another funder)" if other is not None else ""),
                    amount=amount,
                    currency=currency,
                    charges=charges,
                )
            )
    return made


def _partner_line(agreement, line, incurred, agreements):
    """Another agreement's line of the same code and year, where the expense falls in its period."""
    for other in agreements:
        if other.pk != agreement.pk and other.start_date <= incurred <= other.end_date:
            current = services.current_budget(other)
            found = current.lines.filter(code=line.code, year=incurred.year).first()
            if found is not None:
                return found
    return None
