"""A cache every web process shares without a cache server: Django's database cache, with an
increment that is one step across processes.

Django's DatabaseCache increments by get then set, so two processes that read the same count
both write count + 1 and one hit is lost; django-ratelimit counts requests with `incr`. Here the
row is locked by a write before it is read, so a concurrent increment waits and then reads this
one's result. The value keeps its expiry (a set would give it the default timeout)."""

import base64
import pickle

from django.core.cache.backends import db
from django.db import connections, router, transaction
from django.utils import timezone


class DatabaseCache(db.DatabaseCache):
    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        alias = router.db_for_write(self.cache_model_class)
        connection = connections[alias]
        quote = connection.ops.quote_name
        table, cache_key, value, expires = quote(self._table), quote("cache_key"), quote("value"), quote("expires")
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            # A write that changes nothing takes the row's lock (PostgreSQL) or the database's (SQLite).
            cursor.execute(f"UPDATE {table} SET {expires} = {expires} WHERE {cache_key} = %s", [key])  # noqa: S608
            cursor.execute(
                f"SELECT {value} FROM {table} WHERE {cache_key} = %s AND {expires} >= %s",  # noqa: S608
                [key, connection.ops.adapt_datetimefield_value(timezone.now())],
            )
            row = cursor.fetchone()
            if row is None:
                raise ValueError(f"Key '{key}' not found")
            # The table's own format (DatabaseCache): a base64 pickle written by this cache only.
            count = pickle.loads(base64.b64decode(connection.ops.process_clob(row[0]).encode())) + delta  # noqa: S301
            cursor.execute(
                f"UPDATE {table} SET {value} = %s WHERE {cache_key} = %s",  # noqa: S608
                [base64.b64encode(pickle.dumps(count, self.pickle_protocol)).decode("latin1"), key],
            )
        return count
