"""Writing new rows in bulk, with their change history.

On PostgreSQL, rows and their history rows go in with COPY (ids drawn from the table's
sequence first, so the history rows can point at them); elsewhere with
`simple_history.utils.bulk_create_with_history`. Both write the same columns: every field of
the model, and for the history `history_type '+'`, `history_date` now and the importing user.
"""

import datetime as dt
import queue
import threading
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

COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


def copy_text(value) -> str:
    """One value in COPY's text format (tab-separated, \\N for NULL)."""
    if value is None:
        return NULL
    if value.__class__ is str:
        return value.translate(COPY_ESCAPES)
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, Decimal):
        return format(value, "f")  # never an exponent
    if isinstance(value, dt.date):  # and datetime: isoformat keeps the time zone
        return value.isoformat()
    return str(value)


# Between the texts of `any_of`'s one parameter: the ASCII unit separator, which no reference
# has (a text that has it, or an empty text, goes in an array instead).
ANY_OF_SEPARATOR = "\x1f"


def any_of(field: str, values) -> dict:
    """Filter keywords for `field` (a text column) equal to one of `values`. On PostgreSQL the
    values go as one parameter: a 10,000-value IN list cost more to build and send than to look
    up. That parameter is the texts joined by ANY_OF_SEPARATOR, split by the server, because
    Django's cursor writes an array parameter into the statement value by value, in Python
    (7 ms for 10,000 references, against 1 ms for the joined text)."""
    values = list(values)
    if connection.vendor != "postgresql":
        return {f"{field}__in": values}
    if all(value and ANY_OF_SEPARATOR not in value for value in values):
        joined = ANY_OF_SEPARATOR.join(values)
        return {f"{field}__in": RawSQL("SELECT unnest(string_to_array(%s, chr(31)))", (joined,))}
    return {f"{field}__in": RawSQL("SELECT unnest(%s::text[])", (values,))}


class CopyWithHistory:
    """New rows of one table and their '+' history rows, written chunk by chunk (PostgreSQL).

    Each chunk (rows in COPY text format) goes in on a writer thread: the COPY, then one
    INSERT ... SELECT of the same rows into the history table (the columns that
    `bulk_create_with_history` records, with history_date and the importing user), so the
    server inserts, indexes and checks one chunk while the caller reads and validates the next.
    Up to QUEUED chunks wait behind the one being written, so neither side idles when one chunk
    takes the other longer than the one before.
    The connection and its transaction are the caller's: `wait()` must be called before the
    caller runs any other query, and re-raises what went wrong as Django's database error;
    `close()` ends the thread. Ids come from the table's identity column; a chunk's rows are
    found for their history by `marker` (a column whose value only this import's rows have,
    such as their batch) and by id above the previous chunk's.
    """

    QUEUED = 1

    def __init__(self, model, attnames: list[str], *, marker: str, user=None):
        q = connection.ops.quote_name
        table = q(model._meta.db_table)
        history = q(get_history_manager_for_model(model).model._meta.db_table)
        columns = ", ".join(q(model._meta.get_field(_field_name(model, a)).column) for a in attnames)
        every_column = ", ".join(q(f.column) for f in model._meta.concrete_fields)
        marker_column = q(model._meta.get_field(marker).column)
        self.copy_sql = f"COPY {table} ({columns}) FROM STDIN"
        # Table and column names come from the models' _meta; values are parameters.
        self.history_sql = (
            f"WITH added AS (INSERT INTO {history} "  # noqa: S608
            f"({every_column}, history_date, history_change_reason, history_type, history_user_id) "
            f"SELECT {every_column}, %s, NULL, '+', %s FROM {table} WHERE {marker_column} = %s AND id > %s "
            "RETURNING id) SELECT max(id) FROM added"
        )
        self.user_id = getattr(user, "pk", None)
        self.history_date = timezone.now()
        self.last_id = 0
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._failed = False  # once a chunk has failed, the ones queued behind it are not written

    def send_text(self, text: str, marker_value) -> None:
        """Rows already in COPY's text format, each ending in a newline. Returns at once unless
        QUEUED chunks already wait; raises what went wrong with a chunk sent before."""
        self._raise()
        if self._thread is None:
            connection.ensure_connection()
            self._queue = queue.Queue(maxsize=self.QUEUED)
            raw = connection.connection  # the psycopg connection under Django's wrapper
            self._thread = threading.Thread(target=self._run, args=(raw, self._queue), daemon=True)
            self._thread.start()
        self._queue.put((text, marker_value))

    def _run(self, raw, chunks: queue.Queue) -> None:
        while (item := chunks.get()) is not None:
            try:
                if not self._failed:
                    self._write(raw, *item)
            except BaseException as error:  # handed to the caller's thread by wait()
                self._error, self._failed = error, True
            finally:
                chunks.task_done()
        chunks.task_done()

    def _write(self, raw, text: str, marker_value) -> None:
        with raw.cursor() as cursor:
            with cursor.copy(self.copy_sql) as copy:
                copy.write(text)
            cursor.execute(self.history_sql, [self.history_date, self.user_id, marker_value, self.last_id])
            (last,) = cursor.fetchone()
            self.last_id = last or self.last_id

    def wait(self) -> None:
        """Until every chunk sent is written (or refused)."""
        if self._queue is not None:
            self._queue.join()
        self._raise()

    def close(self) -> None:
        """Wait, and end the writer thread."""
        try:
            self.wait()
        finally:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join()
                self._thread = self._queue = None

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            with connection.wrap_database_errors:
                raise error


