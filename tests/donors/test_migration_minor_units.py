"""Widening the amount columns to three places keeps every posted amount's exact value, with the
immutability triggers in place before and after."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import IntegrityError

BEFORE = [("donors", "0016_donor_duplicates_and_merge"), ("grants", "0006_funding_revision_removed")]
AFTER = [("donors", "0017_amounts_in_each_currencys_places"), ("grants", "0007_amounts_in_each_currencys_places")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _scale(table, column):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_name = %s AND column_name = %s",
            [table, column],
        )
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
def test_widening_the_amount_columns_keeps_posted_amounts_exact_and_immutable():
    _migrate(BEFORE)
    try:
        assert _scale("donors_donation", "amount") == (14, 2)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO donors_donor (ref, name, name_key, kind, country, preferred_currency, status,"
                " external_ref, publicly_acknowledged, notes, created_at)"
                " VALUES ('DON-1', 'Ministry', 'ministry', 'government', 'JP', 'JPY', 'active', '', true, '', now())"
                " RETURNING id"
            )
            donor = cursor.fetchone()[0]
            cursor.execute(
                "INSERT INTO donors_donation (reference, donor_id, received_on, amount, currency, method, note, rate,"
                " rate_date, rate_source, base_amount, status, posted_at, reversal_reason, created_at) VALUES"
                " ('B-1', %s, %s, 24967756.66, 'JPY', 'bank_transfer', '', 0.00512345, %s, 'test', 127919.66,"
                " 'posted', now(), '', now()) RETURNING id",
                [donor, dt.date(2025, 3, 1), dt.date(2025, 3, 1)],
            )
            donation = cursor.fetchone()[0]
        _migrate(AFTER)
        assert _scale("donors_donation", "amount") == (15, 3)
        with connection.cursor() as cursor:
            cursor.execute("SELECT amount, base_amount FROM donors_donation WHERE id = %s", [donation])
            assert [str(v) for v in cursor.fetchone()] == ["24967756.660", "127919.660"]
            with pytest.raises(IntegrityError, match="is immutable"):
                cursor.execute("UPDATE donors_donation SET amount = 24967757 WHERE id = %s", [donation])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
