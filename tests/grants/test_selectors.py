import datetime as dt
from decimal import Decimal

import pytest

from donors import services as ledger
from grants import selectors, services
from grants.models import ReportingObligation
from tests.factories import (
    DonationFactory,
    DonorFactory,
    ObligationFactory,
    OutputFactory,
    PledgeFactory,
    ProgrammeFactory,
    RateFactory,
    role_user,
)


@pytest.fixture
def user(db):
    return role_user("Finance")


def posted(user, **kwargs):
    return ledger.donation_post(donation=DonationFactory(**kwargs), by=user)


def allocate(user, donation, output, amount, on=dt.date(2025, 3, 1)):
    return services.allocation_create(donation=donation, output=output, amount=Decimal(amount), by=user, on=on)


def funded_world(user, size: int):
    """`size` outputs, each co-funded by two donors, with a plan, a reversal and a restricted pledge."""
    programme = ProgrammeFactory(name="Threat intelligence")
    donors = [DonorFactory(), DonorFactory()]
    for i in range(size):
        output = OutputFactory(programme=programme, budget=Decimal("1000.00"))
        for donor in donors:
            donation = posted(user, donor=donor, amount=Decimal("100.00"))
            allocate(user, donation, output, "60.00")
        pledge = PledgeFactory(donor=donors[0], restricted_programme=programme)
        services.allocation_plan(pledge=pledge, output=output, amount=Decimal("25.00"), by=user)
        if i == 0:
            gone = allocate(user, posted(user, donor=donors[1], amount=Decimal("5.00")), output, "5.00")
            services.allocation_reverse(allocation=gone, by=user)
        posted(user, donor=donors[0], pledge=pledge, amount=Decimal("10.00"))
        ObligationFactory(pledge=pledge, due_date=dt.date(2025, 3, 10 + i % 10))
        ObligationFactory(pledge=pledge, due_date=dt.date(2025, 1, 1 + i % 10))
    return programme, donors


# Funding per output ----------------------------------------------------------------------


def test_output_funding_keeps_received_and_planned_apart_net_of_reversals(user):
    RateFactory(currency="USD", date=dt.date(2024, 1, 1), rate=Decimal("0.50000000"))
    output = OutputFactory(budget=Decimal("500.00"), title="Global Threat Assessment 2025")
    other = OutputFactory(budget=Decimal("10.00"))
    allocate(user, posted(user, amount=Decimal("300.00")), output, "300.00")
    mistake = allocate(user, posted(user, amount=Decimal("50.00")), output, "50.00")
    services.allocation_reverse(allocation=mistake, by=user)
    pledge = PledgeFactory(currency="USD", total=Decimal("1000.00"))
    services.allocation_plan(pledge=pledge, output=output, amount=Decimal("400.00"), by=user)
    allocate(user, posted(user, amount=Decimal("20.00")), other, "20.00")

    rows = {r.output_id: r for r in selectors.output_funding()}
    row = rows[output.pk]
    assert row.title == "Global Threat Assessment 2025" and row.programme_name == output.programme.name
    assert (row.budget, row.allocated, row.planned, row.gap) == (
        Decimal("500.00"),
        Decimal("300.00"),
        Decimal("400.00"),
        Decimal("200.00"),
    )
    assert str(row.allocated) == "300.00"  # quantized to the cent
    assert rows[other.pk].gap == Decimal("0.00")  # over-funded: no negative gap


def test_output_funding_filters_by_outputs_programme_and_period(user):
    a = OutputFactory()
    b = OutputFactory()
    allocate(user, posted(user), a, "10.00", on=dt.date(2025, 1, 15))
    allocate(user, posted(user), a, "20.00", on=dt.date(2025, 6, 15))
    assert [r.output_id for r in selectors.output_funding(outputs=[b])] == [b.pk]
    assert [r.output_id for r in selectors.output_funding(programme=a.programme)] == [a.pk]
    (row,) = selectors.output_funding(outputs=[a], start=dt.date(2025, 6, 1), end=dt.date(2025, 6, 30))
    assert row.allocated == Decimal("20.00")


# Funding per donor -----------------------------------------------------------------------


