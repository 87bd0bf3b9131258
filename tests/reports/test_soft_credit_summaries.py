"""Soft credits in the reports: both donors' summaries show the gift (the credited donor's as received
through the payer, the payer's as credited to the other), and every portfolio and dashboard figure
stays hard credit, with soft credit one figure beside them. Pinned against the ledger."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from donors import services
from donors.models import Donation, DonorRelationship, SoftCredit
from donors.selectors import donor_group, donors_with_giving, soft_credit_total
from reports.figures import ANOTHER_DONOR, donor_summary_snapshot, portfolio_snapshot
from reports.models import ReportRun
from reports.renderers import render
from reports.services import report_run_generate
from tests.factories import DonationFactory, DonorFactory, role_user

from .helpers import figure, pdf_text

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
ON = dt.date(2025, 3, 1)


@pytest.fixture
def user(db):
    return role_user("Finance")


def posted(user, donor, amount, on=ON, currency="GBP"):
    donation = DonationFactory(donor=donor, amount=Decimal(amount), currency=currency, received_on=on)
    return services.donation_post(donation=donation, by=user)


def test_both_donors_summaries_show_the_gift_and_only_the_payer_counts_it(user):
    fund = DonorFactory(name="Pooled Fund for Children", publicly_acknowledged=True)
    member = DonorFactory(name="Ministry of Example")
    gift = posted(user, fund, "900.00")
    services.soft_credit_create(donation=gift, donor=member, kind="pooled_member", amount=Decimal("300.00"), by=user)

    theirs = donor_summary_snapshot(donor=member, start=START, end=END)
    assert theirs["received_through_others"] == {
        "rows": [
            {
                "received_on": "2025-03-01",
                "payer": "Pooled Fund for Children",
                "kind": "Pooled fund member",
                "amount": {"amount": "300.00", "currency": "GBP"},
                "base": {"amount": "300.00", "currency": "GBP"},
            }
        ],
        "base": {"amount": "300.00", "currency": "GBP"},
    }
    assert figure(theirs, "received_in_period")["value"]["amount"] == "0.00"  # hard credit: the member paid nothing
    assert theirs["donations"] == []

    payers = donor_summary_snapshot(donor=fund, start=START, end=END)
    [row] = payers["credited_to_others"]["rows"]
    assert (row["reference"], row["credited_to"], row["amount"]["amount"], row["donation_amount"]["amount"]) == (
        gift.reference,
        ANOTHER_DONOR,  # the ministry is not acknowledged and not in the fund's group
        "300.00",
        "900.00",
    )
    assert figure(payers, "received_in_period")["value"]["amount"] == "900.00"

    text = pdf_text(render(theirs))
    assert "Received through others" in text and "Pooled Fund for Children" in text and "GBP 300.00" in text
    text = pdf_text(render(payers))
    assert f"{gift.reference}: GBP 900.00, of which GBP 300.00 credited to {ANOTHER_DONOR}" in text


def test_an_unacknowledged_payer_is_named_only_inside_its_group(user):
    government, agency = DonorFactory(name="Government of Example"), DonorFactory(name="Example Aid Agency")
    stranger = DonorFactory(name="Quiet Foundation", publicly_acknowledged=False)
    services.soft_credit_create(donation=posted(user, agency, "100.00"), donor=government, kind="on_behalf", by=user)
    services.soft_credit_create(donation=posted(user, stranger, "50.00"), donor=government, kind="matched", by=user)

    def payers():
        rows = donor_summary_snapshot(donor=government, start=START, end=END)["received_through_others"]["rows"]
        return [r["payer"] for r in rows]

    assert payers() == [ANOTHER_DONOR, ANOTHER_DONOR]
    DonorRelationship.objects.create(donor=agency, parent=government, kind="agency")
    assert payers() == ["Example Aid Agency", ANOTHER_DONOR]
    snapshot = donor_summary_snapshot(donor=government, start=START, end=END)
    assert "Quiet Foundation" not in pdf_text(render(snapshot))


def test_a_reversed_gift_leaves_both_summaries(user):
    payer, credited = DonorFactory(), DonorFactory()
    gift = posted(user, payer, "100.00")
    services.soft_credit_create(donation=gift, donor=credited, kind="on_behalf", by=user)
    services.donation_reverse(donation=gift, by=user, reason="Returned by the bank", on=ON)
    assert donor_summary_snapshot(donor=credited, start=START, end=END)["received_through_others"]["rows"] == []
    assert donor_summary_snapshot(donor=payer, start=START, end=END)["credited_to_others"]["rows"] == []


def test_the_portfolio_figures_stay_hard_credit_with_soft_credit_beside_them(user):
    payer, credited = DonorFactory(), DonorFactory()
    gift = posted(user, payer, "400.00")
    posted(user, credited, "50.00")
    before = portfolio_snapshot(start=START, end=END)
    services.soft_credit_create(donation=gift, donor=credited, kind="on_behalf", amount=Decimal("150.00"), by=user)
    after = portfolio_snapshot(start=START, end=END)
    for key in ("figures", "top_donors", "by_kind", "by_currency", "by_year"):
        assert after[key] == before[key], key
    assert figure(after, "received")["value"]["amount"] == "450.00"  # each pound once
    assert after["soft_credit"]["value"] == {"amount": "150.00", "currency": "GBP"}
    assert before["soft_credit"]["value"] == {"amount": "0.00", "currency": "GBP"}
    assert "GBP 150.00" in pdf_text(render(after))


def test_the_dashboard_shows_the_soft_credit_figure_apart(client, user):
    gift = posted(user, DonorFactory(), "70.00", on=dt.date.today())
    services.soft_credit_create(donation=gift, donor=DonorFactory(), kind="matched", by=user)
    client.force_login(role_user("Leadership", username="soft-leadership"))
    html = client.get("/dashboard/").content.decode()
    assert 'data-figure="soft_credit"' in html and 'data-value="70.00"' in html


# Against the ledger, over small ledgers ----------------------------------------------------------

gift = st.tuples(
    st.integers(min_value=0, max_value=3),  # payer
    st.integers(min_value=1, max_value=50_000),  # cents
    st.lists(st.tuples(st.integers(0, 3), st.integers(1, 100), st.sampled_from(SoftCredit.Kind.values)), max_size=3),
    st.booleans(),  # reversed
)


class TestSoftCreditsAgainstTheLedger(HypothesisTestCase):
    @settings(max_examples=20, deadline=None)
    @given(gifts=st.lists(gift, min_size=1, max_size=6), grouped=st.booleans())
    def test_hard_totals_unchanged_soft_figure_is_the_standing_credits_group_counts_once(self, gifts, grouped):
        user = role_user("Finance", username="hyp-finance")
        donors = [DonorFactory() for _ in range(4)]
        if grouped:  # donors 0 and 1 are one group: credits between them are already hard credit
            DonorRelationship.objects.create(donor=donors[1], parent=donors[0], kind="foundation")
        donations = []
        for payer, cents, credits, to_reverse in gifts:
            donation = posted(user, donors[payer], Decimal(cents) / 100)
            donations.append((donation, credits, to_reverse))
        before = (portfolio_snapshot(start=START, end=END)["figures"], list(donors_with_giving().values_list(
            "pk", "lifetime_giving")))  # fmt: skip
        for donation, credits, to_reverse in donations:
            for who, percent, kind in credits:
                if donors[who].pk == donation.donor_id or donation.soft_credits.filter(donor=donors[who]).exists():
                    continue
                left = donation.amount - (donation.soft_credits.aggregate(s=Sum("amount"))["s"] or 0)
                amount = min(left, (donation.amount * percent / 100).quantize(Decimal("0.01")))
                if amount > 0:
                    services.soft_credit_create(donation=donation, donor=donors[who], kind=kind, amount=amount, by=user)
            if to_reverse:
                services.donation_reverse(donation=donation, by=user, reason="Test", on=ON)
        # Reversals change the hard figures by themselves; compare with the soft credits taken away.
        snapshot = portfolio_snapshot(start=START, end=END)
        standing = SoftCredit.objects.filter(donation__reversed_by__isnull=True)
        expected_soft = sum((c.base_amount for c in standing), Decimal("0.00"))
        assert Decimal(snapshot["soft_credit"]["value"]["amount"]) == expected_soft
        assert soft_credit_total() == expected_soft
        for donation in Donation.objects.filter(reversal_of__isnull=True):
            assert sum((c.amount for c in donation.soft_credits.all()), Decimal(0)) <= donation.amount
        ledger = Donation.objects.filter(status="posted").aggregate(s=Sum("base_amount"))["s"]
        assert Decimal(figure(snapshot, "received")["value"]["amount"]) == ledger  # hard credit only
        if not any(to_reverse for *_, to_reverse in gifts):
            assert (snapshot["figures"], list(donors_with_giving().values_list("pk", "lifetime_giving"))) == before
        group = donor_group(donors[0])
        members = {m.pk for m in group.members}
        assert group.lifetime_hard == sum(
            (d.base_amount for d in Donation.objects.filter(status="posted", donor_id__in=members)), Decimal(0)
        )
        assert group.soft_from_outside == sum(
            (c.base_amount for c in standing.filter(donor_id__in=members).exclude(donation__donor_id__in=members)),
            Decimal("0.00"),
        )


def test_the_html_version_shows_both_sections(client, user):
    fund = DonorFactory(name="Pooled Fund for Children", publicly_acknowledged=True)
    member = DonorFactory(name="Ministry of Example")
    gift = posted(user, fund, "900.00")
    services.soft_credit_create(donation=gift, donor=member, kind="pooled_member", amount=Decimal("300.00"), by=user)
    client.force_login(role_user("Leadership", username="soft-html"))
    pages = {}
    for donor in (member, fund):
        run = ReportRun.objects.create(
            kind="donor_summary", donor=donor, period_start=START, period_end=END, requested_by=user
        )
        run = report_run_generate(run_id=run.pk)
        assert run.status == ReportRun.Status.DONE, run.error
        pages[donor] = client.get(reverse("reports:run_html", args=[run.pk])).content.decode()
    assert 'id="through-others"' in pages[member] and "Pooled Fund for Children" in pages[member]
    assert "GBP 300.00" in pages[member]
    assert f"{gift.reference}: GBP 900.00, of which GBP 300.00 credited to {ANOTHER_DONOR}" in pages[fund]
