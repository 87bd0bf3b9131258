"""The audit pack: for one agreement and period, everything behind its budget-against-actual figures,
as one ZIP an auditor can check by hand. Asked for from the agreement's admin page, made by a worker,
kept on private storage.

The ZIP holds (CSV files, UTF-8, amounts as exact decimals with their currency beside them):
- README.txt: what the pack is, the totals (those of spending.selectors.budget_vs_actual) and every
  file with its SHA-256;
- budget_vs_actual.csv: per budget line code, the figures the funder's report is built from;
- expenses.csv: every posted expense charged to the agreement and incurred by the period's end
  (reversals included), with the rate, its date and source and the base amount frozen at posting;
- charges.csv: each of their charges to the agreement: line, output, amount, its part of the base
  amount and its spot amount in the agreement's currency, whether it falls in the period;
- donations.csv: the funder's posted donations under the pledge, received by the period's end;
- fx_workings.csv: each conversion: every expense's and donation's posting (amount, rate, date,
  source), the average rate worked out from the money received, and each line's spend converted
  into the agreement's currency as budget_vs_actual converts it;
- budget_versions.csv: every version of the budget with its lines, status, reason and approval;
- history.csv: the change history of those rows: admin log entries, each saved version of the
  records (django-simple-history) and the reversals with their reasons.
"""

import csv
import datetime as dt
import hashlib
import io
import logging

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from backoffice.archives import zip_bytes
from backoffice.errors import LedgerError
from backoffice.money import money_in_places as m
from donors.models import Donation

from .models import Agreement, AuditPack, BudgetLine, BudgetVersion, Expense, ExpenseCharge
from .selectors import actual_rows, budget_vs_actual, converted, received_under

logger = logging.getLogger(__name__)

FILES = __doc__.split("The ZIP holds", 1)[1].split(":\n", 1)[1]


