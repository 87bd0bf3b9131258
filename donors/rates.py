"""The rate a donation is converted at: the latest rate on or before its date (the base currency is 1).

`RateBook.lookup` is that rule, the only copy of it. A book holds rates loaded in one query:
every rate (bulk work: imports, demo data), or each currency's latest on or before one day
(`closing`: a report's closing rates, or `rate_lookup`'s one rate), which answers that day
exactly as the whole history would.
"""

import bisect
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings

from backoffice.errors import LedgerError

from .models import ExchangeRate


class MissingRate(LedgerError, LookupError):
    def __init__(self, currency: str, on: dt.date):
        super().__init__({"currency": f"No exchange rate for {currency} on or before {on.isoformat()}."})
        self.currency = currency
        self.on = on


class RateBook:
    def __init__(self, rows=None):
        self.base_currency = settings.BASE_CURRENCY  # read once: a setting costs microseconds a lookup
        self._dates: dict[str, list[dt.date]] = {}
        self._rates: dict[str, list[tuple[Decimal, str]]] = {}
        if rows is None:
            rows = ExchangeRate.objects.order_by("currency", "date").values_list("currency", "date", "rate", "source")
        for currency, date, rate, source in rows:
            self._dates.setdefault(currency, []).append(date)
            self._rates.setdefault(currency, []).append((rate, source))

    @classmethod
    def closing(cls, on: dt.date, currencies: Iterable[str] | None = None) -> "RateBook":
        """A book of each currency's latest rate on or before `on` (of `currencies` only, if
        given): what `lookup(currency, on)` answers, from one row per currency."""
        rows = ExchangeRate.objects.filter(date__lte=on)
        if currencies is not None:
            wanted = set(currencies) - {settings.BASE_CURRENCY}
            if not wanted:
                return cls([])
            rows = rows.filter(currency__in=wanted)
        latest = rows.order_by("currency", "-date").distinct("currency")
        return cls(latest.values_list("currency", "date", "rate", "source"))

    def lookup(self, currency: str, on: dt.date) -> tuple[Decimal, dt.date, str]:
        """(rate, the rate's date, its source); MissingRate when there is none on or before `on`."""
        if currency == self.base_currency:
            return Decimal("1"), on, "base currency"
        dates = self._dates.get(currency, [])
        i = bisect.bisect_right(dates, on) - 1
        if i < 0:
            raise MissingRate(currency, on)
        rate, source = self._rates[currency][i]
        return rate, dates[i], source


def rate_lookup(*, currency: str, on: dt.date) -> tuple[Decimal, dt.date, str]:
    """The latest rate on or before `on`: (rate, the rate's date, its source). One query at most."""
    return RateBook.closing(on, [currency]).lookup(currency, on)
