"""Expressions that every figure selector needs: the money output field, a zero and a summed subquery."""

from decimal import Decimal

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
    own conversion (quantized to the field's places), exactly as a queryset would apply it.
    """
    expression = Value(None, output_field=TOTAL)
    for convert in connection.ops.get_db_converters(expression) + expression.get_db_converters(connection):
        value = convert(value, expression, connection)
    return value
