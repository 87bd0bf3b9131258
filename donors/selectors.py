"""Reads of the donors ledger. Figures are computed in SQL, in a constant number of queries."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection
from django.db.models import (
    Case,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from backoffice.money import money_round
from backoffice.sql import MONEY, TOTAL, ZERO, sum_subquery

from .models import (
    Activity,
    Contact,
    Donation,
    Donor,
    DonorRelationship,
    Instalment,
    Pledge,
    PostedDayTotal,
    PostedDonorMonthTotal,
    PostedDonorYearTotal,
    SoftCredit,
    WriteOff,
)


def pledges_with_figures(
    queryset: QuerySet | None = None, *, today: dt.date | None = None, as_of: dt.date | None = None
) -> QuerySet:
    """Pledges annotated with received, written_off, fell_due, scheduled, outstanding, overpaid,
    overdue_amount and status.

    Received counts posted donations (reversals included, so a reversal restores the
    outstanding amount) in the pledge's currency. Instalments are covered in due-date order,
    so a pledge is overdue when what fell due before today exceeds what was received and
    written off; the overdue amount never exceeds the outstanding amount.

    With `as_of`, the pledges as they stood at the end of that day, as a report for a period
    ending then shows them: only donations received, write-offs made and cancellations made by
    then count, and "today" is that day.
    """
    today = as_of or today or timezone.localdate()
    queryset = Pledge.objects.all() if queryset is None else queryset
    posted = Donation.objects.posted()
    write_offs = WriteOff.objects.all()
    cancelled = Q(cancelled_on__isnull=False)
    if as_of is not None:
        posted = posted.filter(received_on__lte=as_of)
        write_offs = write_offs.filter(written_off_on__lte=as_of)
        cancelled = Q(cancelled_on__lte=as_of)
    queryset = queryset.annotate(
        received=sum_subquery(posted, "pledge_amount", "pledge"),
        written_off=sum_subquery(write_offs, "amount", "pledge"),
        fell_due=sum_subquery(Instalment.objects.filter(due_date__lt=today), "amount", "pledge"),
        scheduled=sum_subquery(Instalment.objects.all(), "amount", "pledge"),
    )
    # Each figure names each sum once (overdue: min(fell due, total) - paid is min(fell due - paid,
    # balance)): Django writes a summed subquery out wherever a figure uses it, and PostgreSQL and
    # the query compiler pay for every copy.
    paid = F("received") + F("written_off")
    return queryset.annotate(
        outstanding=Greatest(F("total") - paid, ZERO, output_field=MONEY),
        overpaid=Greatest(paid - F("total"), ZERO, output_field=MONEY),
        overdue_amount=Case(
            When(cancelled, then=ZERO),
            default=Greatest(Least(F("fell_due"), F("total")) - paid, ZERO),
            output_field=MONEY,
        ),
        status=Case(
            When(cancelled, then=Value(Pledge.Status.CANCELLED)),
            When(Q(total__lte=paid) & Q(written_off__gt=0), then=Value(Pledge.Status.WRITTEN_OFF)),
            When(total__lte=paid, then=Value(Pledge.Status.FULFILLED)),
            When(fell_due__gt=paid, then=Value(Pledge.Status.OVERDUE)),
            default=Value(Pledge.Status.OPEN),
        ),
    )


def pledges_at(*, end: dt.date, queryset: QuerySet | None = None) -> QuerySet:
    """Pledges made by `end` and not cancelled by then, with their figures at the end of that day
    (`pledges_with_figures(as_of=end)`), in start date then reference order."""
    queryset = Pledge.objects.all() if queryset is None else queryset
    return pledges_with_figures(
        queryset.filter(Q(start_date__lte=end) & (Q(cancelled_on__isnull=True) | Q(cancelled_on__gt=end))),
        as_of=end,
    ).order_by("start_date", "ref")


@dataclass(frozen=True)
class PledgeCurrencyTotals:
    currency: str
    pledged: Decimal  # pledges starting in the period
    outstanding: Decimal  # at the period end
    overdue: Decimal  # at the period end


def pledge_totals_by_currency(
    *, start: dt.date, end: dt.date, queryset: QuerySet | None = None
) -> list[PledgeCurrencyTotals]:
    """Per currency of the pledges at `end` (`pledges_at`), in code order: the total of those
    starting in [start, end], and the outstanding and overdue amounts at `end`. One query."""
    rows = (
        pledges_at(end=end, queryset=queryset)
        .order_by()
        .values("currency")
        .annotate(
            pledged_total=Coalesce(Sum("total", filter=Q(start_date__gte=start)), ZERO),
            outstanding_total=Sum("outstanding"),
            overdue_total=Sum("overdue_amount"),
        )
        .order_by("currency")
    )
    return [
        PledgeCurrencyTotals(r["currency"], r["pledged_total"], r["outstanding_total"], r["overdue_total"])
        for r in rows
    ]


@dataclass(frozen=True)
class PledgeAccount:
    """What the pledges in one currency add up to at a day: in that currency, pledged − received
    − written off + overpaid = outstanding, exactly; `received_base` is what was received on them
    at the base amounts posted (each donation at its own day's rate)."""

    currency: str
    pledged: Decimal
    received: Decimal
    written_off: Decimal
    overpaid: Decimal
    outstanding: Decimal
    received_base: Decimal


ACCOUNT_FIELDS = ("currency", "total", "received", "written_off", "overpaid", "outstanding", "received_base")


def with_received_base(pledges: QuerySet, *, end: dt.date) -> QuerySet:
    """`pledges` (read with `pledges_at(end=end)`) annotated with `received_base`: what was received on
    each by `end` at the base amounts posted."""
    posted = Donation.objects.posted().filter(received_on__lte=end)
    return pledges.annotate(received_base=sum_subquery(posted, "base_amount", "pledge"))


def pledge_accounts(rows) -> list[PledgeAccount]:
    """Per currency, in code order, the `PledgeAccount` of pledge rows holding `ACCOUNT_FIELDS`
    (`with_received_base(pledges_at(end=…))`): the sums of their figures."""
    accounts: dict[str, list[Decimal]] = {}
    for row in rows:
        sums = accounts.setdefault(row["currency"], [Decimal("0")] * 6)
        for n, name in enumerate(ACCOUNT_FIELDS[1:]):
            sums[n] += row[name]
    return [PledgeAccount(currency, *sums) for currency, sums in sorted(accounts.items())]


def pledge_accounts_by_currency(*, end: dt.date, queryset: QuerySet | None = None) -> list[PledgeAccount]:
    """Per currency of the pledges at `end` (`pledges_at`), in code order, their `PledgeAccount`
    at the end of that day. One query."""
    return pledge_accounts(with_received_base(pledges_at(end=end, queryset=queryset), end=end).values(*ACCOUNT_FIELDS))


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
        total=money_round(row.total, row.currency),
        scheduled=money_round(row.scheduled, row.currency),
        received=money_round(row.received, row.currency),
        written_off=money_round(row.written_off, row.currency),
        outstanding=money_round(row.outstanding, row.currency),
        overpaid=money_round(row.overpaid, row.currency),
        overdue_amount=money_round(row.overdue_amount, row.currency),
        status=row.status,
    )


