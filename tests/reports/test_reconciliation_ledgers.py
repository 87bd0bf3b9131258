"""The pledge account reconciles on ledgers made for the purpose: the defects issue 17 names, and
random multi-currency ledgers (hypothesis). The checks: reconciliation_checks.py. These tests live apart
from test_reconciliation.py because that module shares the seeded demo, whose rates these ledgers would meet."""

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from backoffice.errors import LedgerError
from donors import services as donor_services
from reports.figures import donor_summary_snapshot, portfolio_snapshot
from reports.renderers import render
from tests.factories import DonationFactory, DonorFactory, RateFactory, role_user

from .conftest import END, START
from .helpers import figure, pdf_text
from .reconciliation_checks import (
    FIELDS,
    assert_headline_is_the_reconciliation,
    assert_rows_match_ledger,
    assert_summary_states_every_conversion,
)

# The defects the issue names ---------------------------------------------------------------------


def test_base_column_shows_the_exchange_difference_that_makes_it_add_up(db):
    """A USD pledge paid in part at 0.80 and valued at the 0.75 closing rate: the GBP column adds up only
    with the exchange difference, printed as its own line."""
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80000000"))
    RateFactory(currency="USD", date=dt.date(2025, 12, 1), rate=Decimal("0.75000000"))
    donor = DonorFactory(preferred_currency="USD")
    pledge = donor_services.pledge_create(
        donor=donor, title="Core", total=Decimal("1000.00"), currency="USD",
        start_date=dt.date(2025, 1, 1), end_date=dt.date(2026, 12, 31),
    )  # fmt: skip
    donor_services.donation_post(
        donation=DonationFactory(
            donor=donor, pledge=pledge, currency="USD", amount=Decimal("400.00"), received_on=dt.date(2025, 3, 1)
        ),
        by=None,
    )
    donor_services.pledge_write_off(
        pledge=pledge, amount=Decimal("100.00"), reason="Budget cut", by=role_user("Finance"), on=END
    )
    snap = donor_summary_snapshot(donor=donor, start=START, end=END)

    # 750.00 − 320.00 (as posted) − 75.00 + 20.00 = 375.00, the outstanding USD 500.00 at 0.75.
    text = " ".join(pdf_text(render(snap)).split())
    assert (
        "USD pledges All pledges in GBP Pledged USD 1,000.00 GBP 750.00 less received on pledges USD 400.00 GBP 320.00 "
        "less written off USD 100.00 GBP 75.00 plus exchange difference — GBP 20.00 Outstanding USD 500.00 GBP 375.00"
    ) in text
    assert "closing rate on 31 Dec 2025 (1 USD = 0.75 GBP (1 Dec 2025))" in text
    [usd, gbp] = snap["reconciliation"]
    assert [usd[f]["amount"] for f in FIELDS] == ["1000.00", "400.00", "100.00", "0.00", "0.00", "500.00"]
    assert [gbp[f]["amount"] for f in FIELDS] == ["750.00", "320.00", "75.00", "0.00", "20.00", "375.00"]


def test_a_donation_in_another_currency_is_never_added_unsaid_into_the_donors_currency(db):
    """A EUR donor's USD 500 gift: the EUR total states the conversion, its rate and its date."""
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80000000"))
    RateFactory(currency="EUR", date=dt.date(2025, 1, 1), rate=Decimal("0.85000000"))
    RateFactory(currency="USD", date=dt.date(2025, 11, 30), rate=Decimal("0.76000000"))
    donor = DonorFactory(preferred_currency="EUR")
    for currency, amount in (("EUR", "1000.00"), ("USD", "500.00")):
        donor_services.donation_post(
            donation=DonationFactory(donor=donor, currency=currency, amount=Decimal(amount)), by=None
        )
    snap = donor_summary_snapshot(donor=donor, start=START, end=END)

    text = " ".join(pdf_text(render(snap)).split())  # the note wraps where the page needs it
    assert "USD 500.00 at 1 USD = 0.89411765 EUR is EUR 447.06 (rates to GBP of 1 Jan 2025 and 30 Nov 2025)" in text
    assert "Total in EUR EUR 1,000.00 GBP 850.00 Total in USD USD 500.00 GBP 400.00 Total GBP 1,250.00" in text
    received = figure(snap, "received_in_period")
    # 1 USD = 0.76 / 0.85 EUR = 0.89411765 EUR; USD 500.00 is EUR 447.06.
    assert received["converted_from"] == [
        {
            "amount": {"amount": "500.00", "currency": "USD"},
            "rate": "0.89411765",
            "converted": {"amount": "447.06", "currency": "EUR"},
        }
    ]
    assert received["value"] == {"amount": "1447.06", "currency": "EUR"}
    assert snap["donations_total"]["by_currency"] == [
        {"amount": {"amount": "1000.00", "currency": "EUR"}, "base": {"amount": "850.00", "currency": "GBP"}},
        {"amount": {"amount": "500.00", "currency": "USD"}, "base": {"amount": "400.00", "currency": "GBP"}},
    ]


