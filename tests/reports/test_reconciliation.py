"""Every column of a report's pledge account adds up, in each pledge currency, in base and in the donor's currency.

In every row of `reconciliation`: pledged − received − written off + overpaid + exchange difference =
outstanding, to the cent; the exchange difference is nought in a pledge's own currency. Each row is
also recomputed here straight from the ledger's rows (no report code), so a row that adds up but
holds the wrong figures fails too.
"""

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Q
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from backoffice.errors import LedgerError
from backoffice.money import format_rate, money_round
from donors import services as donor_services
from donors.models import Donor, Pledge, WriteOff
from reports.figures import donor_summary_snapshot, portfolio_snapshot
from reports.renderers import render
from tests.factories import DonationFactory, DonorFactory, RateFactory, role_user

from .conftest import END, START
from .helpers import closing_rate, figure, pdf_text, posted, shown, total

FIELDS = ("pledged", "received", "written_off", "overpaid", "exchange_difference", "outstanding")
D0 = Decimal("0.00")


def amounts(row: dict) -> dict[str, Decimal]:
    assert {row[f]["currency"] for f in FIELDS} == {row["currency"]}, row  # one currency per column
    return {f: Decimal(row[f]["amount"]) for f in FIELDS}


def assert_adds_up(row: dict) -> None:
    a = amounts(row)
    assert (
        a["pledged"] - a["received"] - a["written_off"] + a["overpaid"] + a["exchange_difference"] == (a["outstanding"])
    ), row
    if row["basis"] == "pledge":
        assert a["exchange_difference"] == D0, row


def ledger_accounts(end: dt.date, **filters) -> dict[str, dict[str, Decimal]]:
    """Per pledge currency, from the pledges' own rows: pledged, received (pledge currency and base
    as posted), written off, overpaid and outstanding at the end of `end`."""
    pledges = Pledge.objects.filter(start_date__lte=end, **filters).filter(
        Q(cancelled_on__isnull=True) | Q(cancelled_on__gt=end)
    )
    accounts: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: D0))
    for p in pledges:
        received = total(posted(pledge=p, received_on__lte=end), "pledge_amount")
        written = total(WriteOff.objects.filter(pledge=p, written_off_on__lte=end))
        balance = p.total - received - written
        a = accounts[p.currency]
        a["pledged"] += p.total
        a["received"] += received
        a["received_base"] += total(posted(pledge=p, received_on__lte=end), "base_amount")
        a["written_off"] += written
        a["outstanding"] += max(balance, D0)
        a["overpaid"] += max(-balance, D0)
    return accounts


def cross(currency: str, target: str, on: dt.date) -> Decimal:
    if currency == target:
        return Decimal("1")
    return (closing_rate(currency, on) / closing_rate(target, on)).quantize(Decimal("1E-8"), rounding=ROUND_HALF_UP)


def assert_rows_match_ledger(rows: list[dict], end: dt.date, shown_currency: str = "", **filters) -> None:
    base = settings.BASE_CURRENCY
    accounts = ledger_accounts(end, **filters)
    for row in rows:
        assert_adds_up(row)
    pledge_rows = [r for r in rows if r["basis"] == "pledge"]
    assert [r["currency"] for r in pledge_rows] == sorted(accounts)  # one column per pledge currency, in code order
    for row in pledge_rows:
        a = amounts(row)
        for f in ("pledged", "received", "written_off", "overpaid", "outstanding"):
            assert a[f] == accounts[row["currency"]][f], (row["currency"], f)

    [base_row] = [r for r in rows if r["basis"] == "base"] or [None]
    assert (base_row is not None) == (bool(accounts) and set(accounts) != {base})
    if base_row:
        a = amounts(base_row)
        assert a["received"] == sum((x["received_base"] for x in accounts.values()), D0)  # as posted
        for f in ("pledged", "written_off", "overpaid", "outstanding"):
            at_closing = sum((x[f] * closing_rate(c, end) for c, x in accounts.items()), D0)
            assert a[f] == money_round(at_closing), f

    converted = [r for r in rows if r["basis"] == "converted"]
    wanted = bool(shown_currency) and shown_currency != base and bool(accounts) and set(accounts) != {shown_currency}
    assert len(converted) == (1 if wanted else 0)
    for row in converted:
        a = amounts(row)
        assert row["currency"] == shown_currency
        for f in ("pledged", "received", "written_off", "overpaid", "outstanding"):
            value = sum((x[f] * cross(c, shown_currency, end) for c, x in accounts.items()), D0)
            assert a[f] == money_round(value), f
        assert abs(a["exchange_difference"]) <= Decimal("0.01") * 5 * len(accounts)  # rounding only