def test_donor_output_funding_gives_amount_and_share_of_a_co_funded_output(user):
    output = OutputFactory(title="Model National Response toolkit")
    alone = OutputFactory()
    norway, oakridge = DonorFactory(name="Norway"), DonorFactory(name="Oakridge")
    allocate(user, posted(user, donor=norway, amount=Decimal("200.00")), output, "200.00")
    allocate(user, posted(user, donor=oakridge, amount=Decimal("100.00")), output, "100.00")
    allocate(user, posted(user, donor=norway, amount=Decimal("50.00")), alone, "50.00")
    withdrawn = allocate(user, posted(user, donor=oakridge, amount=Decimal("9.00")), alone, "9.00")
    services.allocation_reverse(allocation=withdrawn, by=user)

    rows = {r.output_id: r for r in selectors.donor_output_funding(donor=norway)}
    assert rows[output.pk].donor_amount == Decimal("200.00")
    assert rows[output.pk].output_allocated == Decimal("300.00")
    assert rows[output.pk].share == Decimal("0.6667")
    assert rows[alone.pk].share == Decimal("1.0000")
    # Oakridge's money for `alone` was reversed: that output is not theirs.
    assert [r.output_id for r in selectors.donor_output_funding(donor=oakridge)] == [output.pk]

    funders = selectors.output_funders(output=output)
    assert [(f.donor_name, f.amount, f.share) for f in funders] == [
        ("Norway", Decimal("200.00"), Decimal("0.6667")),
        ("Oakridge", Decimal("100.00"), Decimal("0.3333")),
    ]
    assert [f.donor_name for f in selectors.output_funders(output=alone)] == ["Norway"]


def test_donor_output_funding_in_a_period(user):
    output = OutputFactory()
    donor = DonorFactory()
    allocate(user, posted(user, donor=donor), output, "10.00", on=dt.date(2024, 5, 1))
    allocate(user, posted(user), output, "30.00", on=dt.date(2025, 5, 1))
    allocate(user, posted(user, donor=donor), output, "10.00", on=dt.date(2025, 5, 2))
    (row,) = selectors.donor_output_funding(donor=donor, start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31))
    assert (row.donor_amount, row.output_allocated, row.share) == (
        Decimal("10.00"),
        Decimal("40.00"),
        Decimal("0.2500"),
    )


# Unallocated money -----------------------------------------------------------------------


def test_unallocated_balance_splits_restricted_by_restriction(user):
    programme = ProgrammeFactory(name="National response")
    output = OutputFactory(programme=programme, title="Global Summit 2026")
    by_programme = PledgeFactory(restricted_programme=programme)
    by_output = PledgeFactory(restricted_output=output)
    unrestricted_pledge = PledgeFactory()
    allocate(user, posted(user, donor=by_programme.donor, pledge=by_programme, amount=Decimal("100.00")), output, "40")
    posted(user, donor=by_output.donor, pledge=by_output, amount=Decimal("70.00"))
    posted(user, donor=unrestricted_pledge.donor, pledge=unrestricted_pledge, amount=Decimal("5.00"))
    loose = posted(user, amount=Decimal("20.00"))
    allocate(user, loose, output, "20.00")
    posted(user, amount=Decimal("11.00"))
    recalled = posted(user, amount=Decimal("1000.00"))
    allocate(user, recalled, output, "300.00")
    ledger.donation_reverse(donation=recalled, by=user, reason="Bank recall")
    DonationFactory(amount=Decimal("999.00"))  # a draft counts for nothing

    balance = selectors.unallocated_balance()
    assert balance.unrestricted == Decimal("16.00")
    assert balance.restricted == Decimal("130.00")
    assert balance.by_restriction == [
        selectors.RestrictionBalance("Output: Global Summit 2026", None, output.pk, Decimal("70.00")),
        selectors.RestrictionBalance("Programme: National response", programme.pk, None, Decimal("60.00")),
    ]


# Obligations -----------------------------------------------------------------------------


def test_obligations_due_soon_and_overdue(db):
    today = dt.date(2025, 3, 1)
    overdue = ObligationFactory(due_date=dt.date(2025, 2, 28))
    due_today = ObligationFactory(due_date=today)
    due_in_30 = ObligationFactory(due_date=dt.date(2025, 3, 31))
    ObligationFactory(due_date=dt.date(2025, 4, 1))  # beyond 30 days
    ObligationFactory(
        due_date=dt.date(2025, 2, 1), status=ReportingObligation.Status.SUBMITTED, submitted_on=dt.date(2025, 2, 1)
    )
    ObligationFactory(due_date=dt.date(2025, 2, 1), status=ReportingObligation.Status.WAIVED)
    assert list(selectors.obligations_due(today=today)) == [due_today, due_in_30]
    assert list(selectors.obligations_due(within_days=0, today=today)) == [due_today]
    assert list(selectors.obligations_overdue(today=today)) == [overdue]