# Random ledgers ----------------------------------------------------------------------------------

CURRENCIES = ["GBP", "USD", "EUR", "CHF"]
DAYS = [dt.date(2024, 11, 5), dt.date(2025, 2, 10), dt.date(2025, 6, 30), dt.date(2025, 12, 31), dt.date(2026, 2, 1)]
rate = st.integers(min_value=40_000_000, max_value=160_000_000).map(lambda n: Decimal(n) / 10**8)
gift = st.tuples(
    st.integers(min_value=-1, max_value=2),  # the pledge it pays (index into the pledges), or none
    st.sampled_from(CURRENCIES),
    st.integers(min_value=1, max_value=50_000_00),  # cents
    st.sampled_from(DAYS),
    st.one_of(st.none(), rate),  # a rate typed on the donation
    st.booleans(),  # reversed later
)


class TestRandomLedgersReconcile(HypothesisTestCase):
    """Pledges, gifts at many rates (typed or looked up, in and out of the pledge's currency, some
    reversed, some after the period end), write-offs and rates that move after the gifts: every column
    of the donor summary and the portfolio adds up and equals the ledger."""

    @hypothesis_settings(max_examples=30, deadline=None)
    @given(
        preferred=st.sampled_from(CURRENCIES),
        rates=st.lists(st.tuples(st.sampled_from(CURRENCIES[1:]), st.sampled_from(DAYS), rate), max_size=8),
        pledges=st.lists(
            st.tuples(st.sampled_from(CURRENCIES), st.integers(min_value=1_000_00, max_value=90_000_00)),
            min_size=1,
            max_size=3,
        ),
        gifts=st.lists(gift, max_size=8),
        write_offs=st.lists(
            st.tuples(st.integers(min_value=0, max_value=2), st.integers(min_value=1, max_value=9_000_00)), max_size=3
        ),
    )
    def test_every_column_adds_up(self, preferred, rates, pledges, gifts, write_offs):
        for currency in CURRENCIES[1:]:  # every currency has a rate from before the first gift
            RateFactory(currency=currency, date=dt.date(2024, 1, 1), rate=Decimal("0.90000000"))
        for (currency, day), value in {(c, d): v for c, d, v in rates}.items():  # one rate a currency a day
            RateFactory(currency=currency, date=day, rate=value)
        donor = DonorFactory(preferred_currency=preferred)
        made = [
            donor_services.pledge_create(
                donor=donor, title="Support", total=Decimal(cents) / 100, currency=currency,
                start_date=dt.date(2024, 10, 1), end_date=dt.date(2026, 12, 31),
            )
            for currency, cents in pledges
        ]  # fmt: skip
        for which, currency, cents, day, typed, reversed_ in gifts:
            pledge = made[which] if 0 <= which < len(made) else None
            donation = donor_services.donation_post(
                donation=DonationFactory(
                    donor=donor, pledge=pledge, currency=currency, amount=Decimal(cents) / 100, received_on=day,
                    rate=None if currency == "GBP" else typed,
                ),
                by=None,
            )  # fmt: skip
            if reversed_:
                donor_services.donation_reverse(donation=donation, reason="Returned by the bank", by=None)
        finance = role_user("Finance")
        for which, cents in write_offs:
            try:
                donor_services.pledge_write_off(
                    pledge=made[which % len(made)], amount=Decimal(cents) / 100, reason="Cut", by=finance, on=END
                )
            except LedgerError:
                pass  # more than is outstanding: refused, as it should be

        snap = donor_summary_snapshot(donor=donor, start=START, end=END)
        assert_rows_match_ledger(snap["reconciliation"], END, preferred, donor=donor)
        assert_headline_is_the_reconciliation(snap)
        assert_summary_states_every_conversion(snap, donor, START, END)
        assert_rows_match_ledger(portfolio_snapshot(start=START, end=END)["reconciliation"], END)
