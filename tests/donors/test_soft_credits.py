"""Soft credits: a donation credited to another donor, as a whole or in part. The payer keeps the
hard credit; soft credit is its own figure, never added to the hard totals, and falls away when
the donation is reversed."""

import datetime as dt
from decimal import Decimal

import pytest

from backoffice.errors import LedgerError
from donors import services
from donors.merge import donor_merge, donor_merge_preview, donor_merge_undo
from donors.models import Donation, DonorRelationship, SoftCredit
from donors.selectors import (
    donor_group,
    donors_with_giving,
    posted_total,
    soft_credit_total,
    soft_credits_given,
    soft_credits_received,
)
from tests.factories import DonationFactory, DonorFactory, RateFactory, role_user

ON = dt.date(2025, 3, 1)


@pytest.fixture
def user(db):
    return role_user("Finance")


def posted(user, donor, amount="100.00", currency="GBP", **kwargs):
    donation = DonationFactory(donor=donor, amount=Decimal(amount), currency=currency, **kwargs)
    return services.donation_post(donation=donation, by=user)


def test_a_whole_donation_credits_its_base_amount(user):
    agency, government = DonorFactory(name="Agency"), DonorFactory(name="Government")
    gift = posted(user, agency, "250.00")
    credit = services.soft_credit_create(donation=gift, donor=government, kind="on_behalf", by=user)
    assert (credit.amount, credit.base_amount, credit.created_by) == (Decimal("250.00"), Decimal("250.00"), user)
    assert SoftCredit.history.filter(id=credit.pk).count() == 1


def test_a_part_in_another_currency_is_converted_at_the_donations_frozen_rate(user):
    RateFactory(currency="USD", date=ON, rate=Decimal("0.78500000"))
    fund, member = DonorFactory(), DonorFactory()
    gift = posted(user, fund, "1000.00", "USD", received_on=ON)
    RateFactory(currency="USD", date=ON + dt.timedelta(days=1), rate=Decimal("0.90000000"))  # a later rate: unused
    credit = services.soft_credit_create(
        donation=gift, donor=member, kind="pooled_member", amount=Decimal("333.33"), by=user
    )
    assert credit.base_amount == Decimal("261.66")  # 333.33 x 0.785 = 261.664..., at the rate of 1 March


def test_credits_of_one_donation_never_exceed_it(user):
    payer, a, b = DonorFactory(), DonorFactory(), DonorFactory()
    gift = posted(user, payer, "100.00")
    services.soft_credit_create(donation=gift, donor=a, kind="matched", amount=Decimal("60.00"), by=user)
    with pytest.raises(LedgerError) as refused:
        services.soft_credit_create(donation=gift, donor=b, kind="matched", amount=Decimal("40.01"), by=user)
    assert "GBP 60.00 is already credited" in str(refused.value)
    assert "at most GBP 40.00" in str(refused.value)
    rest = services.soft_credit_create(donation=gift, donor=b, kind="matched", by=user)  # no amount: what is left
    assert rest.amount == Decimal("40.00")


@pytest.mark.parametrize(
    ("amount", "message"),
    [("0.001", "GBP has 2 decimal places"), ("0", "more than zero")],
)
def test_an_amount_out_of_places_or_zero_is_refused(user, amount, message):
    gift = posted(user, DonorFactory())
    with pytest.raises(LedgerError) as refused:
        services.soft_credit_create(
            donation=gift, donor=DonorFactory(), kind="matched", amount=Decimal(amount), by=user
        )
    assert message in str(refused.value)
    assert not SoftCredit.objects.exists()


def test_a_donor_cannot_soft_credit_itself(user):
    donor = DonorFactory()
    gift = posted(user, donor)
    with pytest.raises(LedgerError, match="cannot soft-credit itself"):
        services.soft_credit_create(donation=gift, donor=donor, kind="on_behalf", by=user)


def test_a_draft_or_reversed_donation_is_not_credited(user):
    draft = DonationFactory(donor=DonorFactory())
    with pytest.raises(LedgerError, match="is a draft"):
        services.soft_credit_create(donation=draft, donor=DonorFactory(), kind="on_behalf", by=user)
    gift = posted(user, DonorFactory())
    reversal = services.donation_reverse(donation=gift, by=user, reason="Bounced", on=ON)
    for donation in (gift, reversal):
        with pytest.raises(LedgerError, match="reversed or is a reversal"):
            services.soft_credit_create(donation=donation, donor=DonorFactory(), kind="on_behalf", by=user)
    assert draft.status == Donation.Status.DRAFT