# Instalments and what covers them --------------------------------------------------------


def _instalment_covered():
    """The part of an instalment paid by what was received and written off on its pledge, applied
    to the pledge's instalments in due-date order: a running total over the pledge's instalments
    in the queryset, so filter by pledge, or by a due date before every one that matters."""
    paid = sum_subquery(Donation.objects.posted(), "pledge_amount", "pledge", outer_ref="pledge") + sum_subquery(
        WriteOff.objects.all(), "amount", "pledge", outer_ref="pledge"
    )
    due_before = Window(Sum("amount"), partition_by=[F("pledge_id")], order_by=[F("due_date"), F("id")]) - F("amount")
    return Greatest(Least(paid - due_before, F("amount")), ZERO, output_field=MONEY)


def _instalment_late(today: dt.date) -> Q:
    """Due before today on a pledge not cancelled: overdue unless covered."""
    return Q(due_date__lt=today, pledge__cancelled_on__isnull=True)


def instalments_with_cover(queryset: QuerySet | None = None, *, today: dt.date | None = None) -> QuerySet:
    """Instalments annotated with `covered` (`_instalment_covered`), `owed` (the rest) and
    `cover_status`: paid, overdue, part_paid or due."""
    today = today or timezone.localdate()
    queryset = Instalment.objects.all() if queryset is None else queryset
    return queryset.annotate(covered=_instalment_covered()).annotate(
        owed=ExpressionWrapper(F("amount") - F("covered"), output_field=MONEY),
        cover_status=Case(
            When(covered__gte=F("amount"), then=Value("paid")),
            When(_instalment_late(today), then=Value("overdue")),
            When(covered__gt=0, then=Value("part_paid")),
            default=Value("due"),
        ),
    )


