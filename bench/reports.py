"""Report benchmarks: prints one JSON line per figure ({"name", "value", "unit"}).

    python bench/reports.py                      # 30 demo donors, 20,000 extra one-off gifts
    BENCH_DONORS=500 BENCH_DONATIONS=200000 python bench/reports.py
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt_reports_bench \
        BENCH_DONORS=10000 BENCH_DONATIONS=1000000 python bench/reports.py   # issue 5's figures

Uses its own SQLite file (or BENCH_DATABASE_URL) seeded with `seed_demo --donors N --donations M`,
(skipped when the database already holds that many donors and donations and the grants demo),
then times: a donor summary from request to PDF bytes (figures + snapshot + render), the bare
render from a ready snapshot (the floor), and a portfolio from request to PDF bytes.
"""

import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(os.environ.get("BENCH_DIR", Path(tempfile.gettempdir()) / "fundtrace-bench"))
WORK.mkdir(parents=True, exist_ok=True)
DONORS = int(os.environ.get("BENCH_DONORS", "30"))
DONATIONS = int(os.environ.get("BENCH_DONATIONS", "20000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "15"))
# A demo donor whose summary has every section: pledges, converted figures, co-funded outputs.
DONOR = os.environ.get("BENCH_DONOR", "DON-0005")

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
os.environ.setdefault("DEBUG", "1")
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", f"sqlite:///{WORK / f'bench-{DONORS}-{DONATIONS}.sqlite3'}"
)
os.environ["PRIVATE_STORAGE_ROOT"] = str(WORK / "private")

import django  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench._common import emit, p95, timed  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from donors.models import Donation, Donor  # noqa: E402
from grants.models import Allocation  # noqa: E402
from reports.figures import donor_summary_snapshot, portfolio_snapshot  # noqa: E402
from reports.renderers import render  # noqa: E402
from reports.snapshot import snapshot_sha256  # noqa: E402

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)


def seeded() -> bool:
    return (
        Donor.objects.count() >= DONORS
        and Donation.objects.count() >= DONATIONS
        and Allocation.objects.filter(donation__isnull=False).exists()
    )


def queries(fn) -> int:
    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured)


def main():
    emit("load_average_1m", os.getloadavg()[0], "load")
    call_command("migrate", verbosity=0)
    if not seeded():  # seed_demo inserts only what is missing, but planning 1M rows takes minutes
        t = time.perf_counter()
        call_command("seed_demo", donors=DONORS, donations=DONATIONS, verbosity=0)
        emit("seed_seconds", round(time.perf_counter() - t, 2), "s")
    emit("donations", Donation.objects.count(), "rows")
    emit("donors", Donor.objects.count(), "rows")
    if connection.vendor == "sqlite":
        with connection.cursor() as c:
            c.execute("ANALYZE")

    donor = Donor.objects.get(ref=DONOR)

    def donor_summary():
        snapshot = donor_summary_snapshot(donor=donor, start=START, end=END)
        snapshot_sha256(snapshot)
        return render(snapshot)

    samples = timed(donor_summary, REPEAT)
    emit("donor_summary_request_to_pdf_median", round(statistics.median(samples), 1), "ms")
    emit("donor_summary_request_to_pdf_p95", round(p95(samples), 1), "ms")

    snapshot = donor_summary_snapshot(donor=donor, start=START, end=END)
    emit("donor_summary_rows", len(snapshot["donations"]), "donations")
    emit("donor_summary_outputs", len(snapshot["outputs"]), "outputs")
    samples = timed(lambda: render(snapshot), REPEAT)
    emit("donor_summary_render_only_median", round(statistics.median(samples), 1), "ms")
    emit("donor_summary_render_only_p95", round(p95(samples), 1), "ms")

    def portfolio():
        return render(portfolio_snapshot(start=START, end=END))

    samples = timed(portfolio, max(3, REPEAT // 5))
    emit("portfolio_request_to_pdf_median", round(statistics.median(samples) / 1000, 3), "s")
    emit("portfolio_request_to_pdf_max", round(max(samples) / 1000, 3), "s")
    emit("portfolio_pages_bytes", len(portfolio()), "bytes")
    emit("donor_summary_queries", queries(lambda: donor_summary_snapshot(donor=donor, start=START, end=END)), "queries")
    emit("portfolio_queries", queries(lambda: portfolio_snapshot(start=START, end=END)), "queries")
    emit("load_average_1m_end", os.getloadavg()[0], "load")


if __name__ == "__main__":
    main()