def assert_summary_states_every_conversion(snap: dict, donor: Donor, start: dt.date, end: dt.date) -> None:
    """The received figures: the donor's currency at face value, every other currency listed with its rate."""
    target = snap["currency"]
    for key, period in (("received_in_period", Q(received_on__gte=start)), ("received_to_date", Q())):
        f = figure(snap, key)
        gifts = posted(donor=donor, received_on__lte=end).filter(period)
        others = set(gifts.values_list("currency", flat=True)) - {target}
        assert {p["amount"]["currency"] for p in f["converted_from"]} == others, key
        expected = total(gifts.filter(currency=target))
        for c in others:
            rate = cross(c, target, end)
            part = next(p for p in f["converted_from"] if p["amount"]["currency"] == c)
            assert part["rate"] == str(rate)
            assert Decimal(part["amount"]["amount"]) == total(gifts.filter(currency=c))
            expected += money_round(total(gifts.filter(currency=c)) * rate)
        assert f["value"] == {"amount": str(expected), "currency": target}, key
        assert f["base"] == {"amount": str(total(gifts, "base_amount")), "currency": settings.BASE_CURRENCY}, key


def assert_headline_is_the_reconciliation(snap: dict) -> None:
    """Pledged, written off and outstanding in the headline are the reconciliation's, in the shown and base currency."""
    rows = snap["reconciliation"]
    mine = [r for r in rows if r["currency"] == snap["currency"]]
    in_base = [r for r in rows if r["currency"] == snap["base_currency"]]
    for key, field in (("pledged", "pledged"), ("written_off", "written_off"), ("outstanding", "outstanding")):
        f = figure(snap, key)
        assert f["value"] == (mine[-1][field] if mine else {"amount": "0.00", "currency": snap["currency"]})
        assert f["base"] == (in_base[-1][field] if in_base else {"amount": "0.00", "currency": snap["base_currency"]})


# The demo ----------------------------------------------------------------------------------------


def test_every_demo_donor_summary_reconciles_in_every_currency(demo):
    converted_somewhere = exchange_difference_somewhere = False
    for donor in Donor.objects.order_by("ref"):
        for currency in ("", "USD"):  # the donor's own currency, and one a user picked
            snap = donor_summary_snapshot(donor=donor, start=START, end=END, currency=currency)
            assert_rows_match_ledger(snap["reconciliation"], END, snap["currency"], donor=donor)
            assert_headline_is_the_reconciliation(snap)
            assert_summary_states_every_conversion(snap, donor, START, END)
            rows = snap["reconciliation"]
            converted_somewhere |= any(r["basis"] == "converted" for r in rows)
            exchange_difference_somewhere |= any(
                r["basis"] == "base" and Decimal(r["exchange_difference"]["amount"]) for r in rows
            )
    assert converted_somewhere and exchange_difference_somewhere  # the demo exercises both


def test_portfolio_reconciles_in_every_currency(demo):
    for start, end in ((START, END), (dt.date(2023, 7, 1), dt.date(2024, 6, 30))):
        snap = portfolio_snapshot(start=start, end=end)
        rows = snap["reconciliation"]
        assert len([r for r in rows if r["basis"] == "pledge"]) > 1
        assert_rows_match_ledger(rows, end)


def test_the_pdfs_print_each_column_and_its_exchange_difference(demo):
    donor = next(
        d
        for d in Donor.objects.order_by("ref")
        if any(
            r["basis"] == "base" and Decimal(r["exchange_difference"]["amount"])
            for r in donor_summary_snapshot(donor=d, start=START, end=END)["reconciliation"]
        )
    )
    for snap in (donor_summary_snapshot(donor=donor, start=START, end=END), portfolio_snapshot(start=START, end=END)):
        text = pdf_text(render(snap))
        assert "less received on pledges" in text and "plus exchange difference" in text
        for row in snap["reconciliation"]:
            for f in FIELDS:
                if not (f == "exchange_difference" and row["basis"] == "pledge") and (
                    f != "overpaid" or any(Decimal(r["overpaid"]["amount"]) for r in snap["reconciliation"])
                ):
                    assert shown(row[f]) in text, (snap["kind"], row["label"], f)
        for rate in snap["rates"]:
            assert f"1 {rate['currency']} = {format_rate(Decimal(rate['rate']))} GBP" in text


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

    [usd, gbp] = snap["reconciliation"]
    assert [usd[f]["amount"] for f in FIELDS] == ["1000.00", "400.00", "100.00", "0.00", "0.00", "500.00"]
    # 750.00 − 320.00 (as posted) − 75.00 + 20.00 = 375.00, the outstanding USD 500.00 at 0.75.
    assert [gbp[f]["amount"] for f in FIELDS] == ["750.00", "320.00", "75.00", "0.00", "20.00", "375.00"]
    text = pdf_text(render(snap))
    assert "plus exchange difference" in text and "GBP 20.00" in text
    assert "1 USD = 0.75 GBP (1 Dec 2025)" in text


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
    text = pdf_text(render(snap))
    assert "USD 500.00 at 1 USD = 0.89411765 EUR is EUR 447.06" in text
    assert "Total in USD" in text and "Total in EUR" in text


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
