"""An in-memory rate book for bulk work (imports, demo data).

Same rule as `services.rate_lookup`: the latest rate on or before the date, and the base
currency is always 1. Loaded once, in one query, so bulk paths do no query per row.
"""

import bisect
import datetime as dt
from decimal import Decimal

from django.conf import settings

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

    def lookup(self, currency: str, on: dt.date) -> tuple[Decimal, dt.date, str]:
        if currency == settings.BASE_CURRENCY:
            return Decimal("1"), on, "base currency"
        dates = self._dates.get(currency, [])
        i = bisect.bisect_right(dates, on) - 1
        if i < 0:
            raise MissingRate(currency, on)
        rate, source = self._rates[currency][i]
        return rate, dates[i], source
