import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from donors import services
from donors.models import Donation, Instalment, PostedDayTotal, WriteOff
from donors.selectors import pledge_figures, pledge_instalment_states
from tests.factories import BatchFactory, DonationFactory, DonorFactory, PledgeFactory, RateFactory, role_user

TODAY = dt.date(2026, 11, 21)


@pytest.fixture
def user(db):
    return role_user("Finance")


def post(user, **kwargs):
    return services.donation_post(donation=DonationFactory(**kwargs), by=user)


# Schedules -------------------------------------------------------------------------------


def test_quarterly_schedule_adds_up_and_steps_three_months(db):
    pledge = services.pledge_create(
        donor=DonorFactory(),
        title="Core",
        total=Decimal("1000.00"),
        currency="GBP",
        start_date=dt.date(2025, 1, 31),
        end_date=dt.date(2025, 12, 31),
        frequency="quarterly",
        count=3,
    )
    rows = list(pledge.instalments.values_list("due_date", "amount"))
    assert rows == [
        (dt.date(2025, 1, 31), Decimal("333.34")),
        (dt.date(2025, 4, 30), Decimal("333.33")),
        (dt.date(2025, 7, 31), Decimal("333.33")),
    ]
    assert pledge.ref == "PLG-0001"


@given(
    total=st.integers(min_value=1, max_value=10**12).map(lambda c: Decimal(c) / 100),
    count=st.integers(min_value=1, max_value=120),
    frequency=st.sampled_from(["monthly", "quarterly", "annual"]),
)
def test_schedule_always_adds_up_to_the_pledge_total(total, count, frequency):
    if total / count < Decimal("0.01"):
        with pytest.raises(ValidationError):
            services.schedule_split(
                total=total, currency="GBP", start=dt.date(2024, 1, 31), frequency=frequency, count=count
            )
        return
    rows = services.schedule_split(
        total=total, currency="GBP", start=dt.date(2024, 1, 31), frequency=frequency, count=count
    )
    assert sum(amount for _, amount in rows) == total
    assert len(rows) == count
    dates = [d for d, _ in rows]
    assert dates == sorted(dates) and len(set(dates)) == count


def test_editing_one_instalment_is_refused_unless_the_total_still_adds_up(db):
    pledge = PledgeFactory(total=Decimal("300.00"))
    services.instalments_replace(pledge=pledge, rows=[(dt.date(2025, 1, 1), Decimal("100.00"))] * 3)
    first = pledge.instalments.first()
    with pytest.raises(ValidationError) as error:
        services.instalment_update(instalment=first, amount=Decimal("150.00"))
    assert "add up to 350.00 GBP, but the pledge total is 300.00 GBP" in str(error.value)
    assert Instalment.objects.get(pk=first.pk).amount == Decimal("100.00")
    services.instalment_update(instalment=first, due_date=dt.date(2025, 2, 1))
    assert Instalment.objects.get(pk=first.pk).due_date == dt.date(2025, 2, 1)


def test_replacing_a_schedule_that_does_not_add_up_saves_nothing(db):
    pledge = PledgeFactory(total=Decimal("300.00"))
    with pytest.raises(ValidationError, match="add up to 200.00 GBP"):
        services.instalments_replace(pledge=pledge, rows=[(dt.date(2025, 1, 1), Decimal("100.00"))] * 2)
    assert not pledge.instalments.exists()


# Posting, rates and validation -----------------------------------------------------------


def test_posting_freezes_rate_and_rounds_base_amount_half_up(user):
    RateFactory(currency="USD", date=dt.date(2025, 2, 1), rate=Decimal("0.79125000"), source="ECB")
    RateFactory(currency="USD", date=dt.date(2025, 3, 2), rate=Decimal("0.9"))  # after the gift: not used
    donation = post(user, amount=Decimal("10.00"), currency="USD", received_on=dt.date(2025, 3, 1))
    assert donation.rate == Decimal("0.79125000")
    assert donation.rate_date == dt.date(2025, 2, 1)
    assert donation.rate_source == "ECB"
    assert donation.base_amount == Decimal("7.91")  # 7.9125 rounds half up
    assert donation.status == Donation.Status.POSTED and donation.posted_by == user


