"""Donation import throughput and memory. Prints one JSON line per figure: {"name","value","unit"}.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fundtrace .venv/bin/python bench/imports.py [--rows 100000]

It never touches the configured database: it works in BENCH_DATABASE_URL if set, else in a
database of its own on the local PostgreSQL (BENCH_POSTGRES; `fundtrace_bench_imports`, created if missing).
There it creates the tables (migrate), a donor/rate set, a generated donation CSV under
bench/data/, then measures, each on a clean donations table:
- fundtrace import (full validation, all or nothing, posted, with history), rows/s: the median of
  BENCH_IMPORT_RUNS runs (3), with the slowest and the fastest (bulk_create and COPY likewise; the
  three take turns, so that each sees the same stretches of a machine whose speed drifts), and
  its ratio to COPY (the issue's bar: at least 0.3) and to stock django-import-export (at least 40);
- stock django-import-export ModelResource on a 5,000-row subset, rows/s;
- plain bulk_create of prebuilt Donation objects, rows/s;
- PostgreSQL COPY (psycopg 3 cursor.copy), rows/s;
- peak RSS of `manage.py import_data donations FILE --post` in a subprocess (ru_maxrss), for
  the 100k file and a 1M-row file (skip that one with --no-million).
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

os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"{POSTGRES}/fundtrace_bench_imports"
database_ensure(os.environ["DATABASE_URL"])

RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "3"))  # each throughput figure is the median of RUNS runs
HEADER = "reference,donor_ref,received_on,amount,currency,method,pledge_ref,rate,note\n"
DONORS = 500
CURRENCIES = ["GBP", "USD", "EUR"]


def emit(name, value, unit):
    print(json.dumps({"name": name, "value": round(value, 2) if isinstance(value, float) else value, "unit": unit}))
    sys.stdout.flush()


def generate(rows: int) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"donations_{rows}.csv"
    if path.exists():
        return path
    rng = random.Random(rows)
    start = dt.date(2024, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        for i in range(rows):
            amount = f"{rng.randint(100, 5_000_000) // 100}.{rng.randint(0, 99):02d}"
            on = start + dt.timedelta(days=rng.randrange(700))
            out.write(
                f"BENCH-{rows}-{i:08d},DON-{rng.randrange(DONORS) + 1:05d},{on},{amount},"
                f"{rng.choice(CURRENCIES)},bank_transfer,,,bench row {i}\n"
            )
    return path


def setup():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from donors.models import Donor, ExchangeRate

    Donor.objects.bulk_create(
        [
            Donor(
                ref=f"DON-{i:05d}", name=f"Bench donor {i}", kind="foundation", country="GB", preferred_currency="GBP"
            )
            for i in range(1, DONORS + 1)
        ],
        ignore_conflicts=True,
    )
    weekly = []
    for currency, rate in (("USD", "0.79"), ("EUR", "0.86")):
        day = dt.date(2023, 12, 1)
        while day < dt.date(2026, 1, 1):
            weekly.append(ExchangeRate(currency=currency, date=day, rate=Decimal(rate), source="bench"))
            day += dt.timedelta(days=7)
    ExchangeRate.objects.bulk_create(weekly, ignore_conflicts=True)


def clean():
    import pgtrigger
    from django.db import connection

    from backoffice.db import truncate_guards

    # The ledger tables refuse TRUNCATE; this database is the benchmark's own, emptied between runs.
    with pgtrigger.ignore(*truncate_guards()), connection.cursor() as cursor:
        for table in (
            "donors_historicaldonation",
            "donors_donation",
            "donors_historicaldonationbatch",
            "donors_donationbatch",
            "donors_posteddaytotal",  # the kept totals a posted import adds to
            "donors_posteddonormonthtotal",
            "donors_posteddonoryeartotal",
        ):
            cursor.execute(f"TRUNCATE {table} CASCADE")


def fundtrace_run(path: Path, rows: int):
    from transfers.engine import import_run
    from transfers.files import open_table
    from transfers.kinds_donors import DonationImporter

    def run() -> float:
        clean()
        started = time.perf_counter()
        with path.open("rb") as stream:
            outcome = import_run(DonationImporter(post=True, file_name=path.name), open_table(stream, path.name))
        elapsed = time.perf_counter() - started
        assert outcome.ok and outcome.new == rows, outcome.errors[:5]
        return elapsed

    return run


def bench_stock(path: Path, subset: int) -> float:
    import tablib
    from import_export import resources

    from donors.models import Donation

    class StockDonationResource(resources.ModelResource):
        class Meta:
            model = Donation
            import_id_fields = ("reference",)
            fields = ("reference", "donor", "received_on", "amount", "currency", "method", "note")

    from donors.models import Donor

    ids = dict(Donor.objects.values_list("ref", "id"))
    with path.open(encoding="utf-8") as f:
        lines = [next(f) for _ in range(subset + 1)]
    dataset = tablib.Dataset(headers=["reference", "donor", "received_on", "amount", "currency", "method", "note"])
    for line in lines[1:]:
        r = line.rstrip("\n").split(",")
        dataset.append([r[0], ids[r[1]], r[2], r[3], r[4], r[5], r[8]])
    clean()
    started = time.perf_counter()
    result = StockDonationResource().import_data(dataset, dry_run=False, use_transactions=True)
    elapsed = time.perf_counter() - started
    assert not result.has_errors() and not result.has_validation_errors()
    emit(f"stock_import_export_{subset}_subset_rows_per_s", subset / elapsed, "rows/s")
    return subset / elapsed


def _prebuilt(path: Path):
    from donors.models import Donation, Donor

    ids = dict(Donor.objects.values_list("ref", "id"))
    objs = []
    with path.open(encoding="utf-8") as f:
        next(f)
        for line in f:
            r = line.rstrip("\n").split(",")
            objs.append(
                Donation(
                    reference=r[0],
                    donor_id=ids[r[1]],
                    received_on=dt.date.fromisoformat(r[2]),
                    amount=Decimal(r[3]),
                    currency=r[4],
                    method=r[5],
                    note=r[8],
                )
            )
    return objs


def bulk_create_run(path: Path):
    from django.db import transaction

    from donors.models import Donation

    def run() -> float:
        objs = _prebuilt(path)
        clean()
        started = time.perf_counter()
        with transaction.atomic():
            Donation.objects.bulk_create(objs, batch_size=2000)
        return time.perf_counter() - started

    return run


def copy_run(path: Path):
    from django.db import connection, transaction
    from django.utils import timezone

    from donors.models import Donor

    ids = dict(Donor.objects.values_list("ref", "id"))
    columns = "reference, donor_id, received_on, amount, currency, method, note, status, rate_source, created_at"

    def run() -> float:
        clean()
        now = timezone.now()
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY donors_donation ({columns}) FROM STDIN") as copy, path.open(encoding="utf-8") as f:
                next(f)
                for line in f:
                    r = line.rstrip("\n").split(",")
                    copy.write_row((r[0], ids[r[1]], r[2], r[3], r[4], r[5], r[8], "draft", "", now))
        return time.perf_counter() - started

    return run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--stock-subset", type=int, default=5_000)
    parser.add_argument("--no-million", action="store_true", help="Skip the 1,000,000-row memory figure.")
    args = parser.parse_args()
    setup()
    emit("load_average_1m", round(os.getloadavg()[0], 2), "load")
    path = generate(args.rows)
    rows = args.rows
    medians = rates(
        {
            f"fundtrace_import_{rows}_rows_per_s": fundtrace_run(path, rows),
            f"plain_bulk_create_{rows}_rows_per_s": bulk_create_run(path),
            f"postgres_copy_{rows}_rows_per_s": copy_run(path),
        },
        rows,
        runs=RUNS,
        emit=emit,
    )
    fundtrace = medians[f"fundtrace_import_{rows}_rows_per_s"]
    emit(
        f"fundtrace_import_vs_copy_{rows}_rows",
        fundtrace / medians[f"postgres_copy_{rows}_rows_per_s"],
        "ratio (target >= 0.3)",
    )
    stock = bench_stock(path, args.stock_subset)
    emit("fundtrace_import_vs_stock", fundtrace / stock, "ratio (target >= 40)")
    clean()
    import_peak_rss("donations", path, args.rows, prefix="import", emit=emit)
    if not args.no_million:
        clean()
        import_peak_rss("donations", generate(1_000_000), 1_000_000, prefix="import", emit=emit)
    clean()
    emit("load_average_1m_end", round(os.getloadavg()[0], 2), "load")


if __name__ == "__main__":
    main()
