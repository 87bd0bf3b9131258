"""The ledger reads behind a donor summary (and the portfolio's pledges), as plain SQL.

A donor summary is asked for one donor at a time, thousands of times in a period's mailing, and
its reads are small: building and compiling their querysets cost the worker more than running
them. So they are written out once, here, and sent on a prepared cursor (`prepared_cursor`):
PostgreSQL plans each once per connection. Each function returns rows with the values the ORM
would give (Decimal money, dates), on PostgreSQL and on SQLite alike; `figures` turns them into
snapshot rows. The rules they apply are those of the selectors they stand in for, and
`tests/reports/test_donor_summary_snapshot_unchanged.py` holds them to the earlier querysets'
snapshots, character for character.
"""

import datetime as dt
import decimal
import functools
from decimal import Decimal

from django.db import connection

from backoffice.sql import money_from_db, prepared_cursor
from donors.models import Donation, Donor, Instalment, Pledge, WriteOff
from grants.models import Indicator, Output, ReportingObligation

CENT = Decimal("0.01")
_FLOAT_TO_DECIMAL = decimal.Context(prec=15).create_decimal_from_float  # as Django's SQLite backend reads decimals
_MONEY_CONTEXT = decimal.Context(prec=14)  # a money field's max_digits
POSTED = Donation.Status.POSTED.value
PENDING = ReportingObligation.Status.PENDING.value


@functools.cache
def _tables(vendor: str) -> dict[str, str]:
    q = connection.ops.quote_name
    models = {
        "donation": Donation, "donor": Donor, "pledge": Pledge, "write_off": WriteOff, "instalment": Instalment,
        "indicator": Indicator, "obligation": ReportingObligation, "output": Output,
    }  # fmt: skip
    return {name: q(model._meta.db_table) for name, model in models.items()}


def _read(sql: str, params: dict, kinds: str) -> list[tuple]:
    """Run `sql` (table names as {name} fields) and convert each column by its letter in `kinds`:
    m a money column (a Decimal of 2 places), s a sum of money, d a date, - as it comes.
    PostgreSQL returns these types already; SQLite returns text dates and REAL numbers, converted
    here exactly as a queryset converts them (a column quantized to its field's places, a sum not)."""
    with prepared_cursor() as cursor:
        cursor.execute(sql.format(**_tables(connection.vendor)), params)
        rows = cursor.fetchall()
    if connection.vendor == "postgresql":
        return rows
    to_date = connection.ops.convert_datefield_value
    convert = {
        "m": lambda v: _FLOAT_TO_DECIMAL(v).quantize(CENT, context=_MONEY_CONTEXT),
        "s": money_from_db,
        "d": lambda v: to_date(v, None, connection),
        "-": lambda v: v,
    }
    converters = [convert[k] for k in kinds]
    return [tuple(c(v) if v is not None else None for c, v in zip(converters, row, strict=True)) for row in rows]


def pledges_at(end: dt.date, *, donor_id: int | None = None, programme_id: int | None = None) -> list[tuple]:
    """Pledges made by `end` and not cancelled by then, in start date and reference order: all of
    them, a donor's, or those restricted to a programme or to one of its outputs. Each is (ref,
    title, donor name, donor ref, start, end, currency, total, received to `end` (posted donations,
    in the pledge's currency), written off to `end`, fallen due before `end`)."""
    scope = ""
    if donor_id is not None:
        scope += " AND p.donor_id = %(donor)s"
    if programme_id is not None:
        scope += (
            " AND (p.restricted_programme_id = %(programme)s OR p.restricted_output_id IN "
            "(SELECT o.id FROM {output} o WHERE o.programme_id = %(programme)s))"
        )
    sql = f"""
        SELECT p.ref, p.title, dn.name, dn.ref, p.start_date, p.end_date, p.currency, p.total,
            COALESCE((SELECT SUM(d.pledge_amount) FROM {{donation}} d
                      WHERE d.pledge_id = p.id AND d.status = %(posted)s AND d.received_on <= %(end)s), 0.00),
            COALESCE((SELECT SUM(w.amount) FROM {{write_off}} w
                      WHERE w.pledge_id = p.id AND w.written_off_on <= %(end)s), 0.00),
            COALESCE((SELECT SUM(i.amount) FROM {{instalment}} i
                      WHERE i.pledge_id = p.id AND i.due_date < %(end)s), 0.00)
        FROM {{pledge}} p JOIN {{donor}} dn ON dn.id = p.donor_id
        WHERE p.start_date <= %(end)s AND (p.cancelled_on IS NULL OR p.cancelled_on > %(end)s){scope}
        ORDER BY p.start_date, p.ref
    """  # noqa: S608 (table names from _meta; values go as parameters)
    params = {"end": end, "posted": POSTED, "donor": donor_id, "programme": programme_id}
    return _read(sql, params, "----dd-msss")