def test_later_rate_edits_never_change_a_posted_donation(user):
    rate = RateFactory(currency="EUR", date=dt.date(2025, 1, 1), rate=Decimal("0.85"))
    donation = post(user, amount=Decimal("200.00"), currency="EUR")
    rate.rate = Decimal("0.50")
    rate.save()
    donation.refresh_from_db()
    assert donation.base_amount == Decimal("170.00")


def test_missing_rate_names_the_currency_and_date(user):
    with pytest.raises(ValidationError) as error:
        post(user, amount=Decimal("10.00"), currency="JPY", received_on=dt.date(2025, 3, 1))
    assert error.value.message_dict == {"currency": ["No exchange rate for JPY on or before 2025-03-01."]}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"amount": Decimal("0.00")}, "amount", "greater than zero"),
        ({"amount": Decimal("-5.00")}, "amount", "greater than zero"),
        ({"amount": Decimal("1.005")}, "amount", "decimal places"),
        ({"currency": "ABC"}, "currency", "ABC"),
        ({"currency": "XXX"}, "currency", "XXX"),
    ],
)
def test_bad_donation_gets_a_field_error_and_nothing_is_saved(db, fields, field, message):
    donor = DonorFactory()
    values = {
        "donor": donor,
        "reference": "R1",
        "received_on": dt.date(2025, 1, 1),
        "amount": Decimal("10.00"),
        "currency": "GBP",
    } | fields
    with pytest.raises(ValidationError) as error:
        services.donation_create(**values)
    assert field in error.value.message_dict
    assert message in " ".join(error.value.message_dict[field])
    assert not Donation.objects.exists()


def test_donation_linked_to_another_donors_pledge_is_refused(db):
    pledge, donor = PledgeFactory(), DonorFactory()
    with pytest.raises(ValidationError) as error:
        services.donation_create(
            donor=donor,
            reference="R1",
            received_on=dt.date(2025, 1, 1),
            amount=Decimal("10.00"),
            currency="GBP",
            pledge=pledge,
        )
    assert error.value.message_dict["pledge"] == [
        f"Pledge {pledge.ref} belongs to {pledge.donor}, not to {donor}: choose one of this donor's pledges."
    ]
    assert not Donation.objects.exists()


def test_pledge_currency_mismatch_without_a_rate_is_refused(db):
    pledge = PledgeFactory(currency="EUR")
    RateFactory(currency="USD", date=dt.date(2025, 1, 1))
    with pytest.raises(ValidationError) as error:
        services.donation_create(
            donor=pledge.donor,
            pledge=pledge,
            reference="R1",
            received_on=dt.date(2025, 2, 1),
            amount=Decimal("10.00"),
            currency="USD",
        )
    assert "no EUR rate on or before 2025-02-01" in error.value.message_dict["pledge"][0]
    assert not Donation.objects.exists()


def test_donation_in_another_currency_counts_against_the_pledge_in_the_pledge_currency(user):
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80"))
    RateFactory(currency="EUR", date=dt.date(2025, 1, 1), rate=Decimal("0.85"))
    pledge = PledgeFactory(currency="EUR", total=Decimal("1000.00"))
    donation = post(user, donor=pledge.donor, pledge=pledge, amount=Decimal("100.00"), currency="USD")
    assert donation.base_amount == Decimal("80.00")
    assert donation.pledge_amount == Decimal("94.12")  # 80 / 0.85 = 94.1176...
    assert pledge_figures(pledge).received == Decimal("94.12")


def test_posting_twice_is_refused(user):
    donation = post(user)
    with pytest.raises(ValidationError, match="already posted"):
        services.donation_post(donation=donation, by=user)


# Dates in the future ---------------------------------------------------------------------


def tomorrow() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=1)


