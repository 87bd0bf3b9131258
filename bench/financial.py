"""Financial report benchmark: prints one JSON line per figure ({"name", "value", "unit"}).

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/fundtrace_bench_expenses python bench/financial.py
    BENCH_EXPENSES=10000 python bench/financial.py      # a smaller ledger

Seeds, once, one funder's agreement (two years, 20 budget lines a year, 7.5% indirect costs) with
BENCH_EXPENSES posted expenses (default 100,000) through `spending.services.expenses_post_bulk`, the funder's
money received, and the explanations of the flagged lines of 2025; a database already holding the agreement
with that many expenses is reused. Then times the financial report of 2025 from request to PDF: the request
(with its check that every flagged line is explained), the snapshot from `budget_vs_actual`, the PDF rendered
and stored on the run (Celery runs the generation in process, as with no broker), over BENCH_REPEAT runs
(default 25): median and p95. Also the snapshot alone, the SQL sums over the charges alone, the render alone,
the workbook and the queries.
"""

import datetime as dt
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import POSTGRES, database_ensure, emit, p95, timed  # noqa: E402

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-key-not-a-secret")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
os.environ.pop("CELERY_BROKER_URL", None)  # generation in process: the request's own time to the PDF
EXPENSES = int(os.environ.get("BENCH_EXPENSES", "100000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "25"))
URL = os.environ.get("BENCH_DATABASE_URL", f"{POSTGRES}/fundtrace_bench_expenses")
database_ensure(URL)
os.environ["DATABASE_URL"] = URL
WORK = Path(os.environ.get("BENCH_DIR", "/tmp/fundtrace-bench"))
os.environ["PRIVATE_STORAGE_ROOT"] = str(WORK / "private")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from donors import services as donor_services  # noqa: E402
from reports.financial import financial_report_snapshot  # noqa: E402
from reports.financial_xlsx import financial_workbook  # noqa: E402
from reports.models import ReportRun  # noqa: E402
from reports.renderers import render  # noqa: E402
from reports.services import report_run_request  # noqa: E402
from spending import services  # noqa: E402
from spending.models import Agreement, Expense  # noqa: E402
from spending.selectors import actual_rows, budget_vs_actual  # noqa: E402
from spending.services import NewCharge, NewExpense, NewLine  # noqa: E402

FUNDER_REF = "BENCH-FIN-1"
START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
LAST = dt.date(2026, 6, 30)  # spend runs to here
CATEGORIES = ["personnel", "travel", "events", "contractual", "supplies", "equipment", "other"]
BATCH = 5000


def seeded() -> Agreement | None:
    agreement = Agreement.objects.filter(funder_ref=FUNDER_REF).first()
    if agreement and Expense.objects.filter(charges__agreement=agreement).count() >= EXPENSES:
        return agreement
    return None


def seed() -> Agreement:
    """One agreement and its ledger; a half-made one (an interrupted seed) is finished, not made twice."""
    agreement = Agreement.objects.filter(funder_ref=FUNDER_REF).first()
    if agreement is None:
        with transaction.atomic():
            donor = donor_services.donor_create(
                name="Bench Ministry of Foreign Affairs", kind="government", country="GB", preferred_currency="GBP"
            )
            pledge = donor_services.pledge_create(
                donor=donor, title="Bench programme grant", total=Decimal("90000000.00"), currency="GBP",
                start_date=dt.date(2025, 1, 1), end_date=dt.date(2026, 12, 31),
            )  # fmt: skip
            agreement = services.agreement_create(
                pledge=pledge, funder_ref=FUNDER_REF, start_date=pledge.start_date, end_date=pledge.end_date,
                indirect_rate=Decimal("7.5"), status="active",
            )  # fmt: skip
            lines = [NewLine(code="IND", category="indirect", year=year, amount=Decimal("3000000.00"))
                     for year in (2025, 2026)]  # fmt: skip
            lines += [
                NewLine(code=f"{n // 4 + 1}.{n % 4 + 1}", category=CATEGORIES[n % len(CATEGORIES)],
                        description=f"Budget line {n + 1}", year=year, amount=Decimal("2000000.00") + n * 10000)
                for n in range(20)
                for year in (2025, 2026)
            ]  # fmt: skip
            version = services.budget_version_create(agreement=agreement, lines=lines)
            services.budget_version_approve(version=version, approved_on=dt.date(2025, 1, 1))
            for n, day in enumerate((dt.date(2025, 1, 15), dt.date(2025, 7, 15), dt.date(2026, 1, 15))):
                donation = donor_services.donation_create(
                    donor=donor, pledge=pledge, reference=f"BENCH-FIN-R{n}", received_on=day,
                    amount=Decimal("30000000.00"), currency="GBP",
                )  # fmt: skip
                donor_services.donation_post(donation=donation, by=None)
    done = Expense.objects.filter(charges__agreement=agreement).count()
    lines = list(services.current_budget(agreement).lines.exclude(category="indirect").order_by("code", "year"))
    days = (LAST - agreement.start_date).days + 1
    while done < EXPENSES:
        batch = []
        for n in range(done, min(done + BATCH, EXPENSES)):
            on = agreement.start_date + dt.timedelta(days=(n * 7919) % days)
            same_year = [line for line in lines if line.year == on.year]
            amount = Decimal(100 + (n * 37) % 90000) / 100
            line = same_year[n % len(same_year)]
            batch.append(NewExpense(reference=f"BENCH-FIN-E{n:07d}", incurred_on=on, paid_on=on, payee="Supplier",
                                    description="Bench expense", amount=amount, currency="GBP",
                                    charges=[NewCharge(line, amount=amount)]))  # fmt: skip
        done += services.expenses_post_bulk(expenses=batch, by=None)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # bulk posting upserts the kept totals chunk by chunk: dead rows
    figures = budget_vs_actual(agreement, start=START, end=END)
    for line in figures.flagged:
        services.variance_explanation_save(
            agreement=agreement, start=START, end=END, line_code=line.code, text="Bench explanation.", by=None
        )
    return agreement


def main():
    emit("load_average_1m", os.getloadavg()[0], "load")
    call_command("migrate", verbosity=0)
    agreement = seeded()
    if agreement is None:
        t = time.perf_counter()
        agreement = seed()
        emit("financial_seed", round(time.perf_counter() - t, 1), "s")
    emit("financial_ledger_expenses", Expense.objects.filter(charges__agreement=agreement).count(), "expenses")

    def request_to_pdf():
        run = report_run_request(kind=ReportRun.Kind.FINANCIAL_REPORT, agreement=agreement, start=START, end=END)
        run.refresh_from_db()
        assert run.status == ReportRun.Status.DONE, run.error
        return run

    def snapshot():
        return financial_report_snapshot(agreement=agreement, start=START, end=END, sign_off=None)

    ready = snapshot()
    emit("financial_lines", len(ready["lines"]), "lines")
    request_to_pdf(), render(ready)  # warm: fonts and caches a worker keeps
    requests, renders, snapshots, sums = [], [], [], []
    for _ in range(REPEAT):
        requests += timed(request_to_pdf, 1)
        snapshots += timed(snapshot, 1)
        renders += timed(lambda: render(ready), 1)
        sums += timed(lambda: actual_rows(agreement, start=START, end=END), 1)
    emit("financial_request_to_pdf_median", round(statistics.median(requests), 1), "ms")
    emit("financial_request_to_pdf_p95", round(p95(requests), 1), "ms")
    emit("financial_snapshot_median", round(statistics.median(snapshots), 1), "ms")
    emit("financial_render_only_median", round(statistics.median(renders), 1), "ms")
    # The one SQL aggregate over the charges' kept totals that budget_vs_actual makes (the request makes two: its check
    # that every flagged line is explained, then the snapshot).
    emit("financial_actual_sums_sql_median", round(statistics.median(sums), 1), "ms")
    emit("financial_xlsx_median", round(statistics.median(timed(lambda: financial_workbook(ready), 10)), 1), "ms")
    with CaptureQueriesContext(connection) as captured:
        snapshot()
    emit("financial_snapshot_queries", len(captured), "queries")
    emit("load_average_1m_end", os.getloadavg()[0], "load")


if __name__ == "__main__":
    main()
