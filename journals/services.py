"""Journals for the general ledger: which postings make which entry, where each line goes, and the
export that sends every posting once.

An entry is one posted donation batch, the donations posted outside a batch on one day, the
expenses posted on one day, or one reversal. Its lines are sums of the base amounts frozen at
posting (a charge's share of its expense was split by largest remainder then, the part not charged
is what is left), so nothing is converted or rounded again here and every entry balances to the
penny. An entry that did not would be refused, never written.
"""

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from backoffice.bulk import ids_draw
from backoffice.errors import LedgerError
from backoffice.money import format_money, money_round
from donors.models import Donation, DonationBatch
from spending.models import Expense

from .models import (
    UNCHARGED,
    AccountMap,
    JournalEntry,
    JournalExport,
    JournalItem,
    bank_label,
    cost_label,
    income_label,
    programme_label,
)
from .writers import WRITERS

ZERO = Decimal(0)


@dataclass(frozen=True)
class Account:
    code: str
    name: str
    tax_rate: str = ""


@dataclass(frozen=True)
class Tracking:
    category: str  # Xero's tracking category name
    option: str  # Xero's tracking option, QuickBooks' class
    code: str  # the cost centre's code


@dataclass
class Line:
    account: Account
    tracking: Tracking | None
    currency: str  # the postings' own currency
    amount: Decimal = ZERO  # base currency: a debit positive, a credit negative
    original: Decimal = ZERO  # in `currency`, signed as `amount`
    records: int = 0
    what: str = ""

    @property
    def description(self) -> str:
        records = "1 record" if self.records == 1 else f"{self.records} records"
        return f"{self.what}: {records}, {format_money(self.original, self.currency)}"


