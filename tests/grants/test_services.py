import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.utils import DatabaseError
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from donors import services as ledger
from donors.models import ImmutableRecordError
from grants import services
from grants.models import Allocation, Output, ReportingObligation
from grants.selectors import output_funding
from tests.factories import (
    DonationFactory,
    ObligationFactory,
    OutputFactory,
    PledgeFactory,
    RateFactory,
    role_user,
)


@pytest.fixture
def user(db):
    return role_user("Finance")


def posted(user, **kwargs):
    return ledger.donation_post(donation=DonationFactory(**kwargs), by=user)


def net(donation):
    return services.donation_allocated(donation)


def field_error(error, field) -> str:
    return " ".join(error.value.message_dict[field])


# Allocating received money ---------------------------------------------------------------


def test_allocation_takes_part_of_a_posted_donation(user):
    donation = posted(user, amount=Decimal("100.00"))
    output = OutputFactory()
    allocation = services.allocation_create(donation=donation, output=output, amount=Decimal("60.00"), by=user)
    assert allocation.amount == Decimal("60.00") and allocation.by == user and not allocation.is_planned
    assert services.donation_unallocated(donation) == Decimal("40.00")


def test_allocation_beyond_the_base_amount_is_refused_with_what_is_left(user):
    RateFactory(currency="USD", rate=Decimal("0.80000000"))
    donation = posted(user, amount=Decimal("100.00"), currency="USD")  # 80.00 GBP
    output = OutputFactory()
    services.allocation_create(donation=donation, output=output, amount=Decimal("50.00"), by=user)
    with pytest.raises(ValidationError) as error:
        services.allocation_create(donation=donation, output=output, amount=Decimal("30.01"), by=user)
    assert field_error(error, "amount") == (
        "30.01 GBP is more than the 30.00 GBP left to allocate from donation "
        f"{donation.reference} (base amount 80.00 GBP)."
    )
    services.allocation_create(donation=donation, output=output, amount=Decimal("30.00"), by=user)
    assert net(donation) == Decimal("80.00")


def test_draft_reversal_and_reversed_donations_cannot_be_allocated(user):
    output = OutputFactory()
    draft = DonationFactory()
    with pytest.raises(ValidationError, match="is a draft; post it before allocating"):
        services.allocation_create(donation=draft, output=output, amount=Decimal("1.00"), by=user)
    donation = posted(user)
    reversal = ledger.donation_reverse(donation=donation, by=user, reason="Bank recall")
    with pytest.raises(ValidationError, match="has been reversed"):
        services.allocation_create(donation=donation, output=output, amount=Decimal("1.00"), by=user)
    with pytest.raises(ValidationError, match="is a reversal"):
        services.allocation_create(donation=reversal, output=output, amount=Decimal("1.00"), by=user)
    assert not Allocation.objects.exists()


@pytest.mark.parametrize(
    ("amount", "message"),
    [(Decimal("0"), "greater than zero"), (Decimal("-5.00"), "greater than zero"), (Decimal("1.005"), "2 decimal")],
)
def test_bad_amounts_are_refused(user, amount, message):
    donation = posted(user)
    with pytest.raises(ValidationError) as error:
        services.allocation_create(donation=donation, output=OutputFactory(), amount=amount, by=user)
    assert message in field_error(error, "amount")


def test_nothing_goes_to_a_cancelled_output(user):
    donation = posted(user)
    output = OutputFactory(status=Output.Status.CANCELLED, title="Almaty workshop")
    with pytest.raises(ValidationError) as error:
        services.allocation_create(donation=donation, output=output, amount=Decimal("1.00"), by=user)
    assert field_error(error, "output") == "Output “Almaty workshop” is cancelled; nothing can be allocated to it."


def test_programme_restricted_money_stays_inside_its_programme(user):
    inside = OutputFactory()
    outside = OutputFactory()
    pledge = PledgeFactory(restricted_programme=inside.programme)
    donation = posted(user, donor=pledge.donor, pledge=pledge)
    with pytest.raises(ValidationError) as error:
        services.allocation_create(donation=donation, output=outside, amount=Decimal("1.00"), by=user)
    assert f"restricted to Programme: {inside.programme}" in field_error(error, "output")
    services.allocation_create(donation=donation, output=inside, amount=Decimal("1.00"), by=user)


def test_output_restricted_money_goes_to_that_output_only(user):
    target = OutputFactory()
    sibling = OutputFactory(programme=target.programme)
    pledge = PledgeFactory(restricted_output=target)
    donation = posted(user, donor=pledge.donor, pledge=pledge)
    with pytest.raises(ValidationError, match="outside it"):
        services.allocation_create(donation=donation, output=sibling, amount=Decimal("1.00"), by=user)
    services.allocation_create(donation=donation, output=target, amount=Decimal("1.00"), by=user)