@dataclass(frozen=True)
class InstalmentPayment:
    """The part of one donation or write-off that pays an instalment, in the pledge's currency."""

    kind: str  # "donation" or "write_off"
    entry_id: int
    label: str  # the donation's reference, or "write-off"
    amount: Decimal


@dataclass(frozen=True)
class InstalmentState:
    instalment: Instalment
    covered: Decimal
    status: str  # paid, part_paid, overdue, due
    paid_by: tuple[InstalmentPayment, ...] = ()


def _running(queryset: QuerySet, field: str, date: str) -> QuerySet:
    """Standing entries (neither a reversal nor reversed) of `queryset`, with `upto`: the running
    total of `field` per pledge in date order, as (pledge, id, label, amount, upto) rows."""
    return (
        queryset.filter(reversal_of__isnull=True, reversed_by__isnull=True)
        .annotate(upto=Window(Sum(field), partition_by=[F("pledge_id")], order_by=[F(date), F("id")]))
        .order_by("pledge_id", date, "id")
    )


def instalments_paid_by(pledge_ids) -> dict[int, tuple[InstalmentPayment, ...]]:
    """Which donations and write-offs pay each instalment of these pledges, and how much of each,
    by instalment id: the cover rule of `instalments_with_cover` told entry by entry. What was
    received (in date order), then what was written off, fills the instalments in due-date order.
    A reversed donation or write-off and its reversal cancel out, so neither pays anything and the
    parts add up to each instalment's `covered`. The running totals come from SQL (three queries);
    the two sorted lists are then walked side by side."""
    pledge_ids = list(pledge_ids)
    instalments = (
        Instalment.objects.filter(pledge_id__in=pledge_ids)
        .annotate(upto=Window(Sum("amount"), partition_by=[F("pledge_id")], order_by=[F("due_date"), F("id")]))
        .order_by("pledge_id", "due_date", "id")
        .values_list("pledge_id", "id", "amount", "upto")
    )
    donations = _running(
        Donation.objects.posted().filter(pledge_id__in=pledge_ids), "pledge_amount", "received_on"
    ).values_list("pledge_id", "id", "reference", "pledge_amount", "upto")
    received = {pledge: upto for pledge, *_, upto in donations}  # the last running total of each pledge
    write_offs = _running(WriteOff.objects.filter(pledge_id__in=pledge_ids), "amount", "written_off_on").values_list(
        "pledge_id", "id", "amount", "upto"
    )
    entries: dict[int, list[tuple[str, int, str, Decimal, Decimal]]] = defaultdict(list)
    for pledge, pk, reference, amount, upto in donations:
        entries[pledge].append(("donation", pk, reference, amount, upto))
    for pledge, pk, amount, upto in write_offs:
        entries[pledge].append(("write_off", pk, "write-off", amount, received.get(pledge, Decimal("0.00")) + upto))
    paid_by: dict[int, tuple[InstalmentPayment, ...]] = {}
    walked: dict[int, int] = defaultdict(int)  # per pledge, the first entry not used up
    for pledge, pk, amount, upto in instalments:
        start, parts, rows = upto - amount, [], entries.get(pledge, [])
        i = walked[pledge]
        while i < len(rows) and rows[i][4] <= start:
            i += 1
        walked[pledge] = i
        while i < len(rows) and rows[i][4] - rows[i][3] < upto:
            kind, entry_id, label, entry_amount, entry_upto = rows[i]
            part = min(entry_upto, upto) - max(entry_upto - entry_amount, start)
            if part > 0:
                parts.append(InstalmentPayment(kind, entry_id, label, part))
            i += 1
        paid_by[pk] = tuple(parts)
    return paid_by


def pledge_instalment_states(pledge: Pledge, *, today: dt.date | None = None) -> list[InstalmentState]:
    """Each instalment of the pledge, in due-date order, with how much of it is covered and by what."""
    instalments = instalments_with_cover(pledge.instalments.all(), today=today).order_by("due_date", "id")
    paid_by = instalments_paid_by([pledge.pk])
    return [
        InstalmentState(
            instalment=i,
            covered=money_round(i.covered, pledge.currency),
            status=i.cover_status,
            paid_by=paid_by.get(i.pk, ()),
        )
        for i in instalments
    ]


