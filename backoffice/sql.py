"""What every figure selector needs: the money output field, a zero, a summed subquery, and a prepared cursor."""

from decimal import Decimal

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

MONEY = DecimalField(max_digits=14, decimal_places=2)
ZERO = Value(Decimal("0.00"), output_field=MONEY)
TOTAL = DecimalField(max_digits=18, decimal_places=2)  # a sum of many amounts


def sum_subquery(queryset: QuerySet, field: str, outer: str, outer_ref: str = "pk") -> Coalesce:
    """SUM(field) of `queryset` rows whose `outer` points at the outer row's `outer_ref`, as a scalar subquery."""
    summed = (
        queryset.filter(**{outer: OuterRef(outer_ref)})
        .order_by()
        .values(outer)
        .annotate(total=Sum(field))
        .values("total")
    )
    return Coalesce(Subquery(summed, output_field=MONEY), ZERO)


def money_from_db(value) -> Decimal | None:
    """A summed money column read with a raw cursor, converted as the ORM converts a decimal result.

    PostgreSQL hands back a Decimal; SQLite, which keeps decimals as REAL, needs the backend's
    own conversion, exactly as a queryset would apply it to a sum: a Decimal of the float's 15
    significant digits, not rounded to cents (a sum that nets to zero can keep a tiny residue).
    """
    expression = Value(None, output_field=TOTAL)
    for convert in connection.ops.get_db_converters(expression) + expression.get_db_converters(connection):
        value = convert(value, expression, connection)
    return value


class _PreparingCursor(psycopg.Cursor):
    """psycopg's server-binding cursor, asking PostgreSQL to prepare every statement it runs."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


def prepared_cursor():
    """A cursor for raw SQL that PostgreSQL plans once per connection, then reuses the plan.

    For reads run once per report, thousands of times in a period's mailing, whose planning costs
    about as much as their execution (the co-funding CTE plans in ~2 ms). Django turns psycopg's
    prepared statements off by default (they break with poolers in transaction mode); this asks
    for them for this cursor's statements only. The cursor is wrapped like any Django cursor, so
    it is counted, logged and its errors translated. Elsewhere than PostgreSQL, or with
    DATABASE_PREPARED_STATEMENTS off, it is the connection's ordinary cursor.
    """
    if connection.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS:
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    if connection.connection.prepare_threshold is None:
        # None turns preparing off altogether; a threshold never reached lets only this cursor's
        # explicit prepare=True through (Django's own cursors bind client-side and never prepare).
        connection.connection.prepare_threshold = 2**31 - 1
    return connection._prepare_cursor(_PreparingCursor(connection.connection))  # noqa: SLF001 (Django's own wrapping)