# Immutability and reversal ---------------------------------------------------------------


def test_posted_allocations_cannot_be_changed_or_deleted(user):
    allocation = services.allocation_create(
        donation=posted(user), output=OutputFactory(), amount=Decimal("10.00"), by=user
    )
    allocation.amount = Decimal("5.00")
    with pytest.raises(ImmutableRecordError):
        allocation.save()
    with pytest.raises(ImmutableRecordError):
        allocation.delete()
    with pytest.raises(ImmutableRecordError):
        Allocation.objects.filter(pk=allocation.pk).update(amount=Decimal("5.00"))
    with pytest.raises(ImmutableRecordError):
        Allocation.objects.all().delete()
    assert Allocation.objects.get().amount == Decimal("10.00")


def test_database_refuses_raw_updates_of_allocations(user):
    allocation = services.allocation_create(
        donation=posted(user), output=OutputFactory(), amount=Decimal("10.00"), by=user
    )
    with pytest.raises(DatabaseError, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE grants_allocation SET amount = 1 WHERE id = %s", [allocation.pk])


def test_reversal_frees_the_amount_and_is_made_once(user):
    donation = posted(user, amount=Decimal("100.00"))
    output = OutputFactory()
    allocation = services.allocation_create(donation=donation, output=output, amount=Decimal("100.00"), by=user)
    reversal = services.allocation_reverse(allocation=allocation, by=user)
    assert reversal.amount == Decimal("-100.00") and reversal.reversal_of == allocation
    assert services.donation_unallocated(donation) == Decimal("100.00")
    with pytest.raises(ValidationError, match="already been reversed"):
        services.allocation_reverse(allocation=allocation, by=user)
    with pytest.raises(ValidationError, match="a reversal cannot be reversed"):
        services.allocation_reverse(allocation=reversal, by=user)
    services.allocation_create(donation=donation, output=output, amount=Decimal("100.00"), by=user)


def test_reversing_a_donation_reverses_its_allocations(user):
    donation = posted(user, amount=Decimal("100.00"))
    a, b = OutputFactory(), OutputFactory()
    services.allocation_create(donation=donation, output=a, amount=Decimal("30.00"), by=user)
    services.allocation_create(donation=donation, output=b, amount=Decimal("70.00"), by=user)
    ledger.donation_reverse(donation=donation, by=user, reason="Bank recall")
    assert net(donation) == Decimal("0.00")
    assert Allocation.objects.filter(reversal_of__isnull=False).count() == 2


# Planned allocations ---------------------------------------------------------------------


def test_plan_is_capped_by_the_pledge_total_at_its_start_rate(user):
    RateFactory(currency="USD", date=dt.date(2024, 12, 1), rate=Decimal("0.75000000"))
    RateFactory(currency="USD", date=dt.date(2025, 2, 1), rate=Decimal("0.90000000"))  # after the start: unused
    pledge = PledgeFactory(total=Decimal("1000.00"), currency="USD", start_date=dt.date(2025, 1, 1))
    output = OutputFactory()
    assert services.pledge_plan_cap(pledge) == Decimal("750.00")
    plan = services.allocation_plan(pledge=pledge, output=output, amount=Decimal("700.00"), by=user)
    assert plan.is_planned and plan.donation is None
    with pytest.raises(ValidationError) as error:
        services.allocation_plan(pledge=pledge, output=output, amount=Decimal("50.01"), by=user)
    assert (
        field_error(error, "amount") == f"50.01 GBP is more than the 50.00 GBP left to plan from pledge {pledge.ref}."
    )


def test_plan_respects_restriction_cancellation_and_cancelled_outputs(user):
    target = OutputFactory()
    pledge = PledgeFactory(restricted_output=target)
    with pytest.raises(ValidationError, match="outside it"):
        services.allocation_plan(pledge=pledge, output=OutputFactory(), amount=Decimal("1.00"), by=user)
    with pytest.raises(ValidationError, match="is cancelled; nothing can be allocated"):
        services.allocation_plan(
            pledge=PledgeFactory(), output=OutputFactory(status="cancelled"), amount=Decimal("1.00"), by=user
        )
    ledger.pledge_cancel(pledge=pledge, on=dt.date(2025, 6, 1))
    with pytest.raises(ValidationError, match="is cancelled; nothing can be planned"):
        services.allocation_plan(pledge=pledge, output=target, amount=Decimal("1.00"), by=user)


# Auto-allocation -------------------------------------------------------------------------


def test_auto_allocation_splits_by_unfunded_budget_and_adds_up(user):
    a = OutputFactory(budget=Decimal("100.00"))
    b = OutputFactory(budget=Decimal("300.00"))
    c = OutputFactory(budget=Decimal("200.00"))
    services.allocation_create(
        donation=posted(user, amount=Decimal("100.00")), output=c, amount=Decimal("100.00"), by=user
    )
    donation = posted(user, amount=Decimal("100.00"))
    parts = services.donation_auto_allocate(donation=donation, by=user)
    # Unfunded: a 100, b 300, c 100 → 1 : 3 : 1.
    assert [(p.output, p.amount) for p in parts] == [
        (a, Decimal("20.00")),
        (b, Decimal("60.00")),
        (c, Decimal("20.00")),
    ]
    assert net(donation) == Decimal("100.00")


def test_auto_allocation_uses_largest_remainder_so_cents_add_up(user):
    outputs = [OutputFactory(budget=Decimal("1000.00")) for _ in range(3)]
    donation = posted(user, amount=Decimal("100.00"))
    parts = services.donation_auto_allocate(donation=donation, by=user)
    assert [p.amount for p in parts] == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    assert [p.output for p in parts] == outputs


def test_auto_allocation_runs_once_and_does_nothing_when_fully_allocated(user):
    OutputFactory(budget=Decimal("1000.00"))
    donation = posted(user, amount=Decimal("100.00"))
    assert len(services.donation_auto_allocate(donation=donation, by=user)) == 1
    assert services.donation_auto_allocate(donation=donation, by=user) == []
    assert Allocation.objects.count() == 1 and net(donation) == Decimal("100.00")


def test_auto_allocation_allocates_the_remainder_only_within_the_restriction(user):
    inside = OutputFactory(budget=Decimal("1000.00"))
    OutputFactory(programme=inside.programme, budget=Decimal("1000.00"), status=Output.Status.CANCELLED)
    OutputFactory(budget=Decimal("1000.00"))  # another programme
    pledge = PledgeFactory(restricted_programme=inside.programme)
    donation = posted(user, donor=pledge.donor, pledge=pledge, amount=Decimal("100.00"))
    services.allocation_create(donation=donation, output=inside, amount=Decimal("40.00"), by=user)
    parts = services.donation_auto_allocate(donation=donation, by=user)
    assert [(p.output, p.amount) for p in parts] == [(inside, Decimal("60.00"))]


def test_auto_allocation_never_takes_an_output_past_its_budget(user):
    output = OutputFactory(budget=Decimal("30.00"))
    donation = posted(user, amount=Decimal("100.00"))
    parts = services.donation_auto_allocate(donation=donation, by=user)
    assert [p.amount for p in parts] == [Decimal("30.00")]
    assert services.donation_auto_allocate(donation=donation, by=user) == []
    assert services.donation_unallocated(donation) == Decimal("70.00")
    assert output.allocations.count() == 1


def test_auto_allocating_a_draft_is_refused(user):
    with pytest.raises(ValidationError, match="draft"):
        services.donation_auto_allocate(donation=DonationFactory(), by=user)


# Invariants (hypothesis) -----------------------------------------------------------------

operation = st.tuples(
    st.sampled_from(["create", "auto", "reverse_allocation", "reverse_donation"]),
    st.integers(min_value=0, max_value=2),  # which donation
    st.integers(min_value=0, max_value=3),  # which output
    st.integers(min_value=1, max_value=15_000),  # cents
)


class TestAllocationInvariants(HypothesisTestCase):
    """Whatever finance does, allocations stay within the donation, its restriction and live outputs."""

    @settings(max_examples=30, deadline=None)
    @given(
        amounts=st.lists(st.integers(min_value=1, max_value=10_000), min_size=3, max_size=3),
        operations=st.lists(operation, max_size=12),
    )
    def test_allocations_hold_every_invariant(self, amounts, operations):
        user = role_user("Finance", username="f")
        a1 = OutputFactory(budget=Decimal("80.00"))
        a2 = OutputFactory(programme=a1.programme, budget=Decimal("50.00"))
        b1 = OutputFactory(budget=Decimal("60.00"))
        cancelled = OutputFactory(programme=a1.programme, status=Output.Status.CANCELLED)
        outputs = [a1, a2, b1, cancelled]
        programme_pledge = PledgeFactory(restricted_programme=a1.programme)
        output_pledge = PledgeFactory(restricted_output=b1)
        donations = [
            posted(user, amount=Decimal(amounts[0]) / 100),
            posted(user, donor=programme_pledge.donor, pledge=programme_pledge, amount=Decimal(amounts[1]) / 100),
            posted(user, donor=output_pledge.donor, pledge=output_pledge, amount=Decimal(amounts[2]) / 100),
        ]
        allowed = [{a1.pk, a2.pk, b1.pk}, {a1.pk, a2.pk}, {b1.pk}]
        reversed_ = set()
        for kind, d, o, cents in operations:
            donation, output, amount = donations[d], outputs[o], Decimal(cents) / 100
            if kind == "create":
                should_pass = (
                    d not in reversed_ and output.pk in allowed[d] and amount <= services.donation_unallocated(donation)
                )
                try:
                    services.allocation_create(donation=donation, output=output, amount=amount, by=user)
                except ValidationError:
                    assert not should_pass
                else:
                    assert should_pass
            elif kind == "auto":
                before = {f.output_id: f.allocated for f in output_funding()}
                try:
                    services.donation_auto_allocate(donation=donation, by=user)
                except ValidationError:
                    assert d in reversed_
                for row in output_funding():  # auto-allocation never takes an output past its budget
                    assert row.allocated <= max(before[row.output_id], row.budget)
            elif kind == "reverse_allocation":
                standing = Allocation.objects.filter(reversal_of__isnull=True, reversed_by__isnull=True).first()
                if standing:
                    services.allocation_reverse(allocation=standing, by=user)
            elif d not in reversed_:
                ledger.donation_reverse(donation=donation, by=user, reason="Bank recall")
                reversed_.add(d)

            for i, each in enumerate(donations):
                allocated = net(each)
                assert Decimal("0") <= allocated <= each.base_amount
                if i in reversed_:
                    assert allocated == 0
                made = each.allocations.filter(reversal_of__isnull=True)
                assert set(made.values_list("output", flat=True)) <= allowed[i]
            assert not cancelled.allocations.exists()


# Reporting obligations -------------------------------------------------------------------


def test_obligations_fall_due_after_each_pledge_year_and_generate_once(db):
    pledge = PledgeFactory(start_date=dt.date(2025, 4, 1), end_date=dt.date(2027, 9, 30))
    created = services.obligations_generate(pledge=pledge, days_after=60)
    rows = sorted((o.period_end, o.due_date, o.kind) for o in created)
    assert rows == [
        (dt.date(2026, 3, 31), dt.date(2026, 5, 30), "financial"),
        (dt.date(2026, 3, 31), dt.date(2026, 5, 30), "narrative"),
        (dt.date(2027, 3, 31), dt.date(2027, 5, 30), "financial"),
        (dt.date(2027, 3, 31), dt.date(2027, 5, 30), "narrative"),
        (dt.date(2027, 9, 30), dt.date(2027, 11, 29), "financial"),
        (dt.date(2027, 9, 30), dt.date(2027, 11, 29), "narrative"),
    ]
    assert services.obligations_generate(pledge=pledge, days_after=60) == []
    assert pledge.obligations.count() == 6
    only_narrative = services.obligations_generate(pledge=pledge, days_after=90, kinds=("narrative",))
    assert {o.kind for o in only_narrative} == {"narrative"} and len(only_narrative) == 3


def test_cancelled_pledge_generates_no_obligations(db):
    pledge = PledgeFactory(cancelled_on=dt.date(2025, 2, 1))
    with pytest.raises(ValidationError, match="owes no reports"):
        services.obligations_generate(pledge=pledge)


def test_obligation_submitted_once_with_its_date(db):
    obligation = ObligationFactory()
    services.obligation_submit(obligation=obligation, on=dt.date(2025, 2, 20))
    obligation.refresh_from_db()
    assert obligation.status == ReportingObligation.Status.SUBMITTED
    assert obligation.submitted_on == dt.date(2025, 2, 20)
    with pytest.raises(ValidationError, match="already submitted on 2025-02-20"):
        services.obligation_submit(obligation=obligation, on=dt.date(2025, 2, 21))


def test_concurrent_style_allocations_are_checked_against_the_locked_row(user):
    """A stale donation object cannot be used to exceed: the service re-reads the locked row."""
    donation = posted(user, amount=Decimal("10.00"))
    stale = type(donation).objects.get(pk=donation.pk)
    output = OutputFactory()
    services.allocation_create(donation=donation, output=output, amount=Decimal("10.00"), by=user)
    with pytest.raises(ValidationError, match="more than the 0.00 GBP left"):
        services.allocation_create(donation=stale, output=output, amount=Decimal("10.00"), by=user)
