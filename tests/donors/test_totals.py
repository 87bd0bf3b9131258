"""The kept totals of posted donations equal the ledger's own sums, after posts, reversals and imports."""

import datetime as dt
from decimal import Decimal
from io import StringIO

from django.core.management import call_command
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth, TruncYear
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from backoffice.money import money_round
from donors import services
from donors.models import Donation, Donor, PostedDayTotal, PostedDonorMonthTotal, PostedDonorYearTotal
from donors.selectors import donor_period_totals, posted_total
from tests.factories import DonationFactory, DonorFactory, RateFactory, role_user
from tests.imports.conftest import HEADER, write_file

FIRST_DAY = dt.date(2024, 11, 1)


def _cents(value) -> Decimal:
    return money_round(value or Decimal("0"))


def ledger_days() -> dict:
    rows = Donation.objects.posted().values("received_on", "currency").annotate(n=Count("*"), a=Sum("amount"))
    rows = rows.annotate(b=Sum("base_amount")).order_by()
    return {(r["received_on"], r["currency"]): (r["n"], _cents(r["a"]), _cents(r["b"])) for r in rows}


def kept_days() -> dict:
    return {
        (t.received_on, t.currency): (t.count, _cents(t.amount), _cents(t.base_amount))
        for t in PostedDayTotal.objects.all()
    }


def ledger_donor_months() -> dict:
    rows = Donation.objects.posted().annotate(month=TruncMonth("received_on")).values("donor_id", "month")
    rows = rows.annotate(n=Count("*"), b=Sum("base_amount")).order_by()
    return {(r["donor_id"], r["month"]): (r["n"], _cents(r["b"])) for r in rows}


def kept_donor_months() -> dict:
    return {(t.donor_id, t.month): (t.count, _cents(t.base_amount)) for t in PostedDonorMonthTotal.objects.all()}


def ledger_donor_years() -> dict:
    rows = Donation.objects.posted().annotate(year=TruncYear("received_on")).values("donor_id", "year")
    rows = rows.annotate(n=Count("*"), b=Sum("base_amount")).order_by()
    return {(r["donor_id"], r["year"]): (r["n"], _cents(r["b"])) for r in rows}


def kept_donor_years() -> dict:
    return {(t.donor_id, t.year): (t.count, _cents(t.base_amount)) for t in PostedDonorYearTotal.objects.all()}


def assert_totals_match_ledger():
    assert kept_days() == ledger_days()
    assert kept_donor_months() == ledger_donor_months()
    assert kept_donor_years() == ledger_donor_years()
    assert posted_total() == _cents(Donation.objects.posted().aggregate(t=Sum("base_amount"))["t"])


def ledger_in_period(start, end):
    return Donation.objects.posted().filter(received_on__gte=start, received_on__lte=end)


def assert_period_figures_match_ledger(start, end):
    in_period = ledger_in_period(start, end)
    figures = donor_period_totals(start=start, end=end, top=3)
    by_kind = {
        k.kind: (k.amount, k.count) for k in figures.by_kind
    }  # every kind with a posted row in the period, even if it nets to zero
    expected = {
        r["donor__kind"]: (_cents(r["b"]), r["n"])
        for r in in_period.values("donor__kind").annotate(b=Sum("base_amount"), n=Count("*")).order_by()
    }
    assert by_kind == expected
    per_donor = {
        r["donor"]: _cents(r["b"]) for r in in_period.values("donor").annotate(b=Sum("base_amount")).order_by()
    }
    refs = dict(Donor.objects.values_list("pk", "ref"))
    ranked = sorted(per_donor.items(), key=lambda item: (-item[1], refs[item[0]]))[:3]
    assert [(d.donor_id, d.amount) for d in figures.top] == ranked


operation = st.tuples(
    st.sampled_from(["post", "post", "reverse"]),
    st.integers(min_value=0, max_value=2),  # which donor (posting) or which posted donation (reversing)
    st.integers(min_value=0, max_value=500),  # day, from 1 November 2024
    st.sampled_from(["GBP", "USD"]),
    st.integers(min_value=1, max_value=5_000_000),  # cents
)


class TestTotalsFollowTheLedger(HypothesisTestCase):
    """Whatever is posted and reversed, the kept totals and the period figures equal the ledger's sums."""

    @settings(max_examples=25, deadline=None)
    @given(
        operations=st.lists(operation, min_size=1, max_size=10),
        start_day=st.integers(min_value=0, max_value=520),
        length=st.integers(min_value=0, max_value=520),
    )
    def test_totals_equal_the_ledger_after_posts_and_reversals(self, operations, start_day, length):
        user = role_user("Finance", username="f")
        RateFactory(currency="USD", date=dt.date(2024, 10, 1), rate=Decimal("0.79123456"))
        donors = [DonorFactory(kind=kind) for kind in ("government", "company", "company")]
        posted = []
        for n, (kind, which, day, currency, cents) in enumerate(operations):
            if kind == "post" or not posted:
                draft = DonationFactory(
                    reference=f"T-{n}",
                    donor=donors[which],
                    received_on=FIRST_DAY + dt.timedelta(days=day),
                    amount=Decimal(cents) / 100,
                    currency=currency,
                )
                posted.append(services.donation_post(donation=draft, by=user))
            else:
                original = posted[which % len(posted)]
                if not Donation.objects.filter(reversal_of=original).exists() and not original.is_reversal:
                    services.donation_reverse(donation=original, by=user, reason="Bank recall")
            assert_totals_match_ledger()
        start = FIRST_DAY + dt.timedelta(days=start_day)
        assert_period_figures_match_ledger(start, start + dt.timedelta(days=length))


def test_an_imported_posted_file_is_added_to_the_totals(db, tmp_path):
    DonorFactory(ref="DON-0001", kind="foundation")
    DonorFactory(ref="DON-0002", kind="individual")
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80000000"))
    services.donation_post(
        donation=DonationFactory(donor=Donor.objects.get(ref="DON-0001"), received_on=dt.date(2025, 3, 2)),
        by=None,
    )
    rows = [
        f"IMP-{i},DON-000{1 + i % 2},2025-0{1 + i % 3}-{1 + i % 28:02d},{i}.{i % 100:02d},{('GBP', 'USD')[i % 2]},,,,\n"
        for i in range(1, 40)
    ]
    call_command(
        "import_data",
        "donations",
        write_file(tmp_path, "gifts.csv", HEADER + "".join(rows)),
        "--post",
        stdout=StringIO(),
    )
    assert Donation.objects.posted().count() == 40
    assert_totals_match_ledger()
    assert_period_figures_match_ledger(dt.date(2025, 1, 15), dt.date(2025, 3, 10))


def test_an_import_of_drafts_adds_nothing(db, tmp_path):
    DonorFactory(ref="DON-0001")
    content = HEADER + "IMP-1,DON-0001,2025-03-02,10.00,GBP,,,,\n"
    call_command("import_data", "donations", write_file(tmp_path, "drafts.csv", content), stdout=StringIO())
    assert Donation.objects.count() == 1
    for model in (PostedDayTotal, PostedDonorMonthTotal, PostedDonorYearTotal):
        assert not model.objects.exists()


def test_a_period_that_ends_before_it_starts_has_no_donors(db):
    from donors.selectors import donor_period_totals

    totals = donor_period_totals(start=dt.date(2026, 1, 5), end=dt.date(2025, 12, 31))
    assert (totals.top, totals.by_kind) == ([], [])
