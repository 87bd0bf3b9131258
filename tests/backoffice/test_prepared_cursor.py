"""The prepared cursor: PostgreSQL plans its statement once per connection; Django's own queries stay unprepared."""

import pytest
from django.db import connection, transaction

from backoffice.sql import prepared_cursor
from donors.models import Donor
from tests.factories import DonorFactory

SQL = "SELECT name FROM donors_donor WHERE ref = %(ref)s"


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_is_prepared_once_and_reused(db, postgres_only, django_assert_num_queries):
    DonorFactory(ref="DON-PREP-1", name="Prepared Trust")
    with django_assert_num_queries(3):  # counted like any query
        for _ in range(3):
            with prepared_cursor() as cursor:
                cursor.execute(SQL, {"ref": "DON-PREP-1"})
                assert cursor.fetchall() == [("Prepared Trust",)]
    assert prepared_statements().count("SELECT name FROM donors_donor WHERE ref = $1") == 1


def test_django_queries_are_still_not_prepared(db, postgres_only):
    DonorFactory(ref="DON-PREP-2")
    with prepared_cursor() as cursor:
        cursor.execute(SQL, {"ref": "DON-PREP-2"})
    exists = Donor.objects.filter(ref="DON-PREP-2")
    for _ in range(10):  # psycopg's default threshold is 5 executions
        assert exists.exists()
    assert "SELECT name FROM donors_donor WHERE ref = $1" in prepared_statements()
    assert not [s for s in prepared_statements() if 'FROM "donors_donor"' in s]  # the ORM's query


def test_elsewhere_it_is_the_ordinary_cursor(db):
    DonorFactory(ref="DON-PREP-3", name="Plain Foundation")
    with prepared_cursor() as cursor:
        cursor.execute(SQL, {"ref": "DON-PREP-3"})
        assert cursor.fetchall() == [("Plain Foundation",)]


def test_turned_off_nothing_is_prepared(db, postgres_only, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    DonorFactory(ref="DON-PREP-4", name="Pooled Trust")
    with prepared_cursor() as cursor:
        cursor.execute("SELECT name FROM donors_donor WHERE ref = %(ref)s AND name <> ''", {"ref": "DON-PREP-4"})
        assert cursor.fetchall() == [("Pooled Trust",)]
    assert not [s for s in prepared_statements() if "name <> ''" in s]


def test_a_statement_prepared_in_a_rolled_back_block_still_runs(db, postgres_only):
    DonorFactory(ref="DON-PREP-5", name="Rolled Back Trust")
    sql = "SELECT name FROM donors_donor WHERE ref = %(ref)s AND name <> 'x'"
    with pytest.raises(RuntimeError), transaction.atomic():
        with prepared_cursor() as cursor:
            cursor.execute(sql, {"ref": "DON-PREP-5"})
        raise RuntimeError("the report failed after its reads")
    with prepared_cursor() as cursor:
        cursor.execute(sql, {"ref": "DON-PREP-5"})
        assert cursor.fetchall() == [("Rolled Back Trust",)]
