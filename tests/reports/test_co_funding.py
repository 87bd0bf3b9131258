"""Co-funding groups kept between summaries (reports.co_funding): the same figures as reading them
anew, read once while nothing changes them, and read again as soon as anything does.

The tests commit (transactional): on PostgreSQL the revision changes when a transaction commits."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TransactionTestCase as HypothesisTransactionTestCase

from donors.models import Donation, Donor
from donors.services import donation_post
from grants.models import Allocation, FundingRevision
from grants.services import allocation_create
from reports import co_funding
from reports.figures import donor_summary_snapshot
from reports.snapshot import canonical_json
from tests.factories import AllocationFactory, DonationFactory, DonorFactory, OutputFactory

from . import reference_figures

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)


def co_funders(donor, output):
    snapshot = donor_summary_snapshot(donor=donor, start=START, end=END)
    reference = reference_figures.donor_summary_snapshot(donor=donor, start=START, end=END)
    assert canonical_json(snapshot) == canonical_json(reference), donor.ref
    [row] = [o for o in snapshot["outputs"] if o["output_id"] == output.pk]
    return [(c["name"], c["amount"]["amount"]) for c in row["co_funders"]]


def gift(donor, output, amount, on=dt.date(2025, 3, 1)):
    return AllocationFactory(
        output=output, donation=DonationFactory(donor=donor), amount=Decimal(amount), allocated_on=on
    )


pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shared(transactional_db):
    """Three donors co-funding one output: an acknowledged one, and two that are not."""
    co_funding.kept_clear()
    output = OutputFactory()
    donors = [
        DonorFactory(name="Nordic Fund", publicly_acknowledged=True),
        DonorFactory(name="Quiet Trust", publicly_acknowledged=False),
        DonorFactory(name="Small Giver", publicly_acknowledged=False),
    ]
    for donor, amount in zip(donors, ["300.00", "200.00", "50.00"], strict=True):
        gift(donor, output, amount)
    return output, donors


def snapshot_queries(donor) -> int:
    with CaptureQueriesContext(connection) as queries:
        donor_summary_snapshot(donor=donor, start=START, end=END)
    return len(queries)


def test_the_groups_are_read_once_then_kept_while_nothing_changes(shared):
    output, (nordic, quiet, small) = shared
    first = snapshot_queries(quiet)  # reads the output's groups
    assert snapshot_queries(small) == first - 1  # takes them as kept
    assert snapshot_queries(nordic) == first - 1
    assert co_funders(quiet, output) == [("Nordic Fund", "300.00"), ("Other funders (1)", "50.00")]
    assert co_funders(nordic, output) == [("Other funders (2)", "250.00")]


def test_a_new_allocation_is_in_the_next_summary(shared):
    output, (nordic, quiet, _) = shared
    assert co_funders(nordic, output) == [("Other funders (2)", "250.00")]
    gift(DonorFactory(name="Late Giver", publicly_acknowledged=False), output, "25.00")
    assert co_funders(nordic, output) == [("Other funders (3)", "275.00")]
    standing = Allocation.objects.get(donation__donor=quiet, output=output)
    AllocationFactory(  # a co-funder whose part nets to zero drops out of the count
        output=output, donation=standing.donation, amount=Decimal("-200.00"), reversal_of=standing
    )
    assert co_funders(nordic, output) == [("Other funders (2)", "75.00")]


def test_a_renamed_or_newly_acknowledged_donor_is_shown_as_it_is_now(shared):
    output, (nordic, quiet, small) = shared
    assert co_funders(small, output) == [("Nordic Fund", "300.00"), ("Other funders (1)", "200.00")]
    quiet.publicly_acknowledged = True
    quiet.save()
    assert co_funders(small, output) == [("Nordic Fund", "300.00"), ("Quiet Trust", "200.00")]
    Donor.objects.filter(pk=nordic.pk).update(name="Nordic Fund for Children")
    assert co_funders(small, output) == [("Nordic Fund for Children", "300.00"), ("Quiet Trust", "200.00")]


def test_a_namesake_of_the_donor_is_still_shown_without_the_donors_own_part(shared):
    output, (nordic, _, _) = shared
    namesake = DonorFactory(name="Nordic Fund", publicly_acknowledged=True)
    gift(namesake, output, "40.00")
    assert co_funders(nordic, output) == [("Nordic Fund", "40.00"), ("Other funders (2)", "250.00")]
    assert co_funders(namesake, output) == [("Nordic Fund", "300.00"), ("Other funders (2)", "250.00")]


def test_allocations_after_the_period_end_are_not_counted_and_do_not_break_the_kept_groups(shared):
    output, (nordic, quiet, _) = shared
    gift(quiet, output, "1000.00", on=dt.date(2026, 2, 1))
    assert co_funders(nordic, output) == [("Other funders (2)", "250.00")]
    later = donor_summary_snapshot(donor=nordic, start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31))
    [row] = later["outputs"]
    assert row["co_funders"] == [{"name": "Other funders (2)", "amount": {"amount": "1250.00", "currency": "GBP"}}]


def test_groups_kept_at_another_revision_are_never_taken(shared, monkeypatch):
    """What a thread could find if another refilled the kept groups between two of its reads."""
    output, (nordic, _, _) = shared
    current = FundingRevision.objects.get(pk=1).revision
    wrong = co_funding.OutputGroups.of([("Nobody", True, Decimal("999.00"))])
    monkeypatch.setattr(co_funding, "_kept", {(output.pk, END): (current + 1, wrong)})
    monkeypatch.setattr(co_funding, "_kept_revision", current)
    assert co_funders(nordic, output) == [("Other funders (2)", "250.00")]


def test_without_a_revision_row_nothing_is_kept_and_the_figures_are_right(shared):
    output, (nordic, quiet, small) = shared
    FundingRevision.objects.all().delete()
    first = snapshot_queries(quiet)
    assert snapshot_queries(small) == first  # read anew each time
    assert co_funders(nordic, output) == [("Other funders (2)", "250.00")]


def test_every_change_of_who_funded_what_changes_the_revision(shared):
    output, (nordic, quiet, _) = shared

    def revision():
        return FundingRevision.objects.get(pk=1).revision

    before = revision()
    gift(quiet, output, "1.00")
    assert revision() != before
    before = revision()
    Donor.objects.filter(pk=nordic.pk).update(publicly_acknowledged=False)
    assert revision() != before
    before = revision()
    nordic.refresh_from_db()
    nordic.country = "NO"
    nordic.save()  # saves every column, name and acknowledgement unchanged: not a co-funding change
    Donor.objects.filter(pk=nordic.pk).update(name="Nordic Fund")  # the same name again
    assert revision() == before


def test_a_donation_moved_to_another_donor_changes_the_revision_and_the_summary(shared):
    output, (nordic, quiet, small) = shared
    assert co_funders(nordic, output) == [("Other funders (2)", "250.00")]
    before = FundingRevision.objects.get(pk=1).revision
    moved = Donation.objects.get(allocations__output=output, donor=small)  # a draft: it may still change donor
    Donation.objects.filter(pk=moved.pk).update(donor=quiet)
    assert FundingRevision.objects.get(pk=1).revision != before
    assert co_funders(nordic, output) == [("Other funders (1)", "250.00")]


def test_funding_changed_in_an_open_transaction_is_shown_to_it_and_kept_from_everyone_else(shared):
    output, (nordic, _, _) = shared
    assert co_funders(nordic, output) == [("Other funders (2)", "250.00")]  # now kept
    with transaction.atomic():
        gift(DonorFactory(name="Undecided", publicly_acknowledged=False), output, "5.00")
        assert co_funders(nordic, output) == [("Other funders (3)", "255.00")]
        transaction.set_rollback(True)
    assert co_funders(nordic, output) == [("Other funders (2)", "250.00")]


def test_allocation_writers_do_not_wait_for_each_other(postgres_only, shared):
    """A transaction that writes allocations from two donations, and another that allocates from
    the second in between: the second must not wait for the first to commit (it would, if the
    revision row were locked from the first allocation to the commit: a deadlock then)."""
    output, _ = shared
    first, second = (donation_post(donation=DonationFactory(), by=None) for _ in range(2))
    first_allocated, other_committed = threading.Event(), threading.Event()
    errors = []

    def long_writer():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '20s'")
                allocation_create(donation=first, output=output, amount=Decimal("10.00"), by=None)
                first_allocated.set()
                if not other_committed.wait(15):
                    raise AssertionError("the other allocation waited for this transaction")
                allocation_create(donation=second, output=output, amount=Decimal("10.00"), by=None)
        except Exception as error:  # handed to the test
            errors.append(error)
        finally:
            connections.close_all()

    def other_writer():
        try:
            assert first_allocated.wait(15)
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '5s'")
                allocation_create(donation=second, output=output, amount=Decimal("20.00"), by=None)
            other_committed.set()
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=long_writer), threading.Thread(target=other_writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert Allocation.objects.filter(donation__in=[first, second]).count() == 3


names = st.sampled_from(["Alpha", "Beta", "Gamma"])
allocation = st.tuples(
    st.integers(min_value=0, max_value=4),  # which donor
    st.integers(min_value=0, max_value=1),  # which output
    st.integers(min_value=-3_000, max_value=9_000),  # cents; zero is skipped, below zero is a reversal-like row
    st.booleans(),  # before or after the period end
)


class TestKeptGroupsMatchTheEarlierCode(HypothesisTransactionTestCase):
    """Whatever the ledger, each donor's summary, built with groups kept from the other donors'
    summaries or read anew, is the one the earlier code built, character for character."""

    @settings(max_examples=25, deadline=None)
    @given(
        donors=st.lists(st.tuples(names, st.booleans()), min_size=5, max_size=5),
        allocations=st.lists(allocation, min_size=1, max_size=14),
        order=st.permutations(range(5)),
    )
    def test_summaries_match(self, donors, allocations, order):
        co_funding.kept_clear()
        outputs = [OutputFactory(), OutputFactory()]
        people = [DonorFactory(name=name, publicly_acknowledged=ack) for name, ack in donors]
        for who, which, cents, late in allocations:
            if cents == 0:
                continue
            on = dt.date(2026, 1, 15) if late else dt.date(2025, 6, 1)
            if cents < 0:  # the schema allows a negative amount only on a reversal: reverse a fresh row
                standing = gift(people[who], outputs[which], Decimal(-cents) / 100, on)
                AllocationFactory(
                    output=outputs[which], donation=standing.donation, amount=Decimal(cents) / 100,
                    allocated_on=on, reversal_of=standing,
                )  # fmt: skip
            else:
                gift(people[who], outputs[which], Decimal(cents) / 100, on)
        for i in order:
            new = donor_summary_snapshot(donor=people[i], start=START, end=END)
            old = reference_figures.donor_summary_snapshot(donor=people[i], start=START, end=END)
            assert canonical_json(new) == canonical_json(old)