def overdue_instalments(*, today: dt.date | None = None) -> QuerySet:
    """Instalments past due and not covered, oldest first, each with `owed` (in its pledge's
    currency) and its pledge and donor, in one query."""
    return (
        Instalment.objects.filter(_instalment_late(today or timezone.localdate()))
        .annotate(owed=ExpressionWrapper(F("amount") - _instalment_covered(), output_field=MONEY))
        .filter(owed__gt=0)
        .select_related("pledge__donor")
        .order_by("due_date", "id")
    )


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


def _whole(start: dt.date, end: dt.date, step: relativedelta, align) -> tuple[tuple | None, list[tuple]]:
    """The first days of the first and last whole months (or years) inside [start, end], and the
    parts of [start, end] before and after them, as (first day, last day) pairs."""
    first = start if align(start) == start else align(start) + step
    last = align(end + dt.timedelta(days=1)) - step
    if first > last:
        return None, [(start, end)]
    after = last + step
    rest = [(start, first - dt.timedelta(days=1))] if start < first else []
    if after <= end:
        rest.append((after, end))
    return (first, last), rest


def _in_any(field: str, ranges) -> Q:
    found = Q(pk__in=[])
    for first, last in ranges:
        found |= Q(**{f"{field}__gte": first, f"{field}__lte": last})
    return found


MONTH = relativedelta(months=1)


def _period_pieces(start: dt.date, end: dt.date) -> dict[tuple[str, int], list[tuple[dt.date, dt.date]]]:
    """Date ranges by (level, sign) whose signed sums make up [start, end]: level "year" or "month"
    for the kept totals, "day" for the ledger. A calendar year the period covers more than half of
    is taken whole, less the months and days of it that lie outside the period (for a year to date,
    almost nothing); any other part of the period is its whole months plus its remaining days."""
    pieces: dict[tuple[str, int], list] = defaultdict(list)

    def months_and_days(first: dt.date, last: dt.date, sign: int) -> None:
        whole, days = _whole(first, last, MONTH, lambda d: d.replace(day=1))
        if whole:
            pieces[("month", sign)].append(whole)
        pieces[("day", sign)].extend(days)

    one_day = dt.timedelta(days=1)
    for year in range(start.year, end.year + 1):
        first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
        a, b = max(start, first), min(end, last)
        if (b - a).days + 1 > 183:
            pieces[("year", 1)].append((first, first))
            if a > first:
                months_and_days(first, a - one_day, -1)
            if b < last:
                months_and_days(b + one_day, last, -1)
        else:
            months_and_days(a, b, 1)
    return pieces


def _signed(expression, sign: int, output_field):
    return expression if sign > 0 else ExpressionWrapper(expression * Value(sign), output_field=output_field)


def _posted_by_donor(start: dt.date, end: dt.date) -> tuple[str, list]:
    """SQL of rows (k_donor, k_count, k_base) whose sums per donor are that donor's posted donations
    received in [start, end] (count and base amount), from the kept year and month totals and, for
    the remaining days only, the ledger (by the posted-by-day index). See `_period_pieces`."""
    sources = {"year": PostedDonorYearTotal.objects, "month": PostedDonorMonthTotal.objects}
    parts = []
    for (level, sign), ranges in sorted(_period_pieces(start, end).items()):
        if not ranges:
            continue
        if level == "day":
            rows = Donation.objects.posted().filter(_in_any("received_on", ranges))
            count, base = Value(sign), _signed(F("base_amount"), sign, TOTAL)
        else:
            rows = sources[level].filter(_in_any(level, ranges))
            count, base = _signed(F("count"), sign, IntegerField()), _signed(F("base_amount"), sign, TOTAL)
        parts.append(rows.order_by().values(k_donor=F("donor_id"), k_count=count, k_base=base))
    if not parts:  # an empty period
        parts.append(Donation.objects.none().values(k_donor=F("donor_id"), k_count=Value(1), k_base=F("base_amount")))
    rows = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return rows.query.sql_with_params()


@dataclass(frozen=True)
class DonorTotal:
    donor_id: int
    ref: str
    name: str
    kind: str
    amount: Decimal


@dataclass(frozen=True)
class KindTotal:
    kind: str
    amount: Decimal
    count: int


@dataclass(frozen=True)
class DonorPeriodTotals:
    top: list[DonorTotal]  # the donors who gave most, largest first, equal totals in ref order
    by_kind: list[KindTotal]  # every kind of donor with posted donations in the period, by kind


