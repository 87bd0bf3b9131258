"""Adding grouped sums to a table of kept totals: the one statement every kept total is maintained with."""

from django.db import connection
from django.db.models import QuerySet


def totals_upsert(model, groups: QuerySet, *, keys: dict[str, str], sums: dict[str, str]) -> None:
    """INSERT the grouped rows of `groups` into `model`; where a key exists, add the sums to it.

    `keys` and `sums` map `model`'s field names to the aliases of `groups`' values. Column names come
    from the models' _meta and the aliases; values are parameters. Rows go in key order, so two
    transactions adding to the same totals lock them in one order.
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