def csv_bytes(header: list[str], rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return out.getvalue().encode()


def _day(value) -> str:
    return value.isoformat() if value else ""


def _charges(agreement: Agreement, end: dt.date):
    """The charges behind the totals: budget_vs_actual's rows (posted, incurred by `end`)."""
    return (
        ExpenseCharge.objects.filter(agreement=agreement, expense__status="posted", expense__incurred_on__lte=end)
        .select_related("expense", "line", "output")
        .order_by("expense__incurred_on", "expense__reference", "id")
    )


def _bva_csv(figures) -> bytes:
    c = figures.currency
    return csv_bytes(
        [
            "code",
            "description",
            "category",
            "currency",
            "original_budget",
            "current_budget",
            "period_budget",
            "actual_period",
            "actual_to_date",
            "remaining",
            "variance",
            "variance_pct",
            "flagged",
            "forecast",
        ],
        [
            [
                line.code,
                line.description,
                line.category,
                c,
                line.original,
                line.current,
                line.period_budget,
                line.actual_period,
                line.actual_to_date,
                line.remaining,
                line.variance,
                line.variance_pct,
                "yes" if line.flagged else "no",
                line.forecast,
            ]
            for line in figures.lines
        ],
    )


def _expenses_csv(expenses: list[Expense]) -> bytes:
    base = settings.BASE_CURRENCY
    return csv_bytes(
        [
            "reference",
            "incurred_on",
            "paid_on",
            "payee",
            "description",
            "amount",
            "currency",
            "rate",
            "rate_date",
            "rate_source",
            "base_amount",
            "base_currency",
            "reversal_of",
            "reversal_reason",
            "posted_at",
            "posted_by",
            "evidence",
        ],
        [
            [
                e.reference,
                _day(e.incurred_on),
                _day(e.paid_on),
                e.payee,
                e.description,
                m(e.amount, e.currency),
                e.currency,
                e.rate,
                _day(e.rate_date),
                e.rate_source,
                m(e.base_amount, base),
                base,
                e.reversal_of.reference if e.reversal_of_id else "",
                e.reversal_reason,
                e.posted_at.isoformat() if e.posted_at else "",
                str(e.posted_by) if e.posted_by_id else "",
                e.evidence.name or "",
            ]
            for e in expenses
        ],
    )


def _charges_csv(agreement: Agreement, charges: list[ExpenseCharge], start: dt.date) -> bytes:
    base = settings.BASE_CURRENCY
    return csv_bytes(
        [
            "expense",
            "incurred_on",
            "in_period",
            "line",
            "line_year",
            "category",
            "indirect_eligible",
            "output",
            "amount",
            "currency",
            "share_pct",
            "base_amount",
            "base_currency",
            "spot_amount",
            "agreement_currency",
        ],
        [
            [
                c.expense.reference,
                _day(c.expense.incurred_on),
                "yes" if c.expense.incurred_on >= start else "no",
                c.line.code,
                c.line.year,
                c.line.category,
                "yes" if c.line.indirect_eligible else "no",
                str(c.output) if c.output_id else "",
                m(c.amount, c.expense.currency),
                c.expense.currency,
                c.share,
                m(c.base_amount, base),
                base,
                m(c.spot_amount, agreement.currency),
                agreement.currency,
            ]
            for c in charges
        ],
    )


def _donations(agreement: Agreement, end: dt.date) -> list[Donation]:
    return list(
        Donation.objects.posted()
        .filter(pledge_id=agreement.pledge_id, received_on__lte=end)
        .select_related("reversal_of")
        .order_by("received_on", "id")
    )


def _donations_csv(agreement: Agreement, donations: list[Donation], start: dt.date) -> bytes:
    base = settings.BASE_CURRENCY
    return csv_bytes(
        [
            "reference",
            "received_on",
            "in_period",
            "amount",
            "currency",
            "pledge_amount",
            "pledge_currency",
            "rate",
            "rate_date",
            "rate_source",
            "base_amount",
            "base_currency",
            "reversal_of",
        ],
        [
            [
                d.reference,
                _day(d.received_on),
                "yes" if d.received_on >= start else "no",
                m(d.amount, d.currency),
                d.currency,
                m(d.pledge_amount, agreement.currency),
                agreement.currency,
                d.rate,
                _day(d.rate_date),
                d.rate_source,
                m(d.base_amount, base),
                base,
                d.reversal_of.reference if d.reversal_of_id else "",
            ]
            for d in donations
        ],
    )


def _fx_csv(agreement: Agreement, figures, expenses, donations, start: dt.date, end: dt.date) -> bytes:
    """Each conversion made, in the order a reader checks them: postings into base currency, the
    average rate, then each line's spend into the agreement's currency."""
    base, c = settings.BASE_CURRENCY, agreement.currency
    header = [
        "step",
        "what",
        "amount",
        "from_currency",
        "rate",
        "rate_date",
        "rate_source",
        "result",
        "to_currency",
        "method",
    ]
    rows = []
    for e in expenses:
        rows.append(
            [
                "posting",
                f"expense {e.reference}",
                m(e.amount, e.currency),
                e.currency,
                e.rate,
                _day(e.rate_date),
                e.rate_source,
                m(e.base_amount, base),
                base,
                "amount x rate, half up (rate of the day paid)",
            ]
        )
    for d in donations:
        rows.append(
            [
                "posting",
                f"donation {d.reference}",
                m(d.amount, d.currency),
                d.currency,
                d.rate,
                _day(d.rate_date),
                d.rate_source,
                m(d.base_amount, base),
                base,
                "amount x rate, half up (day received)",
            ]
        )
    received = received_under(agreement, end=end)
    rows.append(
        [
            "average rate",
            f"money received under {agreement.pledge.ref} by {end}",
            m(received["base"], base),
            base,
            figures.average_rate,
            _day(end),
            "received in the pledge currency / in base currency",
            m(received["amount"], c),
            c,
            "8 places, half up; none before money arrives",
        ]
    )
    rate = figures.average_rate
    for row in actual_rows(agreement, start=start, end=end):
        for when in ("period", "to_date"):
            what = f"line {row['line__code']} ({'eligible' if row['line__indirect_eligible'] else 'not eligible'})"
            if rate is None:
                rows.append(
                    [
                        "line spend",
                        f"{what}, {when}",
                        m(row[f"spot_{when}"], c),
                        c,
                        "",
                        "",
                        "spot amounts frozen at posting",
                        converted(row, when, rate, c),
                        c,
                        figures.method_text,
                    ]
                )
            else:
                rows.append(
                    [
                        "line spend",
                        f"{what}, {when}: already in {c}",
                        m(row[f"same_{when}"], c),
                        c,
                        "1",
                        "",
                        "",
                        m(row[f"same_{when}"], c),
                        c,
                        "no conversion",
                    ]
                )
                rows.append(
                    [
                        "line spend",
                        f"{what}, {when}: other currencies",
                        m(row[f"base_{when}"], base),
                        base,
                        rate,
                        _day(end),
                        "average rate above",
                        converted(row, when, rate, c) - row[f"same_{when}"],
                        c,
                        figures.method_text,
                    ]
                )
    return csv_bytes(header, rows)


def _budget_csv(agreement: Agreement) -> bytes:
    lines = (
        BudgetLine.objects.filter(version__agreement=agreement)
        .select_related("version", "output")
        .order_by("version__number", "code", "year")
    )
    return csv_bytes(
        [
            "version",
            "status",
            "approved_on",
            "approved_by_funder",
            "reason",
            "code",
            "category",
            "description",
            "output",
            "year",
            "amount",
            "currency",
            "indirect_eligible",
        ],
        [
            [
                line.version.number,
                line.version.status,
                _day(line.version.approved_on),
                line.version.approved_by_funder,
                line.version.reason,
                line.code,
                line.category,
                line.description,
                str(line.output) if line.output_id else "",
                line.year,
                m(line.amount, agreement.currency),
                agreement.currency,
                "yes" if line.indirect_eligible else "no",
            ]
            for line in lines
        ],
    )


def _history_csv(agreement: Agreement, expenses: list[Expense], charges: list[ExpenseCharge]) -> bytes:
    """Admin log entries, saved versions and reversals of the agreement, its budget and the pack's expenses."""
    versions = list(BudgetVersion.objects.filter(agreement=agreement))
    lines = list(BudgetLine.objects.filter(version__agreement=agreement))
    rows_by_model = [
        (Agreement, [agreement]),
        (BudgetVersion, versions),
        (BudgetLine, lines),
        (Expense, expenses),
        (ExpenseCharge, charges),
    ]
    rows = []
    for model, objects in rows_by_model:
        ids = [o.pk for o in objects]
        content_type = ContentType.objects.get_for_model(model)
        for entry in (
            LogEntry.objects.filter(content_type=content_type, object_id__in=[str(i) for i in ids])
            .order_by("action_time", "id")
            .select_related("user")
        ):
            action = {1: "added", 2: "changed", 3: "deleted"}.get(entry.action_flag, str(entry.action_flag))
            rows.append(
                [
                    entry.action_time.isoformat(),
                    "admin log",
                    model._meta.verbose_name,
                    entry.object_repr,
                    action,
                    str(entry.user),
                    entry.get_change_message(),
                ]
            )
        for saved in (
            model.history.filter(id__in=ids).order_by("history_date", "history_id").select_related("history_user")
        ):
            rows.append(
                [
                    saved.history_date.isoformat(),
                    "saved version",
                    model._meta.verbose_name,
                    str(saved.instance),
                    saved.get_history_type_display(),
                    str(saved.history_user) if saved.history_user_id else "",
                    getattr(saved, "status", ""),
                ]
            )
    for e in expenses:
        if e.reversal_of_id:
            rows.append(
                [
                    e.posted_at.isoformat() if e.posted_at else "",
                    "reversal",
                    "expense",
                    e.reference,
                    f"reverses {e.reversal_of.reference}",
                    str(e.posted_by) if e.posted_by_id else "",
                    e.reversal_reason,
                ]
            )
    rows.sort(key=lambda r: r[0])
    return csv_bytes(["when", "source", "record", "object", "action", "by", "detail"], rows)


def _readme(agreement: Agreement, figures, files: dict[str, bytes], made_at) -> bytes:
    c = figures.currency
    totals = [
        ("Direct spend in the period", figures.direct_period),
        ("Indirect costs in the period", figures.indirect_period),
        ("Spent in the period", figures.spent_period),
        ("Direct spend to date", figures.direct_to_date),
        ("Indirect costs to date", figures.indirect_to_date),
        ("Spent to date", figures.spent_to_date),
        ("Received in the period", figures.received_period),
        ("Received to date", figures.received_to_date),
        ("Balance held (received less spent to date)", figures.balance),
    ]
    text = [
        f"Audit pack: agreement {agreement.funder_ref} ({agreement.pledge.ref}, {agreement.pledge.donor.name})",
        f"Period: {figures.start.isoformat()} to {figures.end.isoformat()}; agreement currency {c}; "
        f"base currency {settings.BASE_CURRENCY}.",
        f"Made: {timezone.localtime(made_at).isoformat()}. Spend converts at the {figures.method_text}.",
        "",
        "Totals (spending.selectors.budget_vs_actual, in the agreement's currency):",
        *[f"  {label}: {value} {c}" for label, value in totals],
        "",
        "Files (SHA-256):",
        *[f"  {hashlib.sha256(data).hexdigest()}  {name}" for name, data in sorted(files.items())],
        "",
        "The files:",
        FILES.rstrip(),
        "",
    ]
    return "\n".join(text).encode()


def audit_pack_files(agreement: Agreement, *, start: dt.date, end: dt.date, made_at) -> dict[str, bytes]:
    """The pack's files by name, read now from the ledger."""
    figures = budget_vs_actual(agreement, start=start, end=end)
    charges = list(_charges(agreement, end))
    expense_ids = {c.expense_id for c in charges}
    expenses = list(
        Expense.objects.filter(pk__in=expense_ids)
        .select_related("reversal_of", "posted_by")
        .order_by("incurred_on", "reference")
    )
    donations = _donations(agreement, end)
    files = {
        "budget_vs_actual.csv": _bva_csv(figures),
        "expenses.csv": _expenses_csv(expenses),
        "charges.csv": _charges_csv(agreement, charges, start),
        "donations.csv": _donations_csv(agreement, donations, start),
        "fx_workings.csv": _fx_csv(agreement, figures, expenses, donations, start, end),
        "budget_versions.csv": _budget_csv(agreement),
        "history.csv": _history_csv(agreement, expenses, charges),
    }
    files["README.txt"] = _readme(agreement, figures, files, made_at)
    return files


@transaction.atomic
def audit_pack_request(*, agreement: Agreement, start: dt.date, end: dt.date, by) -> AuditPack:
    """Ask for a pack of `agreement` from `start` to `end`; a worker makes it once this commits."""
    from .tasks import audit_pack_make

    if end < start:
        raise LedgerError({"period_end": "The period ends before it starts."})
    if start > agreement.end_date or end < agreement.start_date:
        raise LedgerError(
            {
                "period_start": (
                    f"The period {start} to {end} is outside agreement {agreement.funder_ref}'s "
                    f"({agreement.start_date} to {agreement.end_date})."
                )
            }
        )
    pack = AuditPack(agreement=agreement, period_start=start, period_end=end, requested_by=by)
    pack.full_clean()
    pack.save()
    transaction.on_commit(lambda: audit_pack_make.delay(pack.pk))
    return pack


def audit_pack_make(*, pack_id: int) -> AuditPack:
    """Make a queued or failed pack's ZIP. Running it again on a done pack does nothing.

    The claim is a conditional update, so two workers given the same pack cannot both make it; a
    failure marks the pack failed with its error, and the next run makes it again.
    """
    claimed = AuditPack.objects.filter(
        pk=pack_id, status__in=[AuditPack.Status.QUEUED, AuditPack.Status.FAILED]
    ).update(status=AuditPack.Status.RUNNING, error="", started_at=timezone.now(), finished_at=None)
    pack = AuditPack.objects.select_related("agreement__pledge__donor").get(pk=pack_id)
    if not claimed:
        return pack
    try:
        with transaction.atomic():  # a database error in here still lets the pack be marked failed
            files = audit_pack_files(
                pack.agreement, start=pack.period_start, end=pack.period_end, made_at=pack.requested_at
            )
        data = zip_bytes(files, made_at=pack.requested_at)
        pack.file.save(pack.filename, ContentFile(data), save=False)
        pack.sha256, pack.status = hashlib.sha256(data).hexdigest(), AuditPack.Status.DONE
        pack.finished_at = timezone.now()
        pack.save()
    except Exception as exc:
        logger.exception("Audit pack %s failed", pack_id)
        AuditPack.objects.filter(pk=pack_id).update(
            status=AuditPack.Status.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now()
        )
        pack.refresh_from_db()
    return pack


def audit_packs_fail_stuck(*, older_than: dt.timedelta) -> int:
    """Fail the packs still being made longer after their claim than a making task may run: their
    worker stopped or was killed, and nobody will finish them. A failed pack says why, and the task
    run again makes it."""
    return AuditPack.objects.filter(status=AuditPack.Status.RUNNING, started_at__lt=timezone.now() - older_than).update(
        status=AuditPack.Status.FAILED,
        error=f"No worker finished this pack within {older_than} (it stopped or was killed). Ask for it again.",
        finished_at=timezone.now(),
    )
