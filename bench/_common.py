"""What every benchmark script prints and how it times: JSON lines, medians and p95 in milliseconds."""

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# The local PostgreSQL server the benchmarks work on, in databases of their own.
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")


def emit(name, value, unit):
    print(json.dumps({"name": name, "value": value, "unit": unit}), flush=True)


def timed(fn, repeat):
    """Milliseconds of `repeat` calls of `fn`, one sample per call."""
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return samples


def p95(samples):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def database_ensure(url: str) -> None:
    """Create the PostgreSQL database `url` names, when it is missing."""
    import psycopg

    server, name = url.split("?", 1)[0].rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


# The seeded ledger the report and dashboard benchmarks share ---------------------------------


def ledger_configure() -> tuple[int, int]:
    """Before django.setup(): point Django at the benchmark ledger (BENCH_DATABASE_URL, or a database
    on the local PostgreSQL named by its size, created when missing) and return (donors, donations) to seed."""
    import tempfile
    from pathlib import Path

    work = Path(os.environ.get("BENCH_DIR", Path(tempfile.gettempdir()) / "fundtrace-bench"))
    work.mkdir(parents=True, exist_ok=True)
    donors = int(os.environ.get("BENCH_DONORS", "30"))
    donations = int(os.environ.get("BENCH_DONATIONS", "20000"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    os.environ.setdefault("DEBUG", "1")
    url = os.environ.get("BENCH_DATABASE_URL", f"{POSTGRES}/fundtrace_bench_{donors}_{donations}")
    database_ensure(url)
    os.environ["DATABASE_URL"] = url
    os.environ["PRIVATE_STORAGE_ROOT"] = str(work / "private")
    return donors, donations


def ledger_ready(donors: int, donations: int) -> None:
    """After django.setup(): migrate, seed with `seed_demo` unless the ledger already holds that
    many donors and donations and the grants demo (planning 1M rows takes minutes), compact the kept
    totals, VACUUM ANALYZE,
    and print the ledger's size (and the seed's time when it seeded)."""
    from django.core.management import call_command
    from django.db import connection, reset_queries

    from donors.models import Donation, Donor, PostedDayTotal, PostedDonorMonthTotal, PostedDonorYearTotal
    from grants.models import Allocation

    call_command("migrate", verbosity=0)
    seeded = (
        Donor.objects.count() >= donors
        and Donation.objects.count() >= donations
        and Allocation.objects.filter(donation__isnull=False).exists()
    )
    if not seeded:
        t = time.perf_counter()
        call_command("seed_demo", "--demo-users", donors=donors, donations=donations, verbosity=0)
        emit("seed_seconds", round(time.perf_counter() - t, 2), "s")
    with connection.cursor() as cursor:
        # Seeding adds to the kept totals chunk by chunk, and each upsert leaves the row it replaced
        # dead: the day totals' 17,000 rows filled 38 MB on a server with autovacuum off. Compacted,
        # as autovacuum keeps them on a ledger that grows a posting at a time.
        for model in (PostedDayTotal, PostedDonorMonthTotal, PostedDonorYearTotal):
            cursor.execute(f"VACUUM FULL {model._meta.db_table}")
        cursor.execute("VACUUM ANALYZE")
    reset_queries()  # seeding with DEBUG on fills the query log, and counting in a full log gives 0
    emit("donations", Donation.objects.count(), "rows")
    emit("donors", Donor.objects.count(), "rows")


# The import benchmarks (imports.py, expense_imports.py) ---------------------------------------


def rates(runs_by_name: dict, rows: int, *, runs: int, emit=emit) -> dict[str, float]:
    """Time each `run()` of `runs_by_name` (each cleans up and returns its own seconds) `runs`
    times, taking turns, so that an import and its baseline see the same stretches of a machine
    whose speed drifts. Print each one's median rows/s, and for more than one run the slowest and
    fastest too. Returns the medians by name."""
    samples = {name: [] for name in runs_by_name}
    for _ in range(runs):
        for name, run in runs_by_name.items():
            samples[name].append(rows / run())
    for name, rates_seen in samples.items():
        rates_seen.sort()
        emit(name, statistics.median(rates_seen), "rows/s")
        if runs > 1:
            emit(f"{name}_slowest", rates_seen[0], "rows/s")
            emit(f"{name}_fastest", rates_seen[-1], "rows/s")
    return {name: statistics.median(rates_seen) for name, rates_seen in samples.items()}


def import_peak_rss(kind: str, path: Path, rows: int, *, prefix: str, emit=emit) -> None:
    """Peak RSS (ru_maxrss) and rows/s, start-up included, of `manage.py import_data KIND PATH --post`
    in a fresh process."""
    code = (
        "import resource, sys, django, os\n"
        "django.setup()\n"
        "from django.core.management import call_command\n"
        f"call_command('import_data', {kind!r}, {str(path)!r}, '--post', verbosity=0)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    root = Path(__file__).resolve().parent.parent
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)  # noqa: S603
    elapsed = time.perf_counter() - started
    emit(f"{prefix}_peak_rss_{rows}_rows", int(out.stdout.strip().splitlines()[-1]) / 1024, "MB")
    emit(f"{prefix}_subprocess_{rows}_rows_per_s", rows / elapsed, "rows/s (incl. startup)")
