"""Writing new rows in bulk, with their change history.

On PostgreSQL, rows and their history rows go in with COPY (ids drawn from the table's
sequence first, so the history rows can point at them); elsewhere with
`simple_history.utils.bulk_create_with_history`. Both write the same columns: every field of
the model, and for the history `history_type '+'`, `history_date` now and the importing user.
"""

from django.db import connection
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
