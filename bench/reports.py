"""Report benchmarks: prints one JSON line per figure ({"name", "value", "unit"}).

    python bench/reports.py                      # 30 demo donors, 20,000 extra one-off gifts
    BENCH_DONORS=500 BENCH_DONATIONS=200000 python bench/reports.py
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt_reports_bench \
        BENCH_DONORS=10000 BENCH_DONATIONS=1000000 python bench/reports.py   # issue 5's figures

Uses its own PostgreSQL database (BENCH_DATABASE_URL, or one named by the size) seeded with
`seed_demo --donors N --donations M` (skipped when the database already holds that many donors and
donations and the grants demo), then times: a donor summary from request to PDF bytes (figures +
snapshot + render), the bare render from a ready snapshot (the floor), and a portfolio from request
to PDF bytes.
"""

import datetime as dt
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import emit, ledger_configure, ledger_ready, p95, timed  # noqa: E402

# As workers and the web server run in production: DEBUG off. With it on, Django also formats
# every query's SQL and parameters for its query log, a few milliseconds per summary.
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-key-not-a-secret")
DONORS, DONATIONS = ledger_configure()
REPEAT = int(os.environ.get("BENCH_REPEAT", "40"))
# A demo donor whose summary has every section: pledges, converted figures, co-funded outputs.
DONOR = os.environ.get("BENCH_DONOR", "DON-0005")

import django  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from donors.models import Donor  # noqa: E402
from reports.figures import donor_summary_snapshot, portfolio_snapshot  # noqa: E402
from reports.renderers import render  # noqa: E402
from reports.snapshot import snapshot_sha256  # noqa: E402

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)


def queries(fn) -> int:
    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured)


def main():
    emit("load_average_1m", os.getloadavg()[0], "load")
    ledger_ready(DONORS, DONATIONS)

    donor = Donor.objects.get(ref=DONOR)

    def donor_summary():
        snapshot = donor_summary_snapshot(donor=donor, start=START, end=END)
        snapshot_sha256(snapshot)
        return render(snapshot)

    snapshot = donor_summary_snapshot(donor=donor, start=START, end=END)
    emit("donor_summary_rows", len(snapshot["donations"]), "donations")
    emit("donor_summary_outputs", len(snapshot["outputs"]), "outputs")
    donor_summary(), render(snapshot)  # warm: the first call of each fills caches a worker keeps
    # Request and bare render alternate, so that both are measured over the same stretch of
    # time on a machine whose speed drifts.
    requests, renders = [], []
    for _ in range(REPEAT):
        requests += timed(donor_summary, 1)
        renders += timed(lambda: render(snapshot), 1)
    emit("donor_summary_request_to_pdf_median", round(statistics.median(requests), 1), "ms")
    emit("donor_summary_request_to_pdf_p95", round(p95(requests), 1), "ms")
    emit("donor_summary_render_only_median", round(statistics.median(renders), 1), "ms")
    emit("donor_summary_render_only_p95", round(p95(renders), 1), "ms")
    ratio = statistics.median(requests) / statistics.median(renders)
    emit("donor_summary_request_to_render_ratio", round(ratio, 2), "ratio")

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
