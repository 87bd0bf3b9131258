"""Budget against actual: worked examples, and hypothesis: every figure equals a plain sum over the ledger rows."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from donors import services as ledger
from donors.models import Donation
from spending import services
from spending.models import ExpenseCharge
from spending.selectors import budget_vs_actual
from spending.services import NewCharge
from tests.factories import DonationFactory, RateFactory, role_user
from tests.spending.helpers import agreement_with_budget, line

YEAR_2025 = {"start": dt.date(2025, 1, 1), "end": dt.date(2025, 12, 31)}
CENT = Decimal("0.01")


def spend(by, ref, amount, charges, currency="GBP", on=dt.date(2025, 3, 1)):
    draft = services.expense_create(
        reference=ref, incurred_on=on, paid_on=on, payee="Payee", description="Spend",
        amount=Decimal(amount), currency=currency, charges=charges,
    )  # fmt: skip
    return services.expense_post(expense=draft, by=by)


def receive(by, agreement, amount, currency=None, on=dt.date(2025, 1, 10), ref=None):
    pledge = agreement.pledge
    draft = DonationFactory(
        donor=pledge.donor, pledge=pledge, amount=Decimal(amount), currency=currency or pledge.currency, received_on=on,
        **({"reference": ref} if ref else {}),
    )  # fmt: skip
    return ledger.donation_post(donation=draft, by=by)


def test_worked_example_with_indirect_costs_variance_and_forecast(db, finance_user):
    uk = agreement_with_budget(indirect_rate=Decimal("10"))
    receive(finance_user, uk, "3000.00")
    spend(finance_user, "S1", "1000.00", [NewCharge(line(uk, "A1"), amount=Decimal("1000.00"))])
    spend(finance_user, "S2", "700.00", [NewCharge(line(uk, "A2"), amount=Decimal("700.00"))])
    spend(finance_user, "S3", "50.00", [NewCharge(line(uk, "A2"), amount=Decimal("50.00"))], on=dt.date(2026, 2, 1))
    figures = budget_vs_actual(uk, **YEAR_2025)
    a1, a2, ind = figures.lines
    assert (a1.code, a1.original, a1.current, a1.period_budget) == (
        "A1",
        Decimal("2400.00"),
        Decimal("2400.00"),
        Decimal("1200.00"),
    )
    assert (a1.actual_period, a1.variance, a1.variance_pct, a1.flagged) == (
        Decimal("1000.00"), Decimal("200.00"), Decimal("16.67"), True,
    )  # fmt: skip
    assert (a2.actual_period, a2.variance, a2.variance_pct, a2.flagged) == (
        Decimal("700.00"), Decimal("-100.00"), Decimal("-16.67"), True,
    )  # fmt: skip
    # Forecast: actual to date (2026's 50 is after the period, so not yet) plus 2026's budget.
    assert a1.forecast == Decimal("1000.00") + Decimal("1200.00")
    assert a2.remaining == Decimal("1200.00") - Decimal("700.00")
    assert (ind.code, ind.actual_period, ind.period_budget) == ("IND", Decimal("170.00"), Decimal("100.00"))
    assert figures.indirect_period == Decimal("170.00")  # 10% of 1,700 direct
    assert figures.spent_period == Decimal("1870.00")
    assert figures.received_to_date == Decimal("3000.00")
    assert figures.balance == Decimal("1130.00")
    assert [line.code for line in figures.flagged] == ["A1", "A2", "IND"]


def test_spend_in_another_currency_converts_at_the_average_rate_of_money_received(db, finance_user):
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80000000"))
    RateFactory(currency="USD", date=dt.date(2025, 2, 1), rate=Decimal("0.75000000"))
    us = agreement_with_budget(currency="USD")
    receive(finance_user, us, "1000.00", on=dt.date(2025, 1, 10))  # 800 GBP
    receive(finance_user, us, "1000.00", on=dt.date(2025, 2, 10))  # 750 GBP
    spend(finance_user, "GBP-1", "155.00", [NewCharge(line(us, "A1"), amount=Decimal("155.00"))])
    figures = budget_vs_actual(us, **YEAR_2025)
    assert figures.average_rate == Decimal("1.29032258")  # 2,000 USD / 1,550 GBP
    assert figures.lines[0].actual_period == Decimal("200.00")  # 155 x 1.29032258 = 199.99999990
    assert "weighted average rate" in figures.method_text
    with override_settings(SPENDING_CONVERSION="spot"):
        spot = budget_vs_actual(us, **YEAR_2025)
    assert spot.lines[0].actual_period == Decimal("206.67")  # 155 / 0.75 on the day paid
    assert spot.method_text == "spot rate of the day each expense was paid"


def test_a_reversed_expense_nets_to_nothing(db, finance_user):
    uk = agreement_with_budget()
    posted = spend(finance_user, "S1", "80.00", [NewCharge(line(uk, "A1"), amount=Decimal("80.00"))])
    services.expense_reverse(expense=posted, by=finance_user, reason="Duplicate", on=dt.date(2025, 4, 1))
    assert budget_vs_actual(uk, **YEAR_2025).lines[0].actual_period == Decimal("0.00")


# Invariants ---------------------------------------------------------------------------------

charge = st.tuples(
    st.integers(min_value=0, max_value=3),  # which line: UK A1, UK A2, US A1, US A2
    st.integers(min_value=1, max_value=60_00),  # cents
)
expense = st.tuples(
    st.sampled_from(["GBP", "USD", "EUR"]),
    st.integers(min_value=1, max_value=100_00),  # cents
    st.integers(min_value=0, max_value=700),  # days after 2025-01-01
    st.lists(charge, min_size=1, max_size=3),
    st.booleans(),  # reversed
)


def round_half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class TestBudgetVsActualInvariants(HypothesisTestCase):
    @settings(max_examples=25, deadline=None)
    @given(
        received=st.lists(st.tuples(st.sampled_from(["USD", "GBP"]), st.integers(1, 500_00)), max_size=3),
        expenses=st.lists(expense, max_size=6),
        average=st.booleans(),
    )
    def test_every_figure_equals_a_sum_over_the_ledger(self, received, expenses, average):
        user = role_user("Finance", username="f")
        for currency, rate in (("USD", "0.79"), ("EUR", "0.86")):
            RateFactory(currency=currency, date=dt.date(2024, 12, 1), rate=Decimal(rate))
        uk = agreement_with_budget(funder_ref="UK", indirect_rate=Decimal("7.5"))
        us = agreement_with_budget(funder_ref="US", currency="USD", indirect_rate=Decimal("12"))
        lines = [line(uk, "A1"), line(uk, "A2"), line(us, "A1"), line(us, "A2")]
        for n, (currency, cents) in enumerate(received):
            receive(user, us, Decimal(cents) / 100, currency=currency, ref=f"R{n}")
        for n, (currency, cents, day, charges, reverse) in enumerate(expenses):
            amount = Decimal(cents) / 100
            asked = [NewCharge(lines[i], amount=Decimal(c) / 100) for i, c in charges]
            on = dt.date(2025, 1, 1) + dt.timedelta(days=day)
            try:
                posted = spend(user, f"E{n}", amount, asked, currency=currency, on=on)
            except ValidationError:
                assert sum(c.amount for c in asked) > amount  # the only rule these charges can break
                continue
            # Charges never exceed the expense.
            assert sum(posted.charges.values_list("amount", flat=True)) <= posted.amount
            assert sum(posted.charges.values_list("base_amount", flat=True)) <= posted.base_amount
            if reverse:
                services.expense_reverse(expense=posted, by=user, reason="Mistake", on=on)

        start, end = YEAR_2025["start"], YEAR_2025["end"]
        with override_settings(SPENDING_CONVERSION="average" if average else "spot"):
            for agreement in (uk, us):
                figures = budget_vs_actual(agreement, start=start, end=end)
                self.assert_matches_the_ledger(agreement, figures, start, end, average)

    def assert_matches_the_ledger(self, agreement, figures, start, end, average):
        # The independent sums, row by row.
        donations = [
            d for d in Donation.objects.filter(pledge=agreement.pledge, status="posted") if d.received_on <= end
        ]
        base_received = sum((d.base_amount for d in donations), Decimal(0))
        rate = None
        if average and base_received > 0:
            rate = (sum((d.pledge_amount for d in donations), Decimal(0)) / base_received).quantize(
                Decimal("0.00000001"), rounding=ROUND_HALF_UP
            )
        rows = [
            c for c in ExpenseCharge.objects.select_related("expense", "line").filter(agreement=agreement)
            if c.expense.status == "posted" and c.expense.incurred_on <= end
        ]  # fmt: skip
        groups = {}
        for c in rows:
            in_period = c.expense.incurred_on >= start
            key = (c.line.code, c.line.indirect_eligible)
            group = groups.setdefault(
                key, {w: {"same": Decimal(0), "base": Decimal(0), "spot": Decimal(0)} for w in ("p", "d")}
            )
            for when in ("p", "d") if in_period else ("d",):
                group[when]["spot"] += c.spot_amount
                if c.expense.currency == agreement.currency:
                    group[when]["same"] += c.amount
                else:
                    group[when]["base"] += c.base_amount

        def value(sums):
            return sums["spot"] if rate is None else sums["same"] + round_half_up(sums["base"] * rate)

        by_line = {}
        eligible = {"p": Decimal(0), "d": Decimal(0)}
        for (code, is_eligible), group in groups.items():
            for when in ("p", "d"):
                by_line.setdefault((code, when), Decimal(0))
                by_line[(code, when)] += value(group[when])
                if is_eligible:
                    eligible[when] += value(group[when])
        indirect = {when: round_half_up(eligible[when] * agreement.indirect_rate / 100) for when in ("p", "d")}

        assert figures.average_rate == rate
        for row in figures.lines:
            if row.is_indirect:
                assert (row.actual_period, row.actual_to_date) == (indirect["p"], indirect["d"])
            else:
                assert row.actual_period == by_line.get((row.code, "p"), Decimal(0)), row.code
                assert row.actual_to_date == by_line.get((row.code, "d"), Decimal(0)), row.code
        direct_p = sum((v for (_, when), v in by_line.items() if when == "p"), Decimal(0))
        direct_d = sum((v for (_, when), v in by_line.items() if when == "d"), Decimal(0))
        assert (figures.direct_period, figures.direct_to_date) == (direct_p, direct_d)
        # Indirect costs are never charged: no charge sits on the indirect line, and they are not their own base.
        assert not [c for c in rows if c.line.category == "indirect"]
        assert figures.indirect_base_to_date == eligible["d"]
        assert figures.spent_to_date == direct_d + indirect["d"]
        received = sum((d.pledge_amount for d in donations), Decimal(0))
        assert figures.received_to_date == received
        assert figures.balance == received - direct_d - indirect["d"]
        assert sum((row.actual_to_date for row in figures.lines), Decimal(0)) == figures.spent_to_date