def donor_period_totals(*, start: dt.date, end: dt.date, top: int = 10) -> DonorPeriodTotals:
    """Posted money received in the period (net, base currency): the top donors, and totals and
    counts by kind of donor (the donor's kind now). One query: the per-donor sums, with each
    donor's ref, name and kind, are computed once (a CTE) and read twice, for the top rows and
    for the sums by kind."""
    if start > end:
        return DonorPeriodTotals(top=[], by_kind=[])
    rows_sql, params = _posted_by_donor(start, end)
    q = connection.ops.quote_name
    pk, ref, name, kind = q("id"), q("ref"), q("name"), q("kind")
    # Table and column names from _meta and fixed aliases; values are parameters.
    sql = (
        f"WITH t AS (SELECT d.{pk} AS id, d.{ref} AS ref, d.{name} AS name, d.{kind} AS kind, g.base, g.n "  # noqa: S608
        f"FROM (SELECT u.k_donor, SUM(u.k_base) AS base, SUM(u.k_count) AS n FROM ({rows_sql}) u "
        f"GROUP BY u.k_donor HAVING SUM(u.k_count) > 0) g JOIN {q(Donor._meta.db_table)} d ON d.{pk} = g.k_donor) "
        f"SELECT * FROM (SELECT 1 AS part, t.id, t.ref, t.name, t.kind, t.base, t.n FROM t "
        f"ORDER BY t.base DESC, t.ref LIMIT %s) leaders "
        f"UNION ALL SELECT 2, NULL, NULL, NULL, t.kind, SUM(t.base), SUM(t.n) FROM t GROUP BY t.kind "
        f"ORDER BY 1, 6 DESC, 3, 5"  # the leaders, equal totals in the database's order of refs; then the kinds
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, top])
        found = cursor.fetchall()
    kinds = sorted((r for r in found if r[0] == 2), key=lambda r: r[4])
    return DonorPeriodTotals(
        top=[DonorTotal(r[1], r[2], r[3], r[4], money_round(r[5])) for r in found if r[0] == 1],
        by_kind=[KindTotal(r[4], money_round(r[5]), int(r[6])) for r in kinds],
    )


# Relationships and next steps ------------------------------------------------------------


@dataclass
class DonorGroup:
    """The donors joined to one by relationships, at any distance, with their giving in base currency.

    Hard credit is what the members paid (their posted donations). Soft credit is what donors
    outside the group paid for a member (soft credits): a gift one member paid for another is
    already in the hard credit, so it is never counted again."""

    members: list[Donor]  # annotated by donors_with_giving; the donor asked about first, then by name
    relations: dict[int, list[str]]  # donor id: "Agency of Government of Norway", ...
    soft_by_member: dict[int, Decimal] = field(default_factory=dict)  # every standing soft credit to each member
    soft_from_outside: Decimal = Decimal("0.00")  # the group's soft credit: paid by donors outside it

    @property
    def lifetime(self) -> Decimal:
        return sum((member.lifetime_giving or Decimal(0) for member in self.members), Decimal(0))

    @property
    def lifetime_hard(self) -> Decimal:
        return self.lifetime


def donor_group(donor: Donor) -> DonorGroup:
    """`donor` and every donor related to it through parents and parts, one query per step away."""
    ids, edges = _group_walk(donor)
    members = sorted(
        donors_with_giving(Donor.objects.filter(pk__in=ids)), key=lambda d: (d.pk != donor.pk, d.name.casefold())
    )
    names = {member.pk: member.name for member in members}
    relations = defaultdict(list)
    for relationship in DonorRelationship.objects.filter(pk__in=[pk for pk, _, _ in edges]):
        relations[relationship.donor_id].append(f"{relationship.get_kind_display()} {names[relationship.parent_id]}")
    soft = soft_credits_standing().filter(donor_id__in=ids)
    by_member = {
        r["donor_id"]: money_round(r["total"])
        for r in soft.order_by().values("donor_id").annotate(total=Sum("base_amount"))
    }
    outside = soft.exclude(donation__donor_id__in=ids).aggregate(t=Coalesce(Sum("base_amount"), ZERO))["t"]
    return DonorGroup(
        members=members, relations=dict(relations), soft_by_member=by_member, soft_from_outside=money_round(outside)
    )


# Soft credits ----------------------------------------------------------------------------


