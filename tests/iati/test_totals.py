"""Whatever the ledger holds, each activity's transactions add up, per type and currency, to the same
sums taken straight from the ledger, to the smallest unit of the currency."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Q, Sum
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from backoffice.money import minor_unit
from donors.models import Donation, Pledge
from donors.services import donation_reverse
from grants.models import Output
from iati.services import ACTIVITIES_FILE, iati_export
from spending import services as spending
from spending.models import Expense, ExpenseCharge
from spending.services import NewCharge, NewLine
from tests.factories import OutputFactory, PledgeFactory, ProgrammeFactory, RateFactory, role_user
from tests.iati.ledger import AS_OF, END, ORG_ID, START, expense_posted, organisation_registered, parse, post
from tests.iati.ledger import transaction_totals as xml_totals

CURRENCIES = ["GBP", "USD", "JPY"]


def money(units: int, currency: str) -> Decimal:
    return Decimal(units).scaleb(-minor_unit(currency))


donation = st.tuples(
    st.integers(min_value=0, max_value=3),  # the pledge it pays (3: none, unrestricted)
    st.integers(min_value=1, max_value=500_000),  # in the currency's smallest unit
    st.sampled_from(CURRENCIES),
    st.integers(min_value=0, max_value=500),  # days after 1 January 2025
    st.booleans(),  # reversed
)
expense = st.tuples(
    st.integers(min_value=2, max_value=400_000),
    st.sampled_from(CURRENCIES),
    st.integers(min_value=0, max_value=100),  # percent charged to the output's line
    st.integers(min_value=0, max_value=100),  # percent charged to the programme's line
    st.integers(min_value=0, max_value=500),
)


def ledger_sums() -> dict:
    """(activity identifier, transaction type, currency) → sum, straight from the ledger's rows."""
    output = Output.objects.get()
    activities = {
        f"{ORG_ID}-{output.programme.code}-{output.pk}": Q(restricted_output=output),
        f"{ORG_ID}-{output.programme.code}": Q(restricted_programme=output.programme),
        f"{ORG_ID}-CORE": Q(restricted_output__isnull=True, restricted_programme__isnull=True),
    }
    sums = defaultdict(Decimal)
    for name, restriction in activities.items():
        for row in Pledge.objects.filter(restriction).values("currency").annotate(total=Sum("total")):
            sums[(name, "11", row["currency"])] += row["total"]
        paid = Q(pledge__in=Pledge.objects.filter(restriction))
        if name.endswith("CORE"):
            paid |= Q(pledge__isnull=True)
        paid = Donation.objects.posted().filter(paid)
        for row in paid.values("currency").annotate(total=Sum("amount")):
            sums[(name, "1", row["currency"])] += row["total"]
    charges = ExpenseCharge.objects.filter(expense__status=Expense.Status.POSTED)
    to_output = charges.filter(Q(output=output) | Q(output__isnull=True, line__output=output))
    for name, rows in (
        (f"{ORG_ID}-{output.programme.code}-{output.pk}", to_output),
        (f"{ORG_ID}-{output.programme.code}", charges.exclude(pk__in=to_output)),
    ):
        for row in rows.values("expense__currency").annotate(total=Sum("amount")):
            sums[(name, "4", row["expense__currency"])] += row["total"]
    for row in Expense.objects.posted().values("currency").annotate(total=Sum("amount")):
        sums[(f"{ORG_ID}-CORE", "4", row["currency"])] += row["total"]
    for row in charges.values("expense__currency").annotate(total=Sum("amount")):
        sums[(f"{ORG_ID}-CORE", "4", row["expense__currency"])] -= row["total"]
    return {key: value for key, value in sums.items() if value}


class TestTotalsEqualTheLedger(HypothesisTestCase):
    @settings(max_examples=12, deadline=None)
    @given(
        pledge_currencies=st.lists(st.sampled_from(CURRENCIES), min_size=3, max_size=3),
        donations=st.lists(donation, max_size=6),
        expenses=st.lists(expense, max_size=4),
    )
    def test_each_activitys_transactions_add_up_to_the_ledger(self, pledge_currencies, donations, expenses):
        user = role_user("Finance", username="f")
        organisation_registered()
        for currency, rate in (("USD", "0.80000000"), ("JPY", "0.00520000")):
            RateFactory(currency=currency, date=START, rate=Decimal(rate))
        programme = ProgrammeFactory(code="PROTECT")
        output = OutputFactory(programme=programme, start_date=START, end_date=END)
        restrictions = [{"restricted_output": output}, {"restricted_programme": programme}, {}]
        pledges = [
            PledgeFactory(
                currency=currency, total=money(1_000_000, currency), start_date=START, end_date=END, **restriction
            )
            for currency, restriction in zip(pledge_currencies, restrictions, strict=True)
        ]
        for which, units, currency, day, reversed_ in donations:
            pledge = pledges[which] if which < 3 else None
            paid_to = {"donor": pledge.donor, "pledge": pledge} if pledge else {}
            gift = post(
                user,
                amount=money(units, currency),
                currency=currency,
                received_on=START + dt.timedelta(days=day),
                **paid_to,
            )
            if reversed_:
                donation_reverse(donation=gift, by=user, reason="Bank recall", on=dt.date(2026, 6, 1))
        agreement = spending.agreement_create(
            pledge=pledges[1], funder_ref="UK-1", start_date=START, end_date=END, status="active"
        )
        version = spending.budget_version_create(
            agreement=agreement,
            lines=[
                NewLine(code="OUT", category="events", year=2025, amount=Decimal(0), output=output),
                NewLine(code="PRG", category="personnel", year=2025, amount=Decimal(0)),
            ],
        )
        spending.budget_version_approve(version=version, approved_on=START)
        lines = {line.code: line for line in spending.current_budget(agreement).lines.all()}
        for n, (units, currency, to_output, to_programme, day) in enumerate(expenses):
            amount = money(units, currency)
            out_part = (amount * to_output / 100).quantize(money(1, currency))
            prg_part = min(amount - out_part, (amount * to_programme / 100).quantize(money(1, currency)))
            charges = [NewCharge(line=lines["OUT"], amount=out_part)] if out_part else []
            charges += [NewCharge(line=lines["PRG"], amount=prg_part)] if prg_part else []
            # An expense is posted charged to at least one line (spending.services.charges_present_check).
            charges = charges or [NewCharge(line=lines["PRG"], amount=money(1, currency))]
            expense_posted(
                user,
                reference=f"INV-{n}",
                paid_on=START + dt.timedelta(days=day % 365),
                amount=amount,
                currency=currency,
                charges=charges,
            )
        exported = xml_totals(parse(iati_export(as_of=AS_OF)[ACTIVITIES_FILE]))
        assert {key: value for key, value in exported.items() if value} == ledger_sums()
