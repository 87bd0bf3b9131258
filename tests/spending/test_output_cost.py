"""What an output cost: direct charges at their frozen base amounts, plus each agreement's indirect
rate on the output's eligible charges; checked on a worked example and, with hypothesis, against
plain sums over the ledger rows."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from spending import services
from spending.models import Agreement, ExpenseCharge
from spending.selectors import budget_vs_actual, output_cost, output_costs
from spending.services import NewCharge, NewLine
from tests.factories import OutputFactory, RateFactory, role_user
from tests.spending.helpers import agreement_with_budget, line

from .test_budget_vs_actual import spend

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
ZERO = Decimal("0.00")


def test_worked_example_direct_indirect_and_full_cost(db, finance_user):
    output = OutputFactory()
    uk = agreement_with_budget(funder_ref="UK", indirect_rate=Decimal("10"))
    a1, a2 = line(uk, "A1"), line(uk, "A2")
    spend(finance_user, "S1", "1000.00", [NewCharge(a1, amount=Decimal("600.00"), output=output),
                                          NewCharge(a2, amount=Decimal("400.00"))])  # fmt: skip
    spend(
        finance_user, "S2", "250.00", [NewCharge(a2, amount=Decimal("250.00"), output=output)], on=dt.date(2026, 1, 5)
    )
    cost = output_cost(output=output, start=START, end=END)
    assert (cost.direct_period, cost.indirect_period, cost.full_cost_period) == (
        Decimal("600.00"), Decimal("60.00"), Decimal("660.00"),
    )  # fmt: skip
    later = output_cost(output=output, start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31))
    assert (later.direct_period, later.direct_to_date, later.indirect_to_date) == (
        Decimal("250.00"), Decimal("850.00"), Decimal("85.00"),
    )  # fmt: skip
    # The charge to no output is kept apart, under None.
    assert output_costs(end=END)[None].direct_to_date == Decimal("400.00")


def test_a_line_for_an_output_counts_for_it_and_a_reversal_nets_to_nothing(db, finance_user):
    output = OutputFactory()
    lines = [NewLine(code="E1", category="events", year=2025, amount=Decimal("900.00"), output=output)]
    agreement = agreement_with_budget(funder_ref="EV", indirect_rate=Decimal("12.5"), lines=lines)
    posted = spend(finance_user, "S1", "80.00", [NewCharge(line(agreement, "E1"), amount=Decimal("80.00"))])
    cost = output_cost(output=output, end=END)
    assert (cost.direct_to_date, cost.indirect_to_date, cost.direct_period) == (
        Decimal("80.00"), Decimal("10.00"), ZERO,
    )  # fmt: skip
    services.expense_reverse(expense=posted, by=finance_user, reason="Wrong event", on=dt.date(2025, 4, 1))
    assert output_cost(output=output, end=END).full_cost_to_date == ZERO
    # Before the reversal's day, the expense still counts.
    assert output_cost(output=output, end=dt.date(2025, 3, 31)).direct_to_date == Decimal("80.00")


def test_the_indirect_rule_is_budget_vs_actuals(db, finance_user):
    """All the charges of a GBP agreement on one output: the output's indirect cost is the agreement's."""
    output = OutputFactory()
    uk = agreement_with_budget(funder_ref="UK", indirect_rate=Decimal("7.5"), indirect_base="direct")
    for n, cents in enumerate([12345, 6789, 1]):
        spend(finance_user, f"S{n}", Decimal(cents) / 100, [NewCharge(line(uk, "A2"), amount=Decimal(cents) / 100,
                                                                      output=output)])  # fmt: skip
    figures = budget_vs_actual(uk, start=START, end=END)
    cost = output_cost(output=output, start=START, end=END)
    assert (cost.direct_period, cost.indirect_period) == (figures.direct_period, figures.indirect_period)


def half_up(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# An expense: currency, cents, day of 2025, its charges as (line index, cents, output index or None), reversed?
expense = st.tuples(
    st.sampled_from(["GBP", "USD"]),
    st.integers(1, 2000_00),
    st.integers(0, 500),
    st.lists(st.tuples(st.integers(0, 3), st.integers(1, 1000_00), st.sampled_from([0, 1, None])), min_size=1,
             max_size=3),
    st.booleans(),
)  # fmt: skip


class TestOutputCostInvariants(HypothesisTestCase):
    @settings(max_examples=20, deadline=None)
    @given(expenses=st.lists(expense, max_size=5), period_start=st.integers(0, 300))
    def test_every_cost_equals_a_sum_over_the_ledger(self, expenses, period_start):
        user = role_user("Finance", username="f")
        RateFactory(currency="USD", date=dt.date(2024, 12, 1), rate=Decimal("0.79"))
        outputs = [OutputFactory(), OutputFactory()]
        uk_lines = [
            NewLine(code=code, category=category, year=2025, amount=Decimal("1000.00"), indirect_eligible=eligible)
            for code, category, eligible in (("A1", "personnel", True), ("A2", "travel", False))
        ]
        uk = agreement_with_budget(funder_ref="UK", indirect_rate=Decimal("7.5"), lines=uk_lines)
        us = agreement_with_budget(funder_ref="US", currency="USD", indirect_rate=Decimal("12"), indirect_base="direct")
        lines = [line(uk, "A1"), line(uk, "A2"), line(us, "A1"), line(us, "A2")]
        for n, (currency, cents, day, charges, reverse) in enumerate(expenses):
            on = dt.date(2025, 1, 1) + dt.timedelta(days=day)
            asked = [
                NewCharge(lines[i], amount=Decimal(c) / 100, output=None if o is None else outputs[o])
                for i, c, o in charges
            ]
            try:
                posted = spend(user, f"E{n}", Decimal(cents) / 100, asked, currency=currency, on=on)
            except ValidationError:
                continue
            if reverse:
                services.expense_reverse(expense=posted, by=user, reason="Mistake", on=on)

        start, end = dt.date(2025, 1, 1) + dt.timedelta(days=period_start), dt.date(2025, 12, 31)
        costs = output_costs(start=start, end=end)
        rows = [
            c for c in ExpenseCharge.objects.select_related("expense", "line", "agreement")
            if c.expense.status == "posted" and c.expense.incurred_on <= end
        ]  # fmt: skip
        for key in [o.pk for o in outputs] + [None]:
            mine = [c for c in rows if c.output_id == key]
            expected = {
                "direct_period": ZERO,
                "indirect_period": ZERO,
                "direct_to_date": ZERO,
                "indirect_to_date": ZERO,
            }
            for agreement in (uk, us):
                under = [c for c in mine if c.agreement_id == agreement.pk]
                in_period = [c for c in under if c.expense.incurred_on >= start]
                every = agreement.indirect_base == Agreement.IndirectBase.DIRECT

                def eligible(charges, every=every):
                    return sum((c.base_amount for c in charges if every or c.line.indirect_eligible), ZERO)

                expected["direct_period"] += sum((c.base_amount for c in in_period), ZERO)
                expected["direct_to_date"] += sum((c.base_amount for c in under), ZERO)
                expected["indirect_period"] += half_up(eligible(in_period) * agreement.indirect_rate / 100)
                expected["indirect_to_date"] += half_up(eligible(under) * agreement.indirect_rate / 100)
            cost = costs.get(key)
            found = {k: getattr(cost, k) if cost else ZERO for k in expected}
            assert found == expected, key
        # Every posted charge counts once: the outputs' direct costs add up to the ledger's.
        assert sum((c.direct_to_date for c in costs.values()), ZERO) == sum((c.base_amount for c in rows), ZERO)
