"""Hypothesis: every figure of the financial report's snapshot equals a plain sum over the ledger's rows (posted
expenses' charges, posted donations, the budget lines), computed here without the selectors."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from donors.models import Donation
from reports.financial import financial_report_snapshot
from spending import services
from spending.models import BudgetLine, ExpenseCharge
from tests.factories import role_user
from tests.spending.helpers import agreement_with_budget

from .financial_helpers import explain, receive, spend

CENT = Decimal("0.01")
CODES = ("A1", "A2")
DAYS = 730  # the agreement runs over 2025 and 2026


def month(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def day_of(n: int) -> dt.date:
    return dt.date(2025, 1, 1) + dt.timedelta(days=n)


expense = st.tuples(st.sampled_from(CODES), st.integers(1, 900_00), st.integers(0, DAYS - 1), st.booleans())


class TestFinancialReportEqualsTheLedger(HypothesisTestCase):
    @settings(max_examples=20, deadline=None)
    @given(
        received=st.lists(st.tuples(st.integers(1, 5000_00), st.integers(0, DAYS - 1)), max_size=3),
        expenses=st.lists(expense, max_size=6),
        period=st.tuples(st.integers(0, 23), st.integers(0, 23)).map(sorted),
    )
    def test_every_figure_equals_a_sum_over_the_ledger(self, received, expenses, period):
        user = role_user("Finance", username="f")
        uk = agreement_with_budget(indirect_rate=Decimal("7.5"))
        start = dt.date(2025 + period[0] // 12, period[0] % 12 + 1, 1)
        last = dt.date(2025 + period[1] // 12, period[1] % 12 + 1, 1)
        end = (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        today = dt.date.today()
        for n, (cents, day) in enumerate(received):
            receive(user, uk, Decimal(cents) / 100, on=min(day_of(day), today), ref=f"R{n}")
        for n, (code, cents, day, reverse) in enumerate(expenses):
            on = min(day_of(day), today)
            posted = spend(user, f"E{n}", Decimal(cents) / 100, [(code, Decimal(cents) / 100)], uk, on=on)
            if reverse:
                services.expense_reverse(expense=posted, by=user, reason="Mistake", on=on)
        explain(uk, user, codes=("A1", "A2", "IND"), start=start, end=end)

        s = financial_report_snapshot(agreement=uk, start=start, end=end, sign_off=None)

        charges = list(ExpenseCharge.objects.select_related("expense", "line").filter(agreement=uk))
        posted = [c for c in charges if c.expense.status == "posted"]

        def spent(code, first):
            return sum(
                (c.amount for c in posted if c.line.code == code and first <= c.expense.incurred_on <= end),
                Decimal("0.00"),
            )

        lines = {line["code"]: line for line in s["lines"]}
        assert list(lines) == ["A1", "A2", "IND"]
        direct = {"period": Decimal(0), "to_date": Decimal(0)}
        budget_lines = list(BudgetLine.objects.filter(version__agreement=uk))
        for code in (*CODES, "IND"):
            rows = [b for b in budget_lines if b.code == code]
            current = sum((b.amount for b in rows), Decimal(0))
            period_budget = sum((self.phased(b, month(start), month(end)) for b in rows), Decimal(0))
            after = sum((self.phased(b, month(end) + 1, month(dt.date(2026, 12, 1))) for b in rows), Decimal(0))
            if code == "IND":
                actual = {w: self.round(direct[w] * Decimal("0.075")) for w in direct}
            else:
                actual = {"period": spent(code, start), "to_date": spent(code, dt.date.min)}
                direct = {w: direct[w] + actual[w] for w in direct}
            line = lines[code]
            self.assertEqual(self.amount(line["original"]), current)
            self.assertEqual(self.amount(line["current"]), current)
            self.assertEqual(self.amount(line["period_budget"]), period_budget)
            self.assertEqual(self.amount(line["actual_period"]), actual["period"])
            self.assertEqual(self.amount(line["actual_to_date"]), actual["to_date"])
            self.assertEqual(self.amount(line["remaining"]), current - actual["to_date"])
            self.assertEqual(self.amount(line["variance"]), period_budget - actual["period"])
            self.assertEqual(self.amount(line["forecast"]), actual["to_date"] + after)
            variance = period_budget - actual["period"]
            flagged = variance != 0 if period_budget == 0 else abs(variance) * 100 > 10 * period_budget
            self.assertEqual(line["flagged"], flagged)

        indirect = {w: self.round(direct[w] * Decimal("0.075")) for w in direct}
        for key in ("original", "current", "actual_period", "actual_to_date", "variance", "forecast"):
            self.assertEqual(self.amount(s["totals"][key]), sum((self.amount(r[key]) for r in s["lines"]), Decimal(0)))
        self.assertEqual(self.amount(s["spend"]["direct_period"]), direct["period"])
        self.assertEqual(self.amount(s["spend"]["direct_to_date"]), direct["to_date"])
        self.assertEqual(self.amount(s["indirect"]["period"]), indirect["period"])
        self.assertEqual(self.amount(s["spend"]["total_to_date"]), direct["to_date"] + indirect["to_date"])
        self.assertEqual(self.amount(s["totals"]["actual_to_date"]), direct["to_date"] + indirect["to_date"])

        donations = list(Donation.objects.filter(pledge=uk.pledge, status="posted"))
        income_to_date = sum((d.amount for d in donations if d.received_on <= end), Decimal("0.00"))
        income_period = sum((d.amount for d in donations if start <= d.received_on <= end), Decimal("0.00"))
        self.assertEqual(self.amount(s["income"]["received_to_date"]), income_to_date)
        self.assertEqual(self.amount(s["income"]["received_period"]), income_period)
        self.assertEqual(self.amount(s["balance"]), income_to_date - direct["to_date"] - indirect["to_date"])
        self.assertEqual([e["code"] for e in s["explanations"]], [c for c in lines if lines[c]["flagged"]])

    @staticmethod
    def amount(value: dict) -> Decimal:
        assert value["currency"] == "GBP"
        return Decimal(value["amount"])

    @staticmethod
    def round(value: Decimal) -> Decimal:
        return value.quantize(CENT, rounding=ROUND_HALF_UP)

    def phased(self, line: BudgetLine, first: int, last: int) -> Decimal:
        """A line-year's amount spread evenly over its twelve months (the agreement covers whole years)."""
        inside = min(line.year * 12 + 11, last) - max(line.year * 12, first) + 1
        return self.round(line.amount * inside / 12) if inside > 0 else Decimal("0.00")