def test_a_future_dated_donation_may_be_a_draft_but_is_refused_when_posted(user):
    draft = DonationFactory(received_on=tomorrow())
    with pytest.raises(ValidationError) as error:
        services.donation_post(donation=draft, by=user)
    (message,) = error.value.message_dict["received_on"]
    assert f"The date received, {tomorrow().isoformat()}, is in the future" in message
    draft.refresh_from_db()
    assert draft.status == "draft" and draft.base_amount is None and not PostedDayTotal.objects.exists()


def test_a_donation_received_today_is_posted(user):
    assert post(user, received_on=timezone.localdate()).is_posted


def test_a_batch_with_a_future_dated_donation_posts_nothing(user):
    batch = BatchFactory(expected_count=2, expected_total=Decimal("200.00"))
    DonationFactory(batch=batch, received_on=dt.date(2025, 3, 1))
    DonationFactory(batch=batch, received_on=tomorrow())
    with pytest.raises(ValidationError, match=f"{tomorrow().isoformat()}, is in the future"):
        services.batch_post(batch=batch, by=user)
    assert set(batch.donations.values_list("status", flat=True)) == {"draft"}
    batch.refresh_from_db()
    assert batch.status == "open"


def test_bulk_posting_refuses_a_future_dated_donation_and_posts_none(user):
    donor = DonorFactory()
    rows = [
        services.NewDonation(f"B-{day}", donor.pk, timezone.localdate() + dt.timedelta(days=day), Decimal("5"), "GBP")
        for day in (-1, 1)
    ]
    with pytest.raises(ValidationError, match="is in the future"):
        services.donations_post_bulk(donations=rows, by=user)
    assert not Donation.objects.exists()


def test_a_reversal_dated_in_the_future_is_refused(user):
    donation = post(user)
    with pytest.raises(ValidationError, match="is in the future"):
        services.donation_reverse(donation=donation, by=user, reason="Bank recall", on=tomorrow())
    assert Donation.objects.count() == 1


def test_the_posting_preview_is_what_posting_freezes(user):
    RateFactory(currency="USD", date=dt.date(2025, 2, 1), rate=Decimal("0.79"), source="ECB")
    draft = DonationFactory(amount=Decimal("100.00"), currency="USD")
    preview = services.donation_post_preview(draft)
    assert Donation.objects.get(pk=draft.pk).status == "draft"  # the preview writes nothing
    posted = services.donation_post(donation=draft, by=user)
    assert preview == {
        "rate": posted.rate,
        "rate_date": dt.date(2025, 2, 1),
        "rate_source": "ECB",
        "base_amount": Decimal("79.00"),
        "pledge_amount": None,
    }


# Reversals -------------------------------------------------------------------------------


def test_the_reason_is_stored_on_the_reversal_and_the_original_is_untouched(user):
    donation = post(user)
    reversal = services.donation_reverse(donation=donation, by=user, reason="Bank recall: account closed\n(ref 42)")
    reversal.refresh_from_db()
    assert reversal.reversal_reason == "Bank recall: account closed\n(ref 42)"
    assert reversal.history.get().reversal_reason == reversal.reversal_reason
    donation.refresh_from_db()
    assert donation.reversal_reason == ""


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "A reversal needs a reason"),
        ("  \n ", "A reversal needs a reason"),
        ("Recall\x07", "control character U+0007"),
    ],
)
def test_a_reversal_without_a_plain_text_reason_is_refused(user, reason, message):
    donation = post(user)
    with pytest.raises(ValidationError) as error:
        services.donation_reverse(donation=donation, by=user, reason=reason)
    assert message in " ".join(error.value.message_dict["reversal_reason"])
    assert Donation.objects.count() == 1


def test_reversal_restores_pledge_outstanding(user):
    pledge = PledgeFactory(total=Decimal("1000.00"))
    donation = post(user, donor=pledge.donor, pledge=pledge, amount=Decimal("400.00"))
    assert pledge_figures(pledge).outstanding == Decimal("600.00")
    reversal = services.donation_reverse(donation=donation, by=user, reason="Bank recall")
    assert reversal.amount == Decimal("-400.00") and reversal.base_amount == Decimal("-400.00")
    assert reversal.reversal_of == donation and reversal.is_posted
    assert pledge_figures(pledge).outstanding == Decimal("1000.00")
    donation.refresh_from_db()
    assert donation.amount == Decimal("400.00") and donation.is_posted  # the original is untouched