def test_the_donation_is_untouched_and_hard_totals_unchanged(user):
    payer, credited = DonorFactory(), DonorFactory()
    gift = posted(user, payer, "500.00", received_on=ON)
    before = (posted_total(), {d.pk: d.lifetime_giving for d in donors_with_giving()})
    services.soft_credit_create(donation=gift, donor=credited, kind="on_behalf", by=user)
    assert (posted_total(), {d.pk: d.lifetime_giving for d in donors_with_giving()}) == before
    assert Donation.objects.get(pk=gift.pk).donor_id == payer.pk
    assert soft_credit_total() == Decimal("500.00")
    assert soft_credit_total(start=ON + dt.timedelta(days=1)) == Decimal("0.00")
    assert [c.donation.donor for c in soft_credits_received(donor=credited)] == [payer]
    assert [c.donor for c in soft_credits_given(donor=payer)] == [credited]


def test_a_reversed_donations_soft_credits_fall_away(user):
    payer, credited = DonorFactory(), DonorFactory()
    gift = posted(user, payer, "500.00", received_on=ON)
    services.soft_credit_create(donation=gift, donor=credited, kind="on_behalf", by=user)
    services.donation_reverse(donation=gift, by=user, reason="Sent in error", on=ON)
    assert soft_credit_total() == Decimal("0.00")
    assert not soft_credits_received(donor=credited).exists()
    assert not soft_credits_given(donor=payer).exists()


def test_removing_a_soft_credit_keeps_its_history(user):
    gift = posted(user, DonorFactory())
    credit = services.soft_credit_create(donation=gift, donor=DonorFactory(), kind="matched", by=user)
    credit_id = credit.pk
    services.soft_credit_remove(soft_credit=credit, by=user)
    assert soft_credit_total() == Decimal("0.00")
    assert list(
        SoftCredit.history.filter(id=credit_id).order_by("-history_id").values_list("history_type", "history_user")
    ) == [
        ("-", user.pk),
        ("+", user.pk),
    ]


def test_the_group_rollup_counts_a_gift_inside_the_group_once(user):
    government, agency, outsider = DonorFactory(name="Government"), DonorFactory(name="Agency"), DonorFactory()
    DonorRelationship.objects.create(donor=agency, parent=government, kind="agency")
    inside = posted(user, agency, "300.00")  # the agency pays for the government: one group, one gift
    services.soft_credit_create(donation=inside, donor=government, kind="on_behalf", by=user)
    outside = posted(user, outsider, "120.00")  # a pooled fund outside the group pays for the agency
    services.soft_credit_create(donation=outside, donor=agency, kind="pooled_member", by=user)
    group = donor_group(government)
    assert group.lifetime_hard == Decimal("300.00")
    assert group.soft_from_outside == Decimal("120.00")
    assert group.soft_by_member == {government.pk: Decimal("300.00"), agency.pk: Decimal("120.00")}


def test_a_merge_moves_soft_credits_and_undo_moves_them_back(user):
    survivor, loser, payer = DonorFactory(), DonorFactory(), DonorFactory()
    credit = services.soft_credit_create(donation=posted(user, payer), donor=loser, kind="matched", by=user)
    merge = donor_merge(survivor=survivor, loser=loser, by=user)
    assert SoftCredit.objects.get(pk=credit.pk).donor == survivor
    assert merge.moved["donors.softcredit"] == [credit.pk]
    donor_merge_undo(merge=merge, by=user)
    assert SoftCredit.objects.get(pk=credit.pk).donor == loser


def test_a_merge_that_would_credit_a_donor_itself_is_refused(user):
    survivor, loser = DonorFactory(), DonorFactory()
    services.soft_credit_create(donation=posted(user, loser), donor=survivor, kind="on_behalf", by=user)
    preview = donor_merge_preview(survivor=survivor, loser=loser)
    assert any("would credit itself" in r for r in preview.refusals)
    with pytest.raises(LedgerError, match="would credit itself"):
        donor_merge(survivor=survivor, loser=loser, by=user)
