"""Checks that a report's pledge account adds up, in each pledge currency, in base and in the donor's currency.

In every row of `reconciliation`: pledged − received − written off + overpaid + exchange difference =
outstanding, to the cent; the exchange difference is nought in a pledge's own currency. Each row is
also recomputed here straight from the ledger's rows (no report code), so a row that adds up but
holds the wrong figures fails too.
"""

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Q, Sum

from backoffice.money import money_round, smallest_unit
from donors.models import Donor, Pledge, WriteOff

from .helpers import closing_rate, figure, posted

FIELDS = ("pledged", "received", "written_off", "overpaid", "exchange_difference", "outstanding")
D0 = Decimal("0.00")


def total(queryset, field="amount") -> Decimal:
    """The exact sum of a column, as stored (three places): rounded only where a figure is, in its
    currency's places."""
    return queryset.aggregate(t=Sum(field))["t"] or D0


def amounts(row: dict) -> dict[str, Decimal]:
    assert {row[f]["currency"] for f in FIELDS} == {row["currency"]}, row  # one currency per column
    return {f: Decimal(row[f]["amount"]) for f in FIELDS}


def assert_adds_up(row: dict) -> None:
    a = amounts(row)
    assert (
        a["pledged"] - a["received"] - a["written_off"] + a["overpaid"] + a["exchange_difference"] == (a["outstanding"])
    ), row
    if row["basis"] == "pledge":
        assert a["exchange_difference"] == D0, row


def ledger_accounts(end: dt.date, **filters) -> dict[str, dict[str, Decimal]]:
    """Per pledge currency, from the pledges' own rows: pledged, received (pledge currency and base
    as posted), written off, overpaid and outstanding at the end of `end`."""
    pledges = Pledge.objects.filter(start_date__lte=end, **filters).filter(
        Q(cancelled_on__isnull=True) | Q(cancelled_on__gt=end)
    )
    accounts: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: D0))
    for p in pledges:
        received = total(posted(pledge=p, received_on__lte=end), "pledge_amount")
        written = total(WriteOff.objects.filter(pledge=p, written_off_on__lte=end))
        balance = p.total - received - written
        a = accounts[p.currency]
        a["pledged"] += p.total
        a["received"] += received
        a["received_base"] += total(posted(pledge=p, received_on__lte=end), "base_amount")
        a["written_off"] += written
        a["outstanding"] += max(balance, D0)
        a["overpaid"] += max(-balance, D0)
    return accounts


def cross(currency: str, target: str, on: dt.date) -> Decimal:
    if currency == target:
        return Decimal("1")
    return (closing_rate(currency, on) / closing_rate(target, on)).quantize(Decimal("1E-8"), rounding=ROUND_HALF_UP)


def assert_rows_match_ledger(rows: list[dict], end: dt.date, shown_currency: str = "", **filters) -> None:
    base = settings.BASE_CURRENCY
    accounts = ledger_accounts(end, **filters)
    for row in rows:
        assert_adds_up(row)
    pledge_rows = [r for r in rows if r["basis"] == "pledge"]
    assert [r["currency"] for r in pledge_rows] == sorted(accounts)  # one column per pledge currency, in code order
    for row in pledge_rows:
        a = amounts(row)
        for f in ("pledged", "received", "written_off", "overpaid", "outstanding"):
            assert a[f] == accounts[row["currency"]][f], (row["currency"], f)

    [base_row] = [r for r in rows if r["basis"] == "base"] or [None]
    assert (base_row is not None) == (bool(accounts) and set(accounts) != {base})
    if base_row:
        a = amounts(base_row)
        assert a["received"] == sum((x["received_base"] for x in accounts.values()), D0)  # as posted
        for f in ("pledged", "written_off", "overpaid", "outstanding"):
            at_closing = sum((x[f] * closing_rate(c, end) for c, x in accounts.items()), D0)
            assert a[f] == money_round(at_closing), f

    converted = [r for r in rows if r["basis"] == "converted"]
    wanted = bool(shown_currency) and shown_currency != base and bool(accounts) and set(accounts) != {shown_currency}
    assert len(converted) == (1 if wanted else 0)
    for row in converted:
        a = amounts(row)
        assert row["currency"] == shown_currency
        for f in ("pledged", "received", "written_off", "overpaid", "outstanding"):
            value = sum((x[f] * cross(c, shown_currency, end) for c, x in accounts.items()), D0)
            assert a[f] == money_round(value, shown_currency), f
        # rounding only: at most half a unit of the shown currency's last place per field and account
        assert abs(a["exchange_difference"]) <= smallest_unit(shown_currency) * 5 * len(accounts)


def assert_summary_states_every_conversion(snap: dict, donor: Donor, start: dt.date, end: dt.date) -> None:
    """The received figures: the donor's currency at face value, every other currency listed with its rate."""
    target = snap["currency"]
    for key, period in (("received_in_period", Q(received_on__gte=start)), ("received_to_date", Q())):
        f = figure(snap, key)
        gifts = posted(donor=donor, received_on__lte=end).filter(period)
        others = set(gifts.values_list("currency", flat=True)) - {target}
        assert {p["amount"]["currency"] for p in f["converted_from"]} == others, key
        expected = money_round(total(gifts.filter(currency=target)), target)
        for c in others:
            rate = cross(c, target, end)
            part = next(p for p in f["converted_from"] if p["amount"]["currency"] == c)
            assert part["rate"] == str(rate)
            assert part["amount"]["amount"] == str(money_round(total(gifts.filter(currency=c)), c))
            expected += money_round(total(gifts.filter(currency=c)) * rate, target)
        assert f["value"] == {"amount": str(expected), "currency": target}, key
        base = settings.BASE_CURRENCY
        assert f["base"] == {"amount": str(money_round(total(gifts, "base_amount"), base)), "currency": base}, key


def assert_headline_is_the_reconciliation(snap: dict) -> None:
    """Pledged, written off and outstanding in the headline are the reconciliation's, in the shown and base currency."""
    rows = snap["reconciliation"]
    mine = [r for r in rows if r["currency"] == snap["currency"]]
    in_base = [r for r in rows if r["currency"] == snap["base_currency"]]
    for key, field in (("pledged", "pledged"), ("written_off", "written_off"), ("outstanding", "outstanding")):
        f = figure(snap, key)
        for got, rows_in, currency in (
            (f["value"], mine, snap["currency"]),
            (f["base"], in_base, snap["base_currency"]),
        ):
            zero = {"amount": str(money_round(D0, currency)), "currency": currency}  # nought in the currency's places
            assert got == (rows_in[-1][field] if rows_in else zero)