def donations_by_currency(donor_id: int, start: dt.date, end: dt.date) -> list[tuple]:
    """A donor's posted donations received to `end`, per currency in code order: (currency,
    amount to date, base to date, amount in [start, end], base in [start, end]); the last two
    are NULL for a currency with no donation in the period."""
    sql = """
        SELECT currency, SUM(amount), SUM(base_amount),
            SUM(CASE WHEN received_on >= %(start)s THEN amount END),
            SUM(CASE WHEN received_on >= %(start)s THEN base_amount END)
        FROM {donation}
        WHERE donor_id = %(donor)s AND status = %(posted)s AND received_on <= %(end)s
        GROUP BY currency ORDER BY currency
    """
    return _read(sql, {"donor": donor_id, "start": start, "end": end, "posted": POSTED}, "-ssss")


def donations_in_period(donor_id: int, start: dt.date, end: dt.date) -> list[tuple]:
    """A donor's posted donations received in [start, end], by date then entry: (received on,
    reference, pledge ref or NULL, amount, currency, base amount, reversed donation's id or NULL)."""
    sql = """
        SELECT d.received_on, d.reference, p.ref, d.amount, d.currency, d.base_amount, d.reversal_of_id
        FROM {donation} d LEFT JOIN {pledge} p ON p.id = d.pledge_id
        WHERE d.donor_id = %(donor)s AND d.status = %(posted)s AND d.received_on >= %(start)s
            AND d.received_on <= %(end)s
        ORDER BY d.received_on, d.id
    """
    return _read(sql, {"donor": donor_id, "start": start, "end": end, "posted": POSTED}, "d--m-m-")


def instalments_due(donor_id: int, after: dt.date, until: dt.date) -> list[tuple]:
    """The donor's instalments due in (after, until], by due date: (due date, pledge ref, amount, pledge currency)."""
    sql = """
        SELECT i.due_date, p.ref, i.amount, p.currency
        FROM {instalment} i JOIN {pledge} p ON p.id = i.pledge_id
        WHERE p.donor_id = %(donor)s AND i.due_date > %(after)s AND i.due_date <= %(until)s
        ORDER BY i.due_date, i.id
    """
    return _read(sql, {"donor": donor_id, "after": after, "until": until}, "d-m-")


def obligations_pending_until(donor_id: int, until: dt.date) -> list[tuple]:
    """The donor's pending reporting obligations due by `until` (overdue ones included), by due
    date: (due date, kind, pledge ref, donor name, status, period end)."""
    sql = """
        SELECT o.due_date, o.kind, p.ref, dn.name, o.status, o.period_end
        FROM {obligation} o JOIN {pledge} p ON p.id = o.pledge_id JOIN {donor} dn ON dn.id = p.donor_id
        WHERE o.status = %(pending)s AND p.donor_id = %(donor)s AND o.due_date <= %(until)s
        ORDER BY o.due_date, o.id
    """
    return _read(sql, {"donor": donor_id, "until": until, "pending": PENDING}, "d----d")


def indicators_of(output_ids: list[int]) -> list[tuple]:
    """Indicators of the outputs, by output then name: (output id, name, unit, baseline, target,
    actual or NULL, as of or NULL)."""
    if not output_ids:
        return []
    if connection.vendor == "postgresql":
        among, params = "= ANY(%(ids)s)", {"ids": list(output_ids)}
    else:
        among = "IN (" + ", ".join(f"%(id{i})s" for i in range(len(output_ids))) + ")"
        params = {f"id{i}": pk for i, pk in enumerate(output_ids)}
    sql = f"""
        SELECT output_id, name, unit, baseline, target, actual, as_of
        FROM {{indicator}} WHERE output_id {among} ORDER BY output_id, name
    """  # noqa: S608 (placeholders only)
    return _read(sql, params, "---mmmd")
