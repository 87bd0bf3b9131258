"""The kept totals' groups go to PostgreSQL as array literals (backoffice.totals.groups_upsert):
every value reads back as it was given, texts with quotes, commas and backslashes included."""

import datetime as dt
from decimal import Decimal

from django.db import connection

from backoffice.totals import _array_literal


def _read_back(values, sql_type):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{sql_type}[]", [_array_literal(values)])
        return cursor.fetchone()[0]


def test_numbers_dates_and_texts_read_back_as_given(db):
    assert _read_back([1, 2, 9_007_199_254_740_993], "bigint") == [1, 2, 9_007_199_254_740_993]
    amounts = [Decimal("0.01"), Decimal("-12345678901.2345"), Decimal("1E+2"), Decimal("0")]
    assert _read_back(amounts, "numeric") == amounts
    days = [dt.date(2024, 2, 29), dt.date(1999, 12, 31)]
    assert _read_back(days, "date") == days
    texts = ["GBP", 'say "hi"', "a,b", "back\\slash", "{braces}", "", "NULL", " spaced ", None]
    assert _read_back(texts, "text") == texts