def test_reversal_uses_the_original_rate_not_todays(user):
    rate = RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80"))
    donation = post(user, amount=Decimal("100.00"), currency="USD")
    rate.rate = Decimal("0.5")
    rate.save()
    reversal = services.donation_reverse(donation=donation, by=user, reason="Bank recall")
    assert reversal.base_amount == -donation.base_amount == Decimal("-80.00")


def test_second_reversal_and_reversal_of_reversal_are_refused(user):
    donation = post(user)
    reversal = services.donation_reverse(donation=donation, by=user, reason="Bank recall")
    with pytest.raises(ValidationError, match="already been reversed"):
        services.donation_reverse(donation=donation, by=user, reason="Bank recall")
    with pytest.raises(ValidationError, match="a reversal cannot be reversed"):
        services.donation_reverse(donation=reversal, by=user, reason="Bank recall")
    assert Donation.objects.count() == 2


def test_draft_cannot_be_reversed(user):
    with pytest.raises(ValidationError, match="only posted donations are reversed"):
        services.donation_reverse(donation=DonationFactory(), by=user, reason="Bank recall")


# Pledge status, outstanding, overpayment, write-offs -------------------------------------


def test_overpayment_is_recorded_and_shown_not_negative_outstanding(user):
    pledge = PledgeFactory(total=Decimal("100.00"))
    post(user, donor=pledge.donor, pledge=pledge, amount=Decimal("130.00"))
    figures = pledge_figures(pledge)
    assert figures.outstanding == Decimal("0.00")
    assert figures.overpaid == Decimal("30.00")
    assert figures.received == Decimal("130.00")
    assert figures.status == "fulfilled"


def test_pledge_status_follows_instalments_donations_and_write_offs(user):
    pledge = PledgeFactory(total=Decimal("300.00"))
    services.instalments_replace(
        pledge=pledge,
        rows=[
            (dt.date(2025, 1, 1), Decimal("100.00")),
            (dt.date(2025, 6, 1), Decimal("100.00")),
            (dt.date(2027, 1, 1), Decimal("100.00")),
        ],
    )
    assert pledge_figures(pledge, today=TODAY).status == "overdue"
    assert pledge_figures(pledge, today=TODAY).overdue_amount == Decimal("200.00")
    post(user, donor=pledge.donor, pledge=pledge, amount=Decimal("150.00"))
    states = pledge_instalment_states(pledge, today=TODAY)
    assert [(s.status, s.covered) for s in states] == [
        ("paid", Decimal("100.00")),
        ("overdue", Decimal("50.00")),
        ("due", Decimal("0.00")),
    ]
    post(user, donor=pledge.donor, pledge=pledge, amount=Decimal("50.00"))
    assert pledge_figures(pledge, today=TODAY).status == "open"
    services.pledge_write_off(pledge=pledge, reason="Budget cut", by=user)
    figures = pledge_figures(pledge, today=TODAY)
    assert (figures.status, figures.written_off, figures.outstanding) == ("written_off", Decimal("100.00"), 0)
    services.pledge_cancel(pledge=pledge)
    assert pledge_figures(pledge, today=TODAY).status == "cancelled"


def test_write_off_more_than_outstanding_is_refused(user):
    pledge = PledgeFactory(total=Decimal("100.00"))
    post(user, donor=pledge.donor, pledge=pledge, amount=Decimal("60.00"))
    with pytest.raises(ValidationError) as error:
        services.pledge_write_off(pledge=pledge, amount=Decimal("40.01"), reason="x", by=user)
    assert error.value.message_dict["amount"] == ["40.01 GBP is more than the 40.00 GBP outstanding."]
    with pytest.raises(ValidationError, match="needs a reason"):
        services.pledge_write_off(pledge=pledge, amount=Decimal("10.00"), reason=" ", by=user)
    assert not WriteOff.objects.exists()


