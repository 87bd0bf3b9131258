"""Reads of the donors ledger. Figures are computed in SQL, in a constant number of queries."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db import connection
from django.db.models import Case, F, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from backoffice.money import money_round
from backoffice.sql import MONEY, ZERO, money_from_db, sum_subquery

from .models import Donation, Donor, Instalment, Pledge, PostedDayTotal, PostedDonorMonthTotal, WriteOff


def pledges_with_figures(queryset: QuerySet | None = None, *, today: dt.date | None = None) -> QuerySet:
    """Pledges annotated with received, written_off, outstanding, overpaid, overdue_amount and status.

    Received counts posted donations (reversals included, so a reversal restores the
    outstanding amount) in the pledge's currency. Instalments are covered in due-date order,
    so a pledge is overdue when what fell due before today exceeds what was received and
    written off.
    """
    today = today or timezone.localdate()
    queryset = Pledge.objects.all() if queryset is None else queryset
    received = sum_subquery(Donation.objects.filter(status=Donation.Status.POSTED), "pledge_amount", "pledge")
    written_off = sum_subquery(WriteOff.objects.all(), "amount", "pledge")
    fell_due = sum_subquery(Instalment.objects.filter(due_date__lt=today), "amount", "pledge")
    scheduled = sum_subquery(Instalment.objects.all(), "amount", "pledge")
    queryset = queryset.annotate(
        received=received,
        written_off=written_off,
        fell_due=fell_due,
        scheduled=scheduled,
    ).annotate(
        balance=F("total") - F("received") - F("written_off"),
    )
    return queryset.annotate(
        outstanding=Case(When(balance__gt=0, then=F("balance")), default=ZERO, output_field=MONEY),
        overpaid=Case(When(balance__lt=0, then=-F("balance")), default=ZERO, output_field=MONEY),
        overdue_amount=Case(
            When(
                Q(cancelled_on__isnull=True) & Q(balance__gt=0) & Q(fell_due__gt=F("received") + F("written_off")),
                then=F("fell_due") - F("received") - F("written_off"),
            ),
            default=ZERO,
            output_field=MONEY,
        ),
        status=Case(
            When(cancelled_on__isnull=False, then=Value(Pledge.Status.CANCELLED)),
            When(Q(balance__lte=0) & Q(written_off__gt=0), then=Value(Pledge.Status.WRITTEN_OFF)),
            When(balance__lte=0, then=Value(Pledge.Status.FULFILLED)),
            When(fell_due__gt=F("received") + F("written_off"), then=Value(Pledge.Status.OVERDUE)),
            default=Value(Pledge.Status.OPEN),
        ),
    )


@dataclass(frozen=True)
class PledgeFigures:
    currency: str
    total: Decimal
    scheduled: Decimal
    received: Decimal
    written_off: Decimal
    outstanding: Decimal
    overpaid: Decimal
    overdue_amount: Decimal
    status: str


def pledge_figures(pledge: Pledge, *, today: dt.date | None = None) -> PledgeFigures:
    row = pledges_with_figures(Pledge.objects.filter(pk=pledge.pk), today=today).get()
    return PledgeFigures(
        currency=row.currency,
        total=money_round(row.total),
        scheduled=money_round(row.scheduled),
        received=money_round(row.received),
        written_off=money_round(row.written_off),
        outstanding=money_round(row.outstanding),
        overpaid=money_round(row.overpaid),
        overdue_amount=money_round(row.overdue_amount),
        status=row.status,
    )


@dataclass(frozen=True)
class InstalmentState:
    instalment: Instalment
    covered: Decimal
    status: str  # paid, part_paid, overdue, due


def pledge_instalment_states(pledge: Pledge, *, today: dt.date | None = None) -> list[InstalmentState]:
    """Each instalment with how much of it is covered, received and written off applied in due-date order."""
    today = today or timezone.localdate()
    figures = pledge_figures(pledge, today=today)
    available = figures.received + figures.written_off
    states = []
    for instalment in pledge.instalments.order_by("due_date", "id"):
        covered = max(Decimal("0.00"), min(instalment.amount, available))
        available -= covered
        if covered == instalment.amount:
            status = "paid"
        elif instalment.due_date < today and figures.status != Pledge.Status.CANCELLED:
            status = "overdue"
        elif covered > 0:
            status = "part_paid"
        else:
            status = "due"
        states.append(InstalmentState(instalment=instalment, covered=covered, status=status))
    return states


def donors_with_giving(queryset: QuerySet | None = None, *, year: int | None = None) -> QuerySet:
    """Donors annotated with lifetime, this year's, largest and last gift, in base currency.

    Net of reversals: a reversed gift counts neither in the totals nor as the largest.
    """
    year = year or timezone.localdate().year
    queryset = Donor.objects.all() if queryset is None else queryset
    posted = Donation.objects.filter(status=Donation.Status.POSTED)
    standing = posted.filter(reversal_of__isnull=True, reversed_by__isnull=True)
    largest = standing.filter(donor=OuterRef("pk")).order_by().values("donor").annotate(m=Max("base_amount"))
    last = standing.filter(donor=OuterRef("pk")).order_by().values("donor").annotate(m=Max("received_on"))
    return queryset.annotate(
        lifetime_giving=sum_subquery(posted, "base_amount", "donor"),
        giving_this_year=sum_subquery(posted.filter(received_on__year=year), "base_amount", "donor"),
        largest_gift=Subquery(largest.values("m"), output_field=MONEY),
        last_gift_on=Subquery(last.values("m")),
    )


# Posted money in a period, from the kept totals (donors.totals) ---------------------------


def posted_days(*, start: dt.date | None = None, end: dt.date | None = None) -> QuerySet:
    """Per day and currency totals of posted donations (count, amount, base_amount) received in the period."""
    days = PostedDayTotal.objects.order_by()
    if start:
        days = days.filter(received_on__gte=start)
    if end:
        days = days.filter(received_on__lte=end)
    return days


def posted_total() -> Decimal:
    """All posted money to date, in base currency, net of reversals."""
    return money_round(posted_days().aggregate(t=Coalesce(Sum("base_amount"), ZERO))["t"])


def _whole_months(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date] | None:
    """The first days of the first and last calendar months that lie wholly inside [start, end]."""
    first = start if start.day == 1 else start.replace(day=1) + relativedelta(months=1)
    last = (end + dt.timedelta(days=1)).replace(day=1) - relativedelta(months=1)
    return (first, last) if first <= last else None


def _posted_by_donor(start: dt.date, end: dt.date) -> tuple[str, list]:
    """SQL of rows (k_donor, k_count, k_base) whose sums per donor are that donor's posted donations
    received in [start, end]: the whole months from PostedDonorMonthTotal, the days of a partial
    month at either end from the ledger (by the posted-by-day index)."""
    months = _whole_months(start, end)
    edges = Q(received_on__gte=start, received_on__lte=end)
    if months:
        first, last = months
        edges = Q(received_on__gte=start, received_on__lt=first) | Q(
            received_on__gte=last + relativedelta(months=1), received_on__lte=end
        )
    rows = Donation.objects.posted().filter(edges).order_by()
    rows = rows.values(k_donor=F("donor_id"), k_count=Value(1), k_base=F("base_amount"))
    if months:
        whole = PostedDonorMonthTotal.objects.filter(month__gte=months[0], month__lte=months[1]).order_by()
        rows = whole.values(k_donor=F("donor_id"), k_count=F("count"), k_base=F("base_amount")).union(rows, all=True)
    return rows.query.sql_with_params()


@dataclass(frozen=True)
class DonorTotal:
    donor_id: int
    ref: str
    name: str
    kind: str
    amount: Decimal


def donors_top(*, start: dt.date, end: dt.date, limit: int = 10) -> list[DonorTotal]:
    """The donors who gave most (posted, net, in base currency) in the period; equal totals in ref order."""
    rows_sql, params = _posted_by_donor(start, end)
    q = connection.ops.quote_name
    # Table and column names from _meta; values are parameters.
    sql = (
        f"SELECT d.{q('id')}, d.{q('ref')}, d.{q('name')}, d.{q('kind')}, t.base "  # noqa: S608
        f"FROM (SELECT u.k_donor, SUM(u.k_base) AS base FROM ({rows_sql}) u GROUP BY u.k_donor) t "
        f"JOIN {q(Donor._meta.db_table)} d ON d.{q('id')} = t.k_donor "
        f"ORDER BY t.base DESC, d.{q('ref')} LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        found = cursor.fetchall()
    return [DonorTotal(pk, ref, name, kind, money_round(money_from_db(base))) for pk, ref, name, kind, base in found]


@dataclass(frozen=True)
class KindTotal:
    kind: str
    amount: Decimal
    count: int


def posted_by_donor_kind(*, start: dt.date, end: dt.date) -> list[KindTotal]:
    """Posted money (net, base currency) and the number of posted rows in the period, by the donors' kind."""
    rows_sql, params = _posted_by_donor(start, end)
    q = connection.ops.quote_name
    sql = (
        f"SELECT d.{q('kind')}, SUM(u.k_base), SUM(u.k_count) FROM ({rows_sql}) u "  # noqa: S608
        f"JOIN {q(Donor._meta.db_table)} d ON d.{q('id')} = u.k_donor GROUP BY d.{q('kind')} ORDER BY d.{q('kind')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    return [KindTotal(kind, money_round(money_from_db(base)), int(n)) for kind, base, n in found]