def soft_credits_standing(queryset: QuerySet | None = None) -> QuerySet:
    """Soft credits that count: on posted donations that stand (not reversed). A reversed
    donation's soft credits fall away from every figure, in every period."""
    queryset = SoftCredit.objects.all() if queryset is None else queryset
    reversed_ = Donation.objects.filter(reversal_of=OuterRef("donation_id"))
    return queryset.filter(donation__status=Donation.Status.POSTED, donation__reversal_of__isnull=True).exclude(
        Exists(reversed_)
    )


def _received_between(queryset: QuerySet, start: dt.date | None, end: dt.date | None) -> QuerySet:
    if start:
        queryset = queryset.filter(donation__received_on__gte=start)
    if end:
        queryset = queryset.filter(donation__received_on__lte=end)
    return queryset


def soft_credit_total(
    *, start: dt.date | None = None, end: dt.date | None = None, pledges: QuerySet | None = None
) -> Decimal:
    """Soft credit on donations received in the period (against `pledges` if given), in base currency:
    a figure beside the hard totals, never added to them (the payers' donations already count there)."""
    rows = _received_between(soft_credits_standing(), start, end)
    if pledges is not None:
        rows = rows.filter(donation__pledge__in=pledges)
    return money_round(rows.aggregate(t=Coalesce(Sum("base_amount"), ZERO))["t"])


def soft_credits_touch(donor: Donor) -> bool:
    """Whether any soft credit names `donor` or sits on one of its donations, standing or not: one
    cheap query, so a donor with none (most) skips reading them."""
    return SoftCredit.objects.filter(Q(donor=donor) | Q(donation__donor=donor)).exists()


def soft_credits_received(*, donor: Donor, start: dt.date | None = None, end: dt.date | None = None) -> QuerySet:
    """The standing soft credits to `donor` on donations received in the period, oldest first, with the payer."""
    rows = _received_between(soft_credits_standing().filter(donor=donor), start, end)
    return rows.select_related("donation__donor").order_by("donation__received_on", "donation_id", "id")


def soft_credits_given(*, donor: Donor, start: dt.date | None = None, end: dt.date | None = None) -> QuerySet:
    """The standing soft credits on `donor`'s donations received in the period, with the credited donor."""
    rows = _received_between(soft_credits_standing().filter(donation__donor=donor), start, end)
    return rows.select_related("donation", "donor").order_by("donation__received_on", "donation_id", "id")


def _group_walk(donor: Donor) -> tuple[set[int], set[tuple[int, int, int]]]:
    """The ids of `donor`'s group and its relationships (pk, donor, parent), one query per step away."""
    ids, frontier, edges = {donor.pk}, {donor.pk}, set()
    while frontier:
        found = set(
            DonorRelationship.objects.filter(Q(donor_id__in=frontier) | Q(parent_id__in=frontier)).values_list(
                "pk", "donor_id", "parent_id"
            )
        )
        edges |= found
        frontier = {i for _, child, parent in found for i in (child, parent)} - ids
        ids |= frontier
    return ids, edges


def donor_group_ids(donor: Donor) -> set[int]:
    """The ids of `donor` and every donor joined to it by relationships, at any distance."""
    return _group_walk(donor)[0]


def next_steps(*, user, today: dt.date | None = None, within_days: int = 14) -> QuerySet:
    """The open next steps `user` owns that are overdue or due within `within_days`, soonest first."""
    today = today or timezone.localdate()
    return (
        Activity.objects.filter(
            owner=user, next_step_on__lte=today + dt.timedelta(days=within_days), next_step_done_on__isnull=True
        )
        .select_related("donor", "contact")
        .order_by("next_step_on", "pk")
    )


def contacts_for_retention_review(*, today: dt.date | None = None, years: int | None = None) -> QuerySet:
    """Contacts on record for `years` (RETENTION_REVIEW_YEARS) with no activity recorded with them
    and no posted gift from their donor in that time: their data may no longer be needed."""
    today = today or timezone.localdate()
    since = today - relativedelta(years=years or settings.RETENTION_REVIEW_YEARS)
    recent_activity = Activity.objects.filter(contact=OuterRef("pk"), happened_on__gte=since)
    recent_gift = Donation.objects.filter(
        donor=OuterRef("donor_id"), status=Donation.Status.POSTED, received_on__gte=since
    )
    return (
        Contact.objects.filter(created_at__date__lt=since).exclude(Exists(recent_activity)).exclude(Exists(recent_gift))
    )
