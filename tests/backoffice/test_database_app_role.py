"""`manage.py database_app_role`: the application's role reads and writes rows, and can do nothing else.

Roles belong to the whole server, but CREATE ROLE is transactional: each test's role goes with its
rollback. The tests act as the role with SET ROLE, in the test's own transaction.
"""

import contextlib
import os
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from donors.models import Donation
from tests.factories import DonationFactory

ROLE = "fundtrace_app_test" + os.environ.get("PYTEST_XDIST_WORKER", "")  # one per xdist worker: roles are server-wide


@contextlib.contextmanager
def as_role(role):
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {role}")
        try:
            yield cursor
        finally:
            cursor.execute("RESET ROLE")


def refused(cursor, statement, message):
    with pytest.raises(DatabaseError, match=message), transaction.atomic():
        cursor.execute(statement)


def test_the_role_reads_and_writes_rows(db):
    draft = DonationFactory(amount=Decimal("10.00"))
    call_command("database_app_role", ROLE)
    with as_role(ROLE) as cursor:
        cursor.execute("UPDATE donors_donation SET amount = 12 WHERE id = %s", [draft.pk])
        cursor.execute("SELECT count(*) FROM donors_donation")
        assert cursor.fetchone()[0] == 1
    assert Donation.objects.get().amount == Decimal("12.00")


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("TRUNCATE donors_donation CASCADE", "permission denied for table"),
        ("ALTER TABLE donors_donation DISABLE TRIGGER ALL", "must be owner of table"),
        ("DROP TABLE grants_allocation", "must be owner of table"),
        ("SET session_replication_role = replica", "permission denied to set parameter"),
    ],
)
def test_the_role_cannot_get_past_the_ledger_triggers(db, statement, message):
    call_command("database_app_role", ROLE)
    with as_role(ROLE) as cursor:
        refused(cursor, statement, message)


def test_an_existing_role_loses_every_other_privilege(db):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {ROLE}")
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {ROLE}")
    call_command("database_app_role", ROLE)
    with as_role(ROLE) as cursor:
        refused(cursor, "TRUNCATE donors_donor CASCADE", "permission denied for table")


def test_the_owner_is_refused(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
    with pytest.raises(CommandError, match="owns the tables: name another role"):
        call_command("database_app_role", owner)
