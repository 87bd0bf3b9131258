"""Posting in bulk (donations_post_bulk, DonationsBulk) gives what posting one by one gives."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from backoffice.errors import LedgerError
from donors import services
from donors.models import Donation, Pledge
from donors.services import DonationsBulk, NewDonation, donation_amounts, donations_post_bulk
from tests.donors.test_totals import assert_totals_match_ledger
from tests.factories import DonationFactory, DonorFactory, PledgeFactory, RateFactory, role_user

CASES = [
    # amount, currency, received_on, rate, pledge currency
    ("100.50", "GBP", dt.date(2025, 3, 2), None, None),
    ("200.00", "USD", dt.date(2025, 3, 5), None, "USD"),
    ("200.00", "USD", dt.date(2025, 1, 31), None, "GBP"),
    ("200.00", "GBP", dt.date(2025, 3, 1), None, "USD"),
    ("0.01", "USD", dt.date(2025, 2, 28), None, None),
    ("10.01", "USD", dt.date(2025, 2, 10), "0.81234567", None),
    ("10.05", "GBP", dt.date(2025, 2, 10), "1", None),
    ("999999999999.99", "USD", dt.date(2026, 1, 1), None, None),
]


@pytest.fixture
def rates(db):
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80000000"))
    RateFactory(currency="USD", date=dt.date(2025, 3, 1), rate=Decimal("0.79000000"))


@pytest.fixture
def user(db):
    return role_user("Finance")


def _row_amounts(row: tuple) -> dict:
    names = ["rate", "rate_date", "rate_source", "base_amount", "pledge_amount"]
    return dict(zip(names, row[DonationsBulk.COLUMNS.index("rate") :], strict=True))


@pytest.mark.parametrize(("amount", "currency", "on", "rate", "pledge_currency"), CASES)
def test_a_bulk_row_has_the_amounts_donation_post_gives(rates, amount, currency, on, rate, pledge_currency):
    rate = rate and Decimal(rate)
    donation = Donation(amount=Decimal(amount), currency=currency, received_on=on, rate=rate)
    if pledge_currency:
        donation.pledge = Pledge(id=1, currency=pledge_currency)
    new = NewDonation(
        reference="B-1",
        donor_id=1,
        received_on=on,
        amount=Decimal(amount),
        currency=currency,
        rate=rate,
        pledge_id=1 if pledge_currency else None,
        pledge_currency=pledge_currency,
    )
    assert _row_amounts(DonationsBulk(by=None, post=True).row(new)) == donation_amounts(donation)


@pytest.mark.parametrize(
    ("currency", "on", "rate", "pledge_currency", "field", "message"),
    [
        ("USD", dt.date(2024, 12, 31), None, None, "currency", "No exchange rate for USD on or before 2024-12-31."),
        ("EUR", dt.date(2025, 3, 1), None, None, "currency", "No exchange rate for EUR on or before 2025-03-01."),
        ("GBP", dt.date(2025, 3, 1), "0.5", None, "rate", "A GBP donation has a rate of exactly 1."),
        (
            "GBP",
            dt.date(2025, 3, 1),
            None,
            "EUR",
            "pledge",
            "The pledge is in EUR but the donation is in GBP, and there is no EUR rate on or before 2025-03-01.",
        ),
    ],
)
def test_a_bulk_row_is_refused_as_donation_post_refuses(rates, currency, on, rate, pledge_currency, field, message):
    new = NewDonation(
        "B-1", 1, on, Decimal("5"), currency, rate=rate and Decimal(rate), pledge_currency=pledge_currency
    )
    with pytest.raises(LedgerError) as error:
        DonationsBulk(by=None, post=True).row(new)
    assert error.value.message_dict == {field: [message]}
    # A draft is refused alike: a missing rate is an error when the donation is entered, not when it is posted.
    with pytest.raises(LedgerError):
        DonationsBulk(by=None, post=False).row(new)


def test_posting_in_bulk_writes_posted_donations_with_history_and_kept_totals(rates, user):
    donor, other = DonorFactory(), DonorFactory()
    pledge = PledgeFactory(donor=donor, currency="GBP")
    services.donation_post(donation=DonationFactory(donor=donor, received_on=dt.date(2025, 3, 2)), by=user)
    donations = [
        NewDonation(f"BULK-{i}", (donor, other)[i % 2].pk, dt.date(2025, 3, 1 + i % 5), Decimal(f"{i}.10"), "USD")
        for i in range(1, 26)
    ]
    donations.append(NewDonation("BULK-P", donor.pk, dt.date(2025, 3, 4), Decimal("9.99"), "USD", pledge_id=pledge.pk,
                                 pledge_currency="GBP"))  # fmt: skip
    assert donations_post_bulk(donations=donations, by=user, chunk_size=7) == 26
    posted = Donation.objects.filter(reference__startswith="BULK-")
    assert posted.count() == 26 and set(posted.values_list("status", "posted_by")) == {("posted", user.pk)}
    for donation in posted:
        fresh = Donation(
            amount=donation.amount, currency=donation.currency, received_on=donation.received_on, pledge=pledge
        )
        fresh.pledge_id = donation.pledge_id
        expected = donation_amounts(fresh)
        assert {k: getattr(donation, k) for k in expected} == expected
        (record,) = donation.history.all()
        assert (record.history_type, record.history_user, record.base_amount) == ("+", user, donation.base_amount)
    assert_totals_match_ledger()


def test_a_bad_donation_posts_none_of_them(rates, user):
    donor = DonorFactory()
    good = NewDonation("GOOD-1", donor.pk, dt.date(2025, 3, 2), Decimal("1.00"), "USD")
    bad = NewDonation("BAD-1", donor.pk, dt.date(2024, 3, 2), Decimal("1.00"), "USD")  # before the first USD rate
    with pytest.raises(LedgerError, match="No exchange rate for USD on or before 2024-03-02"):
        donations_post_bulk(donations=[good, bad], by=user, chunk_size=1)
    assert not Donation.objects.exists() and not Donation.history.exists()
    assert_totals_match_ledger()


def test_a_reference_already_recorded_is_refused_by_the_database(rates, user):
    donor = DonorFactory()
    DonationFactory(donor=donor, reference="TAKEN")
    with pytest.raises(IntegrityError, match="donation_reference_unique"), transaction.atomic():
        donations_post_bulk(
            donations=[NewDonation("TAKEN", donor.pk, dt.date(2025, 3, 2), Decimal("1.00"), "GBP")], by=user
        )
    assert list(Donation.objects.values_list("reference", flat=True)) == ["TAKEN"]
