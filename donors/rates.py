"""An in-memory rate book for bulk work (imports, demo data).

Same rule as `services.rate_lookup`: the latest rate on or before the date, and the base
currency is always 1. Loaded once, in one query, so bulk paths do no query per row.
"""

import bisect
import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import connection

from .models import ExchangeRate


class MissingRate(LookupError):
    def __init__(self, currency: str, on: dt.date):
        super().__init__(f"No exchange rate for {currency} on or before {on.isoformat()}.")
        self.currency = currency
        self.on = on


class RateBook:
    def __init__(self, rows=None):
        self._dates: dict[str, list[dt.date]] = {}
        self._rates: dict[str, list[tuple[Decimal, str]]] = {}
        if rows is None:
            rows = ExchangeRate.objects.order_by("currency", "date").values_list("currency", "date", "rate", "source")
        for currency, date, rate, source in rows:
            self._dates.setdefault(currency, []).append(date)
            self._rates.setdefault(currency, []).append((rate, source))

    @classmethod
    def closing(cls, on: dt.date) -> "RateBook":
        """A book of each currency's latest rate on or before `on` only: what `lookup(currency, on)`
        answers, from one row per currency instead of the whole rate history."""
        table = connection.ops.quote_name(ExchangeRate._meta.db_table)
        rows = ExchangeRate.objects.raw(
            f"SELECT r.id, r.currency, r.date, r.rate, r.source FROM {table} r JOIN ("  # noqa: S608 (the table from _meta)
            f"SELECT currency, MAX(date) AS latest FROM {table} WHERE date <= %s GROUP BY currency"
            ") m ON m.currency = r.currency AND m.latest = r.date ORDER BY r.currency",
            [on],
        )
        return cls((r.currency, r.date, r.rate, r.source) for r in rows)

    def lookup(self, currency: str, on: dt.date) -> tuple[Decimal, dt.date, str]:
        if currency == settings.BASE_CURRENCY:
            return Decimal("1"), on, "base currency"
        dates = self._dates.get(currency, [])
        i = bisect.bisect_right(dates, on) - 1
        if i < 0:
            raise MissingRate(currency, on)
        rate, source = self._rates[currency][i]
        return rate, dates[i], source