def test_obligation_state_is_due_overdue_submitted_or_waived(db):
    today = dt.date(2025, 3, 1)
    status, state = ReportingObligation.Status, ReportingObligation.State
    cases = {
        state.OVERDUE: ObligationFactory(due_date=dt.date(2025, 2, 19)),
        state.DUE: ObligationFactory(due_date=today),
        state.SUBMITTED: ObligationFactory(due_date=dt.date(2025, 1, 1), status=status.SUBMITTED,
                                           submitted_on=dt.date(2025, 1, 5)),
        state.WAIVED: ObligationFactory(due_date=dt.date(2025, 1, 1), status=status.WAIVED),
    }  # fmt: skip
    found = {o.pk: o for o in selectors.obligations_with_state(today=today)}
    for expected, obligation in cases.items():
        assert found[obligation.pk].state == expected
    assert found[cases[state.OVERDUE].pk].overdue_by == dt.timedelta(days=10)
    assert {found[o.pk].overdue_by for o in cases.values() if o is not cases[state.OVERDUE]} == {None}
    # The lists read the same rule: an obligation is in exactly the list its state names.
    assert [o.state for o in selectors.obligations_overdue(today=today)] == [state.OVERDUE]
    assert [o.state for o in selectors.obligations_due(today=today)] == [state.DUE]


def test_funding_gaps_leave_out_cancelled_outputs(db):
    programme = ProgrammeFactory()
    cancelled = OutputFactory(programme=programme, status="cancelled", budget=Decimal("9000.00"), title="Called off")
    small = OutputFactory(programme=programme, budget=Decimal("100.00"), title="Small")
    large = OutputFactory(programme=programme, budget=Decimal("5000.00"), title="Large")
    OutputFactory(programme=ProgrammeFactory(), budget=Decimal("7000.00"), title="Elsewhere")
    OutputFactory(programme=programme, budget=Decimal("0.00"), title="No gap")
    gaps = selectors.output_gaps(programme=programme)
    assert [(g.output_id, g.gap) for g in gaps] == [(large.pk, Decimal("5000.00")), (small.pk, Decimal("100.00"))]
    assert [g.title for g in selectors.output_gaps(limit=2)] == ["Elsewhere", "Large"]
    # The output itself still shows what it lacks; only the list of gaps to fund leaves it out.
    assert selectors.output_funding(outputs=[cancelled])[0].gap == Decimal("9000.00")


# Co-funders as a donor sees them -----------------------------------------------------------

END = dt.date(2025, 12, 31)


@pytest.fixture
def shared(user):
    """Three donors co-funding one output: an acknowledged one, and two that are not."""
    output = OutputFactory()
    donors = [
        DonorFactory(name="Nordic Fund", publicly_acknowledged=True),
        DonorFactory(name="Quiet Trust", publicly_acknowledged=False),
        DonorFactory(name="Small Giver", publicly_acknowledged=False),
    ]
    for donor, amount in zip(donors, ["300.00", "200.00", "50.00"], strict=True):
        allocate(user, posted(user, donor=donor, amount=Decimal(amount)), output, amount)
    return output, donors


def co_funders(donor, output, end=END):
    found = selectors.output_co_funders(outputs=[output.pk], end=end, excluding_donor=donor).get(output.pk)
    if found is None:
        return []
    rows = [(name, str(amount)) for name, amount in found.named]
    if found.others_count:
        rows.append((f"others ({found.others_count})", str(found.others_amount)))
    return rows


def test_co_funders_name_the_acknowledged_and_pool_the_others(shared):
    output, (nordic, quiet, small) = shared
    assert co_funders(quiet, output) == [("Nordic Fund", "300.00"), ("others (1)", "50.00")]
    assert co_funders(nordic, output) == [("others (2)", "250.00")]
    assert co_funders(small, output) == [("Nordic Fund", "300.00"), ("others (1)", "200.00")]


