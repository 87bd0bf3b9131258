"""What every benchmark script prints and how it times: JSON lines, medians and p95 in milliseconds."""

import json
import os
import time

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
    many donors and donations and the grants demo (planning 1M rows takes minutes), ANALYZE,
    and print the ledger's size (and the seed's time when it seeded)."""
    from django.core.management import call_command
    from django.db import connection, reset_queries

    from donors.models import Donation, Donor
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
        cursor.execute("ANALYZE")
    reset_queries()  # seeding with DEBUG on fills the query log, and counting in a full log gives 0
    emit("donations", Donation.objects.count(), "rows")
    emit("donors", Donor.objects.count(), "rows")
