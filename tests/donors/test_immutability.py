import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from donors import services
from donors.models import Donation, ImmutableRecordError, WriteOff
from grants.models import Allocation
from tests.factories import DonationFactory, OutputFactory, PledgeFactory


@pytest.fixture
def posted(finance_user):
    return services.donation_post(donation=DonationFactory(amount=Decimal("250.00")), by=finance_user)


@pytest.fixture
def write_off(finance_user):
    return services.pledge_write_off(pledge=PledgeFactory(), amount=Decimal("10.00"), reason="r", by=finance_user)


@pytest.fixture
def allocation(posted):
    return Allocation.objects.create(
        donation=posted, output=OutputFactory(), amount=Decimal("100.00"), allocated_on=dt.date(2025, 3, 1)
    )


def test_posted_donation_refuses_save_and_delete(posted):
    posted.amount = Decimal("1.00")
    with pytest.raises(ImmutableRecordError, match="is posted and cannot be changed; reverse it"):
        posted.save()
    with pytest.raises(ImmutableRecordError, match="cannot be deleted"):
        posted.delete()
    assert Donation.objects.get(pk=posted.pk).amount == Decimal("250.00")


def test_queryset_update_and_delete_of_posted_donations_are_refused(posted):
    with pytest.raises(ImmutableRecordError):
        Donation.objects.filter(pk=posted.pk).update(amount=Decimal("1.00"))
    with pytest.raises(ImmutableRecordError):
        Donation.objects.all().delete()
    assert Donation.objects.get(pk=posted.pk).amount == Decimal("250.00")


def test_draft_donation_can_still_be_corrected(db):
    draft = DonationFactory(amount=Decimal("10.00"))
    draft.amount = Decimal("12.00")
    draft.save()
    Donation.objects.filter(pk=draft.pk).update(note="checked")
    assert Donation.objects.get(pk=draft.pk).amount == Decimal("12.00")


def test_write_off_refuses_save_and_delete(write_off):
    write_off.reason = "changed"
    with pytest.raises(ImmutableRecordError):
        write_off.save()
    with pytest.raises(ImmutableRecordError):
        write_off.delete()
    with pytest.raises(ImmutableRecordError):
        WriteOff.objects.update(reason="changed")
    assert WriteOff.objects.get().reason == "r"


def test_allocation_refuses_save_and_delete(allocation):
    allocation.amount = Decimal("1.00")
    with pytest.raises(ImmutableRecordError):
        allocation.save()
    with pytest.raises(ImmutableRecordError):
        Allocation.objects.all().delete()
    assert Allocation.objects.get().amount == Decimal("100.00")


@pytest.mark.parametrize(
    ("table", "fixture"),
    [("donors_donation", "posted"), ("donors_writeoff", "write_off"), ("grants_allocation", "allocation")],
)
@pytest.mark.parametrize(
    "statement", ["UPDATE {table} SET amount = 1 WHERE id = %s", "DELETE FROM {table} WHERE id = %s"]
)
def test_trigger_refuses_raw_sql(request, table, fixture, statement):
    row = request.getfixturevalue(fixture)
    with (
        pytest.raises(DatabaseError, match="immutable: correct it with a reversal"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement.format(table=table), [row.pk])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT amount FROM {table} WHERE id = %s", [row.pk])  # noqa: S608
        assert cursor.fetchone()[0] == row.amount


def test_trigger_lets_a_draft_be_posted_and_edited(finance_user):
    draft = DonationFactory()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE donors_donation SET note = 'ok' WHERE id = %s", [draft.pk])
    services.donation_post(donation=draft, by=finance_user)
    assert Donation.objects.get(pk=draft.pk).is_posted


def _count(table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("statement", "table", "fixture"),
    [
        ("TRUNCATE donors_donation CASCADE", "donors_donation", "posted"),
        ("TRUNCATE donors_writeoff", "donors_writeoff", "write_off"),
        ("TRUNCATE grants_allocation", "grants_allocation", "allocation"),
        # CASCADE empties every table that refers to the one named: the ledger tables refuse it too.
        ("TRUNCATE donors_donor CASCADE", "donors_donation", "posted"),
        ("TRUNCATE donors_pledge CASCADE", "donors_writeoff", "write_off"),
        ("TRUNCATE grants_output CASCADE", "grants_allocation", "allocation"),
    ],
)
def test_trigger_refuses_truncate(request, statement, table, fixture):
    request.getfixturevalue(fixture)
    with connection.cursor() as cursor:
        # TRUNCATE will not start while deferred triggers of this transaction's writes are pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with (
        pytest.raises(DatabaseError, match="is a ledger table: it cannot be truncated"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert _count(table) == 1


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_can_still_end_with_posted_rows(posted):
    """Django's flush after this test truncates every table; only it goes past the truncate guards."""
    assert _count("donors_donation") == 1
