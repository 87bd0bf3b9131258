"""Writing many new rows at once with COPY, each with its django-simple-history '+' row: the one way
bulk posting writes (donors.services.DonationsBulk, spending.services.ExpensesBulk).

A write ends with work that is the server's alone: the history rows, and the foreign-key checks of
the rows written (checked as each chunk is written, rather than all at commit). Outside
`overlapped()`, a write waits for both. Inside, it sends the history rows without waiting
(psycopg's pipeline mode) and keeps the checks; the caller `settle()`s before its next lookups
(which may use a server-side cursor, which pipeline mode refuses), then `send()`s the checks,
which run while it builds its next rows; the next write, or leaving `overlapped()`, waits for
them. The import engine works so (transfers.engine). It is there for the imports' bar of 0.3× a
bare `COPY` of the same rows: on 100,000 rows, with every write waited for, the donation import
measured 0.28× (bench/imports.py) and the expense import 0.24× (bench/expense_imports.py, against
the `COPY` of the expenses with their charges); overlapped, 0.35× and 0.32×.
"""

import contextlib
import threading

from django.db import connection
from simple_history.utils import get_history_manager_for_model

_sent = threading.local()  # this thread's connection: the statements kept, and the pipeline sent and not waited for


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


@contextlib.contextmanager
def overlapped():
    """Within it, a write returns with its history rows sent and its checks kept for `send()`. From a
    write to the next `settle()`, and from `send()` to the next write, the caller runs only plain
    queries (a connection in pipeline mode takes neither COPY nor a server-side cursor). Leaving it
    sends what is kept and waits, and raises what the database refused. Not nested: one at a time
    per connection."""
    _sent.kept, _sent.overlapped = [], True
    try:
        yield
    except BaseException as error:
        _sent.kept, _sent.overlapped = [], False
        settle(error)
        raise
    _sent.overlapped = False
    send()
    settle()


def send() -> None:
    """Send the checks kept by the writes so far, without waiting for them."""
    kept, _sent.kept = getattr(_sent, "kept", []), []
    _execute_sent(kept)


def _execute_sent(statements: list[tuple]) -> None:
    """Execute `statements` in pipeline mode, opening it if need be: each goes to the server at once,
    and nothing waits for its result."""
    if not statements:
        return
    if getattr(_sent, "pipeline", None) is None:
        _sent.pipeline = connection.connection.pipeline()
        _sent.pipeline.__enter__()
    try:
        with connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
    except BaseException as error:
        settle(error)
        raise


def settle(error: BaseException | None = None) -> None:
    """Wait for what was sent without waiting (history rows, checks), and raise what the database
    refused (an IntegrityError for a foreign key, say). With `error`, the one already on its way
    out: a later one is only logged."""
    pipeline = getattr(_sent, "pipeline", None)
    if pipeline is None:
        return
    _sent.pipeline = None
    with connection.wrap_database_errors:
        pipeline.__exit__(type(error) if error else None, error, error.__traceback__ if error else None)


class CopyWithHistory:
    """Rows of `model` written with one COPY, their ids drawn first, then each row's '+' history row
    copied from it in one INSERT … SELECT (what `bulk_create_with_history` writes, without a Python
    object per row), then the foreign keys of both checked. Each row written starts with its id,
    which `write` fills in.

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
        # The two tables' foreign keys (Django declares them DEFERRABLE INITIALLY DEFERRED), checked
        # for the rows pending, then deferred again as they were.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid IN (%s::regclass, %s::regclass) "
                "AND condeferred ORDER BY conname",
                [self.table, history],
            )
            self.deferred = [q(name) for (name,) in cursor.fetchall()]

    def write(self, rows: list[tuple], history_date, user_id) -> list[int]:
        """Write `rows` (each without its id) with their history rows, and return their ids, in order."""
        ids = self.copy(rows)
        history_send([(self, ids)], history_date, user_id)
        return ids

    def copy(self, rows: list[tuple]) -> list[int]:
        """Write `rows` (each without its id) and return their ids, in order; their history rows
        and checks are `history_send`'s."""
        if not rows:
            return []
        settle()
        ids = ids_draw(self.table, len(rows))
        with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(self.copy_sql) as copy:
            copy.set_types(self.copy_types)
            for i, row in zip(ids, rows, strict=True):
                copy.write_row((i, *row))
        return ids


def history_send(written: list[tuple[CopyWithHistory, list[int]]], history_date, user_id) -> None:
    """The history rows of the rows each writer copied (its ids), then the checks of their foreign
    keys: after every COPY of a chunk. Outside `overlapped()`, both are waited for. Inside, the
    history rows are sent at once and the checks kept for `send()`: the caller's lookups, which
    wait for what was sent before them, do not wait for the checks."""
    history = [
        (writer.history_sql, [history_date, user_id, "{" + ",".join(map(str, ids)) + "}"])
        for writer, ids in written
        if ids
    ]
    if not history:
        return
    deferred = ", ".join(name for writer, ids in written if ids for name in writer.deferred)
    checks = [(f"SET CONSTRAINTS {deferred} {mode}", None) for mode in ("IMMEDIATE", "DEFERRED") if deferred]
    _execute_sent(history)
    _sent.kept = [*getattr(_sent, "kept", []), *checks]
    if not getattr(_sent, "overlapped", False):
        send()
        settle()
