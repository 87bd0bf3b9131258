"""Totals of posted donations kept beside the ledger, so period figures need not read a million rows.

`PostedDayTotal` (per day received and currency), `PostedDonorMonthTotal` and
`PostedDonorYearTotal` (per donor and month or year received, in base currency) hold sums of
posted donations, reversals included, exactly as the ledger rows add up. Every path that posts
donations calls `posted_totals_add` with the donations it has just posted, inside its own
transaction: `donation_post`, `donation_reverse`, the donation import (which writes posted rows
with COPY) and `seed_demo` (through `posted_totals_rebuild`). A path that posts donations
without calling it makes the dashboard and the portfolio disagree with the ledger; the tests
compare the two.
"""

from django.db import connection, transaction
from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncYear

from .models import Donation, PostedDayTotal, PostedDonorMonthTotal, PostedDonorYearTotal


@transaction.atomic
def posted_totals_add(*, donations: QuerySet) -> None:
    """Add `donations` to the totals: the posted ones among them, which must not have been added before.

    Three statements whatever the number of donations: each groups the donations in SQL and
    adds the groups to the existing totals (INSERT ... ON CONFLICT DO UPDATE).
    """
    _totals_add(donations, PostedDayTotal, PostedDonorMonthTotal, PostedDonorYearTotal)


@transaction.atomic
def posted_totals_rebuild() -> None:
    """Recompute the totals from the ledger (after a bulk load that did not add them, or to repair)."""
    _totals_rebuild(Donation, PostedDayTotal, PostedDonorMonthTotal, PostedDonorYearTotal)


def _totals_rebuild(donation_model, day_model, month_model, year_model) -> None:
    for model in (day_model, month_model, year_model):
        model.objects.all().delete()
    _totals_add(donation_model.objects.all(), day_model, month_model, year_model)


def _totals_add(donations: QuerySet, day_model, month_model, year_model) -> None:
    posted = donations.filter(status="posted").order_by()
    by_day = posted.values(k_day=F("received_on"), k_currency=F("currency")).annotate(
        k_count=Count("*"), k_amount=Sum("amount"), k_base=Sum("base_amount")
    )
    _upsert(
        day_model,
        by_day,
        keys={"received_on": "k_day", "currency": "k_currency"},
        sums={"count": "k_count", "amount": "k_amount", "base_amount": "k_base"},
    )
    for model, period, truncate in ((month_model, "month", TruncMonth), (year_model, "year", TruncYear)):
        by_donor = posted.values(k_donor=F("donor_id"), k_period=truncate("received_on")).annotate(
            k_count=Count("*"), k_base=Sum("base_amount")
        )
        _upsert(
            model,
            by_donor,
            keys={"donor_id": "k_donor", period: "k_period"},
            sums={"count": "k_count", "base_amount": "k_base"},
        )


def _upsert(model, groups: QuerySet, *, keys: dict[str, str], sums: dict[str, str]) -> None:
    """INSERT the grouped rows of `groups` into `model`; where a key exists, add the sums to it.

    Column names come from the models' _meta and the aliases above; values are parameters.
    Rows go in key order, so two transactions adding to the same totals lock them in one order.
    """
    q = connection.ops.quote_name
    table = q(model._meta.db_table)
    columns = {name: q(model._meta.get_field(name).column) for name in [*keys, *sums]}
    select, params = groups.query.sql_with_params()
    aliases = ", ".join(f"g.{q(alias)}" for alias in [*keys.values(), *sums.values()])
    order = ", ".join(f"g.{q(alias)}" for alias in keys.values())
    added = ", ".join(f"{columns[n]} = {table}.{columns[n]} + excluded.{columns[n]}" for n in sums)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns.values())}) "  # noqa: S608
        f"SELECT {aliases} FROM ({select}) g WHERE true ORDER BY {order} "
        f"ON CONFLICT ({', '.join(columns[n] for n in keys)}) DO UPDATE SET {added}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
