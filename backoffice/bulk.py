"""Writing many new rows at once with COPY, each with its django-simple-history '+' row: the one way
bulk posting writes (donors.services.DonationsBulk, spending.services.ExpensesBulk)."""

from django.db import connection
from simple_history.utils import get_history_manager_for_model


def ids_draw(table: str, count: int) -> list[int]:
    """`count` ids from the table's own sequence, in order, in one statement: for rows whose ids must
    be known before they are written. The sequence's name is looked up once, not once an id (10,000
    ids: 28 ms that way, 4.5 ms this way)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH q AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS s) "
            "SELECT nextval(q.s) FROM q, generate_series(1, %s)",
            [table, count],
        )
        return sorted(i for (i,) in cursor.fetchall())


class CopyWithHistory:
    """Rows of `model` written with one COPY, their ids drawn first, then each row's '+' history row
    copied from it in one INSERT … SELECT (what `bulk_create_with_history` writes, without a Python
    object per row). Each row written starts with its id, which `write` fills in.

    The ids are drawn in one statement before the COPY so that the history rows are read back by
    id, a bigint index, and go as one array literal: as a list, psycopg dumps a parameter element
    by element in Python (per 100,000 rows, measured: references as a list 0.46 s, ids as one
    array literal under 0.04 s)."""

    def __init__(self, model, columns: list[str]):
        q = connection.ops.quote_name
        self.table = model._meta.db_table
        fields = [model._meta.get_field(c.removesuffix("_id") if c != "id" else c) for c in columns]
        named = ", ".join(q(f.column) for f in fields)
        # Binary: the server reads each value without parsing its text (measured on the donation import: +5%).
        self.copy_sql = f"COPY {q(self.table)} ({named}) FROM STDIN (FORMAT BINARY)"
        self.copy_types = [f.db_type(connection).split("(")[0] for f in fields]
        history = get_history_manager_for_model(model).model._meta.db_table
        every = ", ".join(q(f.column) for f in model._meta.concrete_fields)
        # Table and column names come from the models' _meta; values are parameters.
        self.history_sql = (
            f"INSERT INTO {q(history)} ({every}, history_date, history_change_reason, history_type, history_user_id) "  # noqa: S608
            f"SELECT {every}, %s, NULL, '+', %s FROM {q(self.table)} WHERE id = ANY(%s::bigint[])"
        )

    def write(self, rows: list[tuple], history_date, user_id) -> list[int]:
        """Write `rows` (each without its id) and return their ids, in order."""
        if not rows:
            return []
        ids = ids_draw(self.table, len(rows))
        with connection.cursor() as cursor:
            with connection.wrap_database_errors, cursor.cursor.copy(self.copy_sql) as copy:
                copy.set_types(self.copy_types)
                for i, row in zip(ids, rows, strict=True):
                    copy.write_row((i, *row))
            cursor.execute(self.history_sql, [history_date, user_id, "{" + ",".join(map(str, ids)) + "}"])
        return ids