@dataclass
class Entry:
    key: str
    kind: str
    day: dt.date
    narration: str
    batch_id: int | None = None
    donation_ids: list[int] = field(default_factory=list)
    expense_ids: list[int] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    number: str = ""

    @property
    def debits(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.amount > 0), ZERO)

    @property
    def balance(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


class AccountBook:
    """The account map, read once; every posting it cannot place is remembered with the entry that
    needed it, and `check()` refuses them all at once, each by name."""

    def __init__(self):
        self.rows = {}
        for row in AccountMap.objects.select_related("programme"):
            key = tuple(getattr(row, f + ("_id" if f == "programme" else "")) for f in AccountMap.KEYS[row.kind])
            self.rows[(row.kind, *key)] = row
        self.missing: dict[str, str] = {}

    def _row(self, key: tuple, need: str, where: str) -> AccountMap | None:
        row = self.rows.get(key)
        if row is None:
            self.missing.setdefault(need, where)
        return row

    def _account(self, key, need, where) -> Account:
        row = self._row(key, need, where)
        return Account(row.account_code, row.account_name, row.tax_rate) if row else Account("", "")

    def income(self, restriction: str, method: str, where: str) -> Account:
        label = income_label(restriction, method)
        return self._account((AccountMap.Kind.INCOME, restriction, method), f"No income account for {label}", where)

    def cost(self, category: str, where: str) -> Account:
        return self._account((AccountMap.Kind.COST, category), f"No cost account for {cost_label(category)}", where)

    def bank(self, currency: str, where: str) -> Account:
        return self._account((AccountMap.Kind.BANK, currency), f"No bank account for {bank_label(currency)}", where)

    def tracking(self, programme, where: str) -> Tracking | None:
        if programme is None:
            return None
        need = f"No tracking category or cost centre for {programme_label(programme)}"
        row = self._row((AccountMap.Kind.PROGRAMME, programme.pk), need, where)
        return Tracking(row.tracking_category, row.account_name, row.account_code) if row else None

    def check(self) -> None:
        if self.missing:
            raise LedgerError(
                [f"{need} ({where}); add it to the account map." for need, where in sorted(self.missing.items())]
            )


def _day(moment) -> dt.date:
    return timezone.localdate(moment)


def _start_of(day: dt.date):
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class EntryBuilder:
    """Lines summed by (account, tracking, currency): one line per account and programme and currency."""

    def __init__(self, entry: Entry):
        self.entry = entry
        self.lines: dict[tuple, Line] = {}

    def add(self, account: Account, tracking: Tracking | None, currency: str, amount, original, what: str):
        line = self.lines.get((account, tracking, currency, what))
        if line is None:
            line = self.lines[(account, tracking, currency, what)] = Line(account, tracking, currency, what=what)
        line.amount += amount
        line.original += original
        line.records += 1

    def finish(self) -> Entry:
        # A line worth nothing in base currency (KWD 0.001 at 2.61 is GBP 0.00) is left out: the
        # ledgers refuse a line with neither debit nor credit. Its postings stay in the entry's items.
        self.entry.lines = [line for line in self.lines.values() if line.amount]
        return self.entry


def _pledge_programme(pledge):
    if pledge is None:
        return None
    if pledge.restricted_output_id:
        return pledge.restricted_output.programme
    return pledge.restricted_programme


def donation_entries(donations, book: AccountBook) -> list[Entry]:
    groups: dict[str, tuple[Entry, list[Donation]]] = {}
    for d in donations:
        if d.reversal_of_id:
            entry = Entry(
                key=f"donation-reversal:{d.pk}",
                kind=JournalEntry.Kind.DONATION_REVERSAL,
                day=_day(d.posted_at),
                narration=f"Reversal {d.reference} of donation {d.reversal_of.reference}",
            )
        elif d.batch_id:
            entry = Entry(
                key=f"donation-batch:{d.batch_id}",
                kind=JournalEntry.Kind.DONATION_BATCH,
                day=_day(d.batch.posted_at),
                narration=f"Donation batch {d.batch.reference}",
                batch_id=d.batch_id,
            )
        else:
            day = _day(d.posted_at)
            entry = Entry(
                key=f"donation-day:{day.isoformat()}",
                kind=JournalEntry.Kind.DONATION_DAY,
                day=day,
                narration=f"Donations posted outside a batch on {day.isoformat()}",
            )
        groups.setdefault(entry.key, (entry, []))[1].append(d)
    entries = []
    for entry, members in groups.values():
        builder = EntryBuilder(entry)
        where = entry.narration[0].lower() + entry.narration[1:]
        for d in members:
            entry.donation_ids.append(d.pk)
            programme = _pledge_programme(d.pledge)
            restriction = AccountMap.Restriction.RESTRICTED if programme else AccountMap.Restriction.UNRESTRICTED
            income = book.income(restriction, d.method, where)
            tracking = book.tracking(programme, where)
            bank = book.bank(d.currency, where)
            label = income_label(restriction, d.method)
            builder.add(income, tracking, d.currency, -d.base_amount, -d.amount, label[0].upper() + label[1:])
            builder.add(bank, None, d.currency, d.base_amount, d.amount, f"Received into {bank_label(d.currency)}")
        entries.append(builder.finish())
    return entries


def _charge_programme(charge):
    output = charge.output or charge.line.output
    if output is not None:
        return output.programme
    return _pledge_programme(charge.agreement.pledge)


def expense_entries(expenses, book: AccountBook) -> list[Entry]:
    groups: dict[str, tuple[Entry, list[Expense]]] = {}
    for e in expenses:
        if e.reversal_of_id:
            entry = Entry(
                key=f"expense-reversal:{e.pk}",
                kind=JournalEntry.Kind.EXPENSE_REVERSAL,
                day=_day(e.posted_at),
                narration=f"Reversal {e.reference} of expense {e.reversal_of.reference}",
            )
        else:
            day = _day(e.posted_at)
            entry = Entry(
                key=f"expense-day:{day.isoformat()}",
                kind=JournalEntry.Kind.EXPENSE_DAY,
                day=day,
                narration=f"Expenses posted on {day.isoformat()}",
            )
        groups.setdefault(entry.key, (entry, []))[1].append(e)
    entries = []
    for entry, members in groups.values():
        builder = EntryBuilder(entry)
        where = entry.narration[0].lower() + entry.narration[1:]
        for e in members:
            entry.expense_ids.append(e.pk)
            charged_base, charged = ZERO, ZERO
            for c in e.charges.all():
                cost = book.cost(c.line.category, where)
                tracking = book.tracking(_charge_programme(c), where)
                what = cost_label(c.line.category)
                builder.add(cost, tracking, e.currency, c.base_amount, c.amount, "Cost, " + what)
                charged_base += c.base_amount
                charged += c.amount
            if e.base_amount != charged_base:  # the part of the expense charged to no budget line
                cost = book.cost(UNCHARGED, where)
                builder.add(
                    cost, None, e.currency, e.base_amount - charged_base, e.amount - charged,
                    "Cost, " + cost_label(UNCHARGED),
                )  # fmt: skip
            builder.add(book.bank(e.currency, where), None, e.currency, -e.base_amount, -e.amount,
                        f"Paid from {bank_label(e.currency)}")  # fmt: skip
        entries.append(builder.finish())
    return entries


def pending_donations(*, since: dt.date | None = None, batch_ids=None):
    """Posted donations in no journal entry yet, those of batches still open left to their batch."""
    qs = (
        Donation.objects.posted()
        .filter(journal_item__isnull=True)
        .exclude(batch__status=DonationBatch.Status.OPEN)
        .select_related("batch", "reversal_of", "pledge__restricted_programme", "pledge__restricted_output__programme")
        .order_by("id")
    )
    if batch_ids is not None:
        qs = qs.filter(batch_id__in=batch_ids)
    if since is not None:
        qs = qs.filter(posted_at__gte=_start_of(since))
    return qs


def pending_expenses(*, since: dt.date | None = None):
    qs = (
        Expense.objects.posted()
        .filter(journal_item__isnull=True)
        .select_related("reversal_of")
        .prefetch_related(
            "charges__line__output__programme",
            "charges__output__programme",
            "charges__agreement__pledge__restricted_programme",
            "charges__agreement__pledge__restricted_output__programme",
        )
        .order_by("id")
    )
    if since is not None:
        qs = qs.filter(posted_at__gte=_start_of(since))
    return qs


def journal_entries(*, since: dt.date | None, today: dt.date, batch_ids=None) -> list[Entry]:
    """The entries not yet exported: from `since` on (every one when None), or those of the given
    donation batches. A day's entry waits until the day is over (`today` is later), so that a day
    exported is complete; a batch, once posted, and a reversal are complete at once. Refuses, naming
    each, the postings the account map cannot place."""
    book = AccountBook()
    entries = donation_entries(pending_donations(since=since, batch_ids=batch_ids), book)
    if batch_ids is None:
        entries += expense_entries(pending_expenses(since=since), book)
    entries = [e for e in entries if e.kind not in DAY_KINDS or e.day < today]
    entries = [e for e in entries if since is None or e.day >= since]
    book.check()
    entries.sort(key=lambda e: (e.day, KIND_ORDER.index(e.kind), e.key))
    for entry in entries:
        if entry.balance != 0:
            raise LedgerError(
                f"{entry.narration} does not balance: debits and credits differ by "
                f"{format_money(entry.balance, settings.BASE_CURRENCY)}; nothing was exported."
            )
        if money_round(entry.debits) != entry.debits:
            raise LedgerError(f"{entry.narration} has amounts finer than {settings.BASE_CURRENCY}'s places.")
    return entries


DAY_KINDS = (JournalEntry.Kind.DONATION_DAY, JournalEntry.Kind.EXPENSE_DAY)
KIND_ORDER = [k.value for k in JournalEntry.Kind]


@transaction.atomic
def journal_export(
    *, format: str, by, since: dt.date | None = None, batch_ids=None, today: dt.date | None = None
) -> JournalExport:
    """Export every entry not yet exported (from `since`, or of the given donation batches) as one
    file in `format`, and log it. Each posting is exported once: a second export holds none of the
    first's. Nothing to export, or a posting the account map cannot place, is a LedgerError."""
    if format not in JournalExport.Format.values:
        raise LedgerError(f"{format!r} is not a journal format; use {', '.join(JournalExport.Format.values)}.")
    # One export at a time: two at once would each find the same postings not yet exported.
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {JournalEntry._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")  # noqa: S608
    today = today or timezone.localdate()
    entries = journal_entries(since=since, today=today, batch_ids=batch_ids)
    if not entries:
        raise LedgerError(nothing_to_export(since=since, batch_ids=batch_ids, today=today))
    export_id = ids_draw(JournalExport._meta.db_table, 1)[0]  # the file, which names the ids, is part of the export row
    entry_ids = ids_draw(JournalEntry._meta.db_table, len(entries))
    for entry, pk in zip(entries, entry_ids, strict=True):
        entry.number = f"FT-J{pk:06d}"
    content = WRITERS[format](entries, currency=settings.BASE_CURRENCY)
    export = JournalExport(
        pk=export_id,
        format=format,
        since=since,
        filename=f"fundtrace-journal-{export_id:05d}-{format}.csv",
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        currency=settings.BASE_CURRENCY,
        entry_count=len(entries),
        total_debits=sum((e.debits for e in entries), ZERO),
        exported_by=by,
    )
    export.full_clean()
    export.save(force_insert=True)
    JournalEntry.objects.bulk_create(
        JournalEntry(
            pk=pk, export=export, key=e.key, kind=e.kind, day=e.day, narration=e.narration, batch_id=e.batch_id,
            total_debits=e.debits,
        )
        for e, pk in zip(entries, entry_ids, strict=True)
    )  # fmt: skip
    JournalItem.objects.bulk_create(
        [
            *(JournalItem(entry_id=pk, donation_id=d) for e, pk in zip(entries, entry_ids) for d in e.donation_ids),  # noqa: B905
            *(JournalItem(entry_id=pk, expense_id=x) for e, pk in zip(entries, entry_ids) for x in e.expense_ids),  # noqa: B905
        ],
        batch_size=5000,
    )
    return export


def nothing_to_export(*, since, batch_ids, today) -> str:
    if batch_ids is not None:
        exported = JournalEntry.objects.filter(batch_id__in=batch_ids).select_related("batch", "export")
        done = "; ".join(f"batch {e.batch.reference} is in {e.export}" for e in exported)
        return "Nothing to export: " + (done or "the batches chosen are open or hold no posted donation") + "."
    where = f" since {since.isoformat()}" if since else ""
    return (
        f"Nothing to export{where}: every posting is in a journal already, or was posted today outside a "
        f"batch (a day is exported once it is over, from {(today + dt.timedelta(days=1)).isoformat()})."
    )


def exports_of_batches(batch_ids) -> list[JournalExport]:
    """The exports that already hold the given batches."""
    return list(JournalExport.objects.filter(entries__batch_id__in=batch_ids).distinct().order_by("id"))
