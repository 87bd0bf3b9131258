"""What every figure selector needs: the money output field, a zero and a summed subquery."""

from decimal import Decimal

from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from backoffice.money import MONEY_DIGITS, STORED_PLACES, TOTAL_DIGITS

MONEY = DecimalField(max_digits=MONEY_DIGITS, decimal_places=STORED_PLACES)
ZERO = Value(Decimal("0"), output_field=MONEY)
TOTAL = DecimalField(max_digits=TOTAL_DIGITS, decimal_places=STORED_PLACES)  # a sum of many amounts


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
