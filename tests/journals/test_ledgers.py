"""Random ledgers (hypothesis): donations in several currencies, in batches and outside, restricted
or not, expenses charged in part to budget lines, reversals exported later. Every entry and every
file balances, and the journals carry exactly the posted base amounts, each posting once."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Sum
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from backoffice.money import smallest_unit
from donors import services as donor_services
from donors.models import Donation
from journals.models import JournalItem
from journals.services import journal_export
from spending import services as spending_services
from spending.models import Expense
from tests.factories import PledgeFactory, ProgrammeFactory, RateFactory, role_user
from tests.spending.helpers import agreement_with_budget, line

from .helpers import account_map, posted_batch, posted_donation, posted_expense, rows, tomorrow

CURRENCIES = ["GBP", "USD", "JPY", "KWD"]
RATES = {"USD": "0.78912345", "JPY": "0.00523457", "KWD": "2.61234567"}

donation = st.tuples(
    st.sampled_from(CURRENCIES),
    st.integers(min_value=1, max_value=5_000_000),  # in the currency's smallest unit
    st.sampled_from(["bank_transfer", "card", "cheque", "in_kind"]),
    st.booleans(),  # restricted
    st.integers(min_value=0, max_value=2),  # 0: outside a batch; 1, 2: in that batch of its currency
    st.booleans(),  # reversed later
)
expense = st.tuples(
    st.sampled_from(CURRENCIES),
    st.integers(min_value=10, max_value=5_000_000),
    st.integers(min_value=1, max_value=10),  # tenths charged to the first line
    st.integers(min_value=0, max_value=9),  # tenths charged to the second
    st.booleans(),  # reversed later
)


def units(currency: str, count: int) -> Decimal:
    return count * smallest_unit(currency)


def balances(content: bytes) -> tuple[dict, Decimal, dict]:
    """Per entry debits − credits, the file's debits, and base amounts by account (generic format)."""
    per_entry, by_account, debits = defaultdict(Decimal), defaultdict(Decimal), Decimal(0)
    for r in rows(content):
        amount = Decimal(r["debit"] or "0") - Decimal(r["credit"] or "0")
        assert amount == amount.quantize(Decimal("0.01")) and amount != 0
        per_entry[r["entry"]] += amount
        by_account[r["account_code"][:2]] += amount
        debits += Decimal(r["debit"] or "0")
    return per_entry, debits, by_account


class TestRandomLedgersBalance(HypothesisTestCase):
    @hypothesis_settings(max_examples=10, deadline=None)
    @given(donations=st.lists(donation, min_size=1, max_size=8), expenses=st.lists(expense, max_size=4))
    @example(donations=[("KWD", 1, "cheque", False, 0, False)], expenses=[])  # GBP 0.00: no line of nothing
    def test_every_entry_and_file_balances_and_carries_the_posted_base_amounts(self, donations, expenses):
        finance = role_user("Finance", username="ledger-finance")
        for currency, rate in RATES.items():
            RateFactory(currency=currency, date=dt.date(2024, 1, 1), rate=Decimal(rate))
        programme = ProgrammeFactory()
        account_map(currencies=CURRENCIES, programmes=[programme])
        restricted = PledgeFactory(restricted_programme=programme)
        batches = defaultdict(list)
        made = []
        for n, (currency, count, method, is_restricted, batch, reversed_later) in enumerate(donations):
            fields = {"currency": currency, "method": method, "received_on": dt.date(2025, 3, 1)}
            if is_restricted:
                fields |= {"donor": restricted.donor, "pledge": restricted}
            if batch:
                batches[(currency, batch)].append((units(currency, count), fields, reversed_later))
            else:
                d = posted_donation(reference=f"D-{n}", amount=units(currency, count), by=finance, **fields)
                made.append((d, reversed_later))
        for (currency, b), members in batches.items():
            posted_batch(amounts=[a for a, _, _ in members], reference=f"B-{currency}-{b}", by=finance,
                         **{k: v for k, v in members[0][1].items() if k != "currency"}, currency=currency)  # fmt: skip
        agreement = agreement_with_budget()
        for n, (currency, count, first, second, reversed_later) in enumerate(expenses):
            amount = units(currency, count)
            unit = smallest_unit(currency)
            charges = [(line(agreement, "A1"), (amount * first / 10).quantize(unit, rounding="ROUND_FLOOR"))]
            if second and first + second <= 10:
                charges.append((line(agreement, "A2"), (amount * second / 10).quantize(unit, rounding="ROUND_FLOOR")))
            charges = [(lin, a) for lin, a in charges if a > 0] or [(line(agreement, "A1"), amount)]
            e = posted_expense(reference=f"E-{n}", amount=amount, currency=currency, charges=charges, by=finance)
            made.append((e, reversed_later))

        first = journal_export(format="generic", by=finance, today=tomorrow())
        for record, reversed_later in made:
            if reversed_later and isinstance(record, Donation):
                donor_services.donation_reverse(donation=record, by=finance, reason="Returned")
            elif reversed_later:
                spending_services.expense_reverse(expense=record, by=finance, reason="Refunded")
        reversals = any(reversed_later for _, reversed_later in made)
        files = [first] + ([journal_export(format="generic", by=finance, today=tomorrow())] if reversals else [])

        bank = Decimal(0)
        income = Decimal(0)
        cost = Decimal(0)
        for export in files:
            per_entry, debits, by_account = balances(bytes(export.content))
            assert all(balance == 0 for balance in per_entry.values()), per_entry  # each entry balances
            assert sum(by_account.values()) == 0  # so does the file
            # An entry worth GBP 0.00 (a KWD 0.001 gift) has no line: the entry and its items are logged.
            assert debits == export.total_debits and len(per_entry) <= export.entry_count
            bank += by_account["12"]
            income += by_account["40"]
            cost += by_account["50"]
        posted_in = Donation.objects.posted().aggregate(s=Sum("base_amount"))["s"]
        posted_out = Expense.objects.posted().aggregate(s=Sum("base_amount"))["s"] or Decimal(0)
        assert income == -posted_in
        assert cost == posted_out
        assert bank == posted_in - posted_out
        # Each posting in exactly one entry, and the second file holds only the reversals.
        assert JournalItem.objects.filter(donation__isnull=False).count() == Donation.objects.posted().count()
        assert JournalItem.objects.filter(expense__isnull=False).count() == Expense.objects.posted().count()
        if reversals:
            kinds = set(files[1].entries.values_list("kind", flat=True))
            assert kinds <= {"donation_reversal", "expense_reversal"}