def test_write_off_reversal_restores_outstanding_once(user):
    pledge = PledgeFactory(total=Decimal("100.00"))
    write_off = services.pledge_write_off(pledge=pledge, amount=Decimal("30.00"), reason="Partial", by=user)
    assert pledge_figures(pledge).outstanding == Decimal("70.00")
    services.writeoff_reverse(write_off=write_off, by=user, reason="Donor will pay after all")
    assert pledge_figures(pledge).outstanding == Decimal("100.00")
    with pytest.raises(ValidationError, match="already been reversed"):
        services.writeoff_reverse(write_off=write_off, by=user, reason="")


class TestOutstandingInvariant(HypothesisTestCase):
    """outstanding = total − received − written off, never negative; overpayment is kept."""

    @settings(max_examples=25, deadline=None)
    @given(
        total=st.integers(min_value=1, max_value=10**8).map(lambda c: Decimal(c) / 100),
        gifts=st.lists(st.integers(min_value=1, max_value=10**8).map(lambda c: Decimal(c) / 100), max_size=5),
        reverse=st.lists(st.booleans(), min_size=5, max_size=5),
        write_off=st.integers(min_value=0, max_value=100),
    )
    def test_outstanding_and_overpaid_account_for_every_penny(self, total, gifts, reverse, write_off):
        user = role_user("Finance", username="f")
        pledge = PledgeFactory(total=total)
        for gift, undo in zip(gifts, reverse, strict=False):
            donation = post(user, donor=pledge.donor, pledge=pledge, amount=gift)
            if undo:
                services.donation_reverse(donation=donation, by=user, reason="Bank recall")
        before = pledge_figures(pledge)
        if before.outstanding > 0 and write_off:
            amount = max(Decimal("0.01"), (before.outstanding * write_off / 100).quantize(Decimal("0.01")))
            services.pledge_write_off(pledge=pledge, amount=min(amount, before.outstanding), reason="r", by=user)
        figures = pledge_figures(pledge)
        received = sum((g for g, undo in zip(gifts, reverse, strict=False) if not undo), Decimal("0"))
        assert figures.received == received
        balance = total - received - figures.written_off
        assert figures.outstanding == max(balance, Decimal("0")) >= 0
        assert figures.overpaid == max(-balance, Decimal("0"))
        assert figures.outstanding - figures.overpaid == total - figures.received - figures.written_off


# Batches ---------------------------------------------------------------------------------


def test_batch_posts_only_when_count_and_total_match(user):
    batch = BatchFactory(expected_count=2, expected_total=Decimal("300.00"))
    DonationFactory(batch=batch, amount=Decimal("100.00"))
    with pytest.raises(ValidationError) as error:
        services.batch_post(batch=batch, by=user)
    assert "it has 1 donations, 2 expected; they add up to GBP 100.00, GBP 300.00 expected" in str(error.value)
    DonationFactory(batch=batch, amount=Decimal("200.00"))
    services.batch_post(batch=batch, by=user)
    assert set(batch.donations.values_list("status", flat=True)) == {"posted"}
    batch.refresh_from_db()
    assert batch.status == "posted" and batch.posted_by == user
    with pytest.raises(ValidationError, match="already posted"):
        services.batch_post(batch=batch, by=user)


def test_batch_with_a_bad_donation_posts_nothing(user):
    batch = BatchFactory(expected_count=2, expected_total=Decimal("300.00"), currency="USD")
    DonationFactory(batch=batch, amount=Decimal("100.00"), currency="USD", rate=Decimal("0.8"))
    DonationFactory(batch=batch, amount=Decimal("200.00"), currency="USD")  # no rate given, no USD rate
    with pytest.raises(ValidationError, match="No exchange rate for USD"):
        services.batch_post(batch=batch, by=user)
    assert set(batch.donations.values_list("status", flat=True)) == {"draft"}
