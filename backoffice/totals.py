"""Adding grouped sums to a table of kept totals: the one statement every kept total is maintained
with, its groups read from the ledger (`totals_upsert`) or summed by a bulk posting as it wrote the
rows (`groups_upsert`)."""

import psycopg
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


def groups_upsert(model, *, keys: list[str], sums: list[str], groups: dict[tuple, list]) -> None:
    """As `totals_upsert`, with the groups given as {key tuple: [sums]}, in the order of `keys` and
    `sums` (`model`'s field names): for bulk posting, which sums the rows it writes with COPY instead
    of reading them back. The groups go as one array per column."""
    if not groups:
        return
    q = connection.ops.quote_name
    table = q(model._meta.db_table)
    fields = [model._meta.get_field(name) for name in [*keys, *sums]]
    columns = [q(f.column) for f in fields]
    arrays = [f"%s::{f.db_type(connection).split('(')[0]}[]" for f in fields]  # date[], numeric[], ...
    order = ", ".join(str(i + 1) for i in range(len(keys)))
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in columns[len(keys) :])
    # Column names and types come from the models' _meta; values are parameters.
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT * FROM unnest({', '.join(arrays)}) ORDER BY {order} "
        f"ON CONFLICT ({', '.join(columns[: len(keys)])}) DO UPDATE SET {added}"
    )
    params = [_array_literal(column) for column in zip(*[(*key, *group) for key, group in groups.items()], strict=True)]
    connection.ensure_connection()
    # psycopg's own cursor binds each array literal as a parameter instead of Django's, which would
    # write it into the statement's text. Never as a named prepared statement (psycopg prepares a
    # query run 5 times on a connection): not every connection pooler keeps them.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=False)


def _array_literal(values) -> str:
    """PostgreSQL's text form of an array of `values` (numbers, dates, texts; None as NULL), which the
    statement casts to the column's type. One join in C for numbers and dates: psycopg dumps a list
    element by element in Python (55,000 groups of 8 columns, summed from each column type's timing:
    about 0.26 s as lists, 0.06 s so)."""
    if not any(v is None or isinstance(v, str) for v in values):
        return "{" + ",".join(map(str, values)) + "}"
    return "{" + ",".join("NULL" if v is None else '"' + _escaped(str(v)) + '"' for v in values) + "}"


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