class ConnectionApart:
    """Queries on a connection of their own: a thread's, as Django keeps one per thread.

    `run(fn, *args)` calls `fn` on that thread and returns what it returns (or raises what it
    raised); the caller waits, but its own connection stays free for a write in progress.
    The other connection runs in autocommit and sees only committed rows. It waits at most
    LOCK_TIMEOUT for a lock: the caller's transaction may hold locks that a third session
    (a migration's ALTER TABLE, say) queues behind, and a query here queued behind that one
    would wait for the caller, who waits for it; the caller should then do without it.
    """

    LOCK_TIMEOUT = "2s"

    def __init__(self):
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="connection-apart")
        self._ready = False

    def run(self, fn, *args):
        return self._pool.submit(self._call, fn, *args).result()

    def _call(self, fn, *args):
        if not self._ready:
            with connection.cursor() as cursor:  # this thread's connection
                cursor.execute(f"SET lock_timeout = '{self.LOCK_TIMEOUT}'")
            self._ready = True
        return fn(*args)

    def close(self) -> None:
        from django.db import connections

        try:
            self._pool.submit(connections.close_all).result()  # that thread's connections only
        finally:
            self._pool.shutdown()


def transaction_has_written() -> bool:
    """Has this connection's transaction written anything yet (PostgreSQL)? If not, another
    connection sees everything this one sees."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
        return cursor.fetchone()[0]


def _field_name(model, attname: str) -> str:
    for f in model._meta.concrete_fields:
        if f.attname == attname:
            return f.name
    raise LookupError(attname)


class ForeignKeysImmediate:
    """Check `model`'s deferred foreign keys at the end of each statement for now (PostgreSQL).

    Django declares foreign keys DEFERRABLE INITIALLY DEFERRED, so a bulk insert's checks all
    run at COMMIT. `SET CONSTRAINTS ... IMMEDIATE` moves them to the end of each statement,
    within this transaction only; `close()` defers them again.
    """

    def __init__(self, model):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f' AND condeferrable",
                [model._meta.db_table],
            )
            names = [name for (name,) in cursor.fetchall()]
            self.names = ", ".join(connection.ops.quote_name(n) for n in names)
            if self.names:
                cursor.execute(f"SET CONSTRAINTS {self.names} IMMEDIATE")

    def close(self) -> None:
        from psycopg.pq import TransactionStatus

        names, self.names = self.names, ""
        # In a failed transaction (or savepoint) there is nothing to restore: rolling it back
        # restores the constraints' mode too.
        if names and connection.connection.info.transaction_status != TransactionStatus.INERROR:
            with connection.cursor() as cursor:
                cursor.execute(f"SET CONSTRAINTS {names} DEFERRED")