def test_a_new_allocation_or_a_reversal_is_in_the_next_read(user, shared):
    output, (nordic, quiet, _) = shared
    late = DonorFactory(name="Late Giver", publicly_acknowledged=False)
    allocate(user, posted(user, donor=late, amount=Decimal("25.00")), output, "25.00")
    assert co_funders(nordic, output) == [("others (3)", "275.00")]
    standing = quiet.donations.get().allocations.get()
    services.allocation_reverse(allocation=standing, by=user)  # a co-funder netted to zero drops out of the count
    assert co_funders(nordic, output, end=None) == [("others (2)", "75.00")]


def test_a_renamed_or_newly_acknowledged_donor_is_shown_as_it_is_now(shared):
    output, (nordic, quiet, small) = shared
    quiet.publicly_acknowledged = True
    quiet.save()
    assert co_funders(small, output) == [("Nordic Fund", "300.00"), ("Quiet Trust", "200.00")]
    type(nordic).objects.filter(pk=nordic.pk).update(name="Nordic Fund for Children")
    assert co_funders(small, output) == [("Nordic Fund for Children", "300.00"), ("Quiet Trust", "200.00")]


def test_namesakes_are_one_funder_and_the_donor_is_left_out_by_identity(user, shared):
    output, (nordic, _, _) = shared
    namesake = DonorFactory(name="Nordic Fund", publicly_acknowledged=True)
    allocate(user, posted(user, donor=namesake, amount=Decimal("40.00")), output, "40.00")
    assert co_funders(nordic, output) == [("Nordic Fund", "40.00"), ("others (2)", "250.00")]
    assert co_funders(namesake, output) == [("Nordic Fund", "300.00"), ("others (2)", "250.00")]
    twins = [DonorFactory(name="Twin", publicly_acknowledged=False) for _ in range(2)]
    for twin, amount in zip(twins, ["5.00", "7.50"], strict=True):
        allocate(user, posted(user, donor=twin, amount=Decimal(amount)), output, amount)
    assert co_funders(nordic, output) == [("Nordic Fund", "40.00"), ("others (3)", "262.50")]  # the twins pooled once


def test_allocations_after_the_end_are_not_counted(user, shared):
    output, (nordic, quiet, _) = shared
    allocate(user, posted(user, donor=quiet, amount=Decimal("1000.00")), output, "1000.00", on=dt.date(2026, 2, 1))
    assert co_funders(nordic, output) == [("others (2)", "250.00")]
    assert co_funders(nordic, output, end=dt.date(2026, 12, 31)) == [("others (2)", "1250.00")]


def test_an_output_only_the_donor_funded_has_no_co_funders(user):
    output = OutputFactory()
    donor = DonorFactory()
    allocate(user, posted(user, donor=donor, amount=Decimal("10.00")), output, "10.00")
    assert selectors.output_co_funders(outputs=[output.pk], end=END, excluding_donor=donor) == {}


# Constant number of queries --------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 6])
def test_each_selector_uses_a_constant_number_of_queries(user, size, django_assert_num_queries):
    programme, donors = funded_world(user, size)
    output = programme.outputs.first()
    today = dt.date(2025, 3, 5)
    with django_assert_num_queries(1):
        rows = selectors.output_funding()
    assert len(rows) == size and rows[0].allocated == Decimal("120.00") and rows[0].planned == Decimal("25.00")
    with django_assert_num_queries(1):
        rows = selectors.output_funding(programme=programme, start=dt.date(2025, 1, 1))
    with django_assert_num_queries(1):
        rows = selectors.donor_output_funding(donor=donors[0])
    assert len(rows) == size and all(r.share == Decimal("0.5000") for r in rows)
    with django_assert_num_queries(1):
        funders = selectors.output_funders(output=output)
    assert len(funders) == 2
    with django_assert_num_queries(1):
        groups = selectors.output_co_funders(
            outputs=programme.outputs.values_list("pk", flat=True), excluding_donor=donors[0]
        )
    assert len(groups) == size and all(g.others_amount == Decimal("60.00") for g in groups.values())
    with django_assert_num_queries(3):  # all posted, restricted posted, allocated: no per-donation subquery
        balance = selectors.unallocated_balance()
    assert balance.restricted == Decimal("10.00") * size
    with django_assert_num_queries(1):
        due = list(selectors.obligations_due(today=today))
        [o.pledge.donor.name for o in due]
    with django_assert_num_queries(1):
        overdue = list(selectors.obligations_overdue(today=today))
        [o.pledge.donor.name for o in overdue]
    assert len(overdue) == size
