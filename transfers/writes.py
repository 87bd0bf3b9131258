"""Writing new rows in bulk, with their change history.

On PostgreSQL, rows and their history rows go in with COPY (ids drawn from the table's
sequence first, so the history rows can point at them); elsewhere with
`simple_history.utils.bulk_create_with_history`. Both write the same columns: every field of
the model, and for the history `history_type '+'`, `history_date` now and the importing user.
"""

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, get_history_manager_for_model


def rows_insert(objs: list, model, *, user=None) -> None:
    if not objs:
        return
    if connection.vendor != "postgresql":
        bulk_create_with_history(objs, model, batch_size=2000, default_user=user)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    for obj in objs:
        for field in fields:
            if getattr(field, "auto_now_add", False) and getattr(obj, field.attname) is None:
                field.pre_save(obj, add=True)
        obj._state.adding = False
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, len(objs)]
        )
        for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = pk
        raw = cursor.cursor  # the psycopg 3 cursor under Django's wrapper
        attnames = ["id", *(f.attname for f in fields)]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in [model._meta.pk, *fields])
        with raw.copy(f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row([getattr(obj, name) for name in attnames])
        history = get_history_manager_for_model(model).model
        now = timezone.now()
        user_id = getattr(user, "pk", None)
        history_columns = columns + ", history_date, history_change_reason, history_type, history_user_id"
        with raw.copy(
            f"COPY {connection.ops.quote_name(history._meta.db_table)} ({history_columns}) FROM STDIN"
        ) as copy:
            for obj in objs:
                copy.write_row([*(getattr(obj, name) for name in attnames), now, None, "+", user_id])


class InstanceMaker:
    """Unsaved model instances for bulk paths, without `Model.__init__`'s per-field work.

    Profiling the donation import showed `Model.__init__` at half of the validation time.
    The defaults are taken once from a real `model()`; each instance gets a copy plus its
    values. Only for models with no pre_init/post_init receivers (checked here).
    """

    def __init__(self, model):
        from django.db.models.signals import post_init, pre_init

        if pre_init.has_listeners(model) or post_init.has_listeners(model):
            raise TypeError(f"{model.__name__} has init signal receivers; build it with {model.__name__}(...)")
        self.model = model
        self.defaults = {k: v for k, v in model().__dict__.items() if k != "_state"}

    def __call__(self, **values):
        from django.db.models.base import ModelState

        obj = self.model.__new__(self.model)
        obj.__dict__.update(self.defaults)
        obj.__dict__.update(values)
        obj._state = ModelState()
        return obj


# PostgreSQL bulk paths ------------------------------------------------------------------

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    """One value in COPY's text format (tab-separated, \\N for NULL)."""
    if value is None:
        return "\\N"
    if value.__class__ is str:
        return value.translate(_COPY_ESCAPES)
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, Decimal):
        return format(value, "f")  # never an exponent
    if isinstance(value, dt.date):  # and datetime: isoformat keeps the time zone
        return value.isoformat()
    return str(value)


def any_of(field: str, values) -> dict:
    """Filter keywords for `field` equal to one of `values`. On PostgreSQL the values go as one
    array parameter: a 10,000-value IN list cost more to build and send than to look up."""
    values = list(values)
    if connection.vendor == "postgresql":
        return {f"{field}__in": RawSQL("SELECT unnest(%s::text[])", (values,))}
    return {f"{field}__in": values}


class CopyStream:
    """COPY into one table (PostgreSQL) that stays open while the caller parses the next chunk.

    `send` formats the rows as COPY text and hands them to a writer thread
    (psycopg's QueuedLibpqWriter), so the server inserts and indexes one chunk while Python
    reads and checks the next; `close` waits for the server to finish. The connection can
    run no other query in between: call `close` before any. The id column is left to its
    identity default. The text is formatted here because psycopg's `write_row` cost more
    than this (and the server's work) did.
    """

    def __init__(self, model, attnames: list[str]):
        q = connection.ops.quote_name
        columns = ", ".join(q(model._meta.get_field(_field_name(model, a)).column) for a in attnames)
        self.sql = f"COPY {q(model._meta.db_table)} ({columns}) FROM STDIN"
        self._cursor = self._manager = self._copy = None

    def send(self, rows) -> None:
        from psycopg.copy import QueuedLibpqWriter

        text = "".join(["\t".join([_copy_text(v) for v in row]) + "\n" for row in rows])
        with connection.wrap_database_errors:
            if self._copy is None:
                self._cursor = connection.cursor()
                raw = self._cursor.cursor
                self._manager = raw.copy(self.sql, writer=QueuedLibpqWriter(raw))
                self._copy = self._manager.__enter__()
            self._copy.write(text)

    def close(self) -> None:
        if self._copy is None:
            return
        manager, cursor = self._manager, self._cursor
        self._copy = self._manager = self._cursor = None
        try:
            with connection.wrap_database_errors:
                manager.__exit__(None, None, None)
        finally:
            cursor.close()


def _field_name(model, attname: str) -> str:
    for f in model._meta.concrete_fields:
        if f.attname == attname:
            return f.name
    raise LookupError(attname)


def history_insert_select(model, *, where: str, params: list, user=None) -> int:
    """Write the '+' history row of every row of `model` matching `where`, in one statement.

    The history row copies every column of the row as it was written (what
    `bulk_create_with_history` records), with history_date now and the importing user.
    """
    history = get_history_manager_for_model(model).model
    q = connection.ops.quote_name
    columns = ", ".join(q(f.column) for f in model._meta.concrete_fields)
    # Table and column names come from the models' _meta; values are parameters.
    sql = (
        f"INSERT INTO {q(history._meta.db_table)} "  # noqa: S608
        f"({columns}, history_date, history_change_reason, history_type, history_user_id) "
        f"SELECT {columns}, %s, NULL, '+', %s FROM {q(model._meta.db_table)} WHERE {where}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [timezone.now(), getattr(user, "pk", None), *params])
        return cursor.rowcount
