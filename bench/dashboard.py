"""Dashboard benchmark: prints one JSON line per figure ({"name", "value", "unit"}).

    python bench/dashboard.py                                    # 30 demo donors, 20,000 extra gifts
    BENCH_DONORS=10000 BENCH_DONATIONS=1000000 \
      BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/wt_dashboard_bench python bench/dashboard.py

Shares the seeded ledger of bench/reports.py (bench/_common.py: `seed_demo --donors N
--donations M` unless already there), then times GET /dashboard/ for one year,
signed in as Leadership: median and p95 of BENCH_REPEAT requests, and the queries per page.
With BENCH_SMALL_DATABASE_URL, the same on a ledger of the same donors with a tenth of the
donations (BENCH_SMALL_DONATIONS) in the same run, in alternating rounds so that both see the
same stretch of a machine whose speed drifts, and the ratio of the two p95s: the page should
stay flat as the ledger grows.

In the same run, the baseline and the cost moved to the write side: `ledger_period_pass_median`
is one grouped pass over the period's posted donations straight from the ledger (what each of
the page's per-donor figures cost before the kept totals, donors.totals); `donation_post_median`
is posting one donation (which now also adds it to the totals), each in a transaction rolled back.
"""

import datetime as dt
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import emit, ledger_configure, ledger_ready, p95, timed  # noqa: E402

DONORS, DONATIONS = ledger_configure()
REPEAT = int(os.environ.get("BENCH_REPEAT", "20"))
ROUNDS = 4
SMALL_URL = os.environ.get("BENCH_SMALL_DATABASE_URL", "")
SMALL_DONATIONS = int(os.environ.get("BENCH_SMALL_DONATIONS", str(DONATIONS // 10)))
PERIOD = os.environ.get("BENCH_PERIOD", "start=2025-01-01&end=2025-12-31")

# Loaded as a WSGI server loads it (backoffice/wsgi.py: set up, then what is loaded frozen), though
# the requests go through Django's test client in this process.
import backoffice.wsgi  # noqa: E402, F401, I001

# isort: split

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Sum  # noqa: E402
from django.test import Client  # noqa: E402

from donors.models import Donation, Donor  # noqa: E402
from donors.services import donation_create, donation_post  # noqa: E402


class RolledBack(Exception):
    pass


def post_one(donor, n):
    """Create and post one donation, then roll it back (posted rows cannot be deleted)."""
    try:
        with transaction.atomic():
            draft = donation_create(
                donor=donor, reference=f"BENCH-POST-{n}", received_on=dt.date(2025, 6, 1),
                amount=Decimal("125.00"), currency="GBP",
            )  # fmt: skip
            t = time.perf_counter()
            donation_post(donation=draft, by=None)
            elapsed = (time.perf_counter() - t) * 1000
            raise RolledBack(elapsed)
    except RolledBack as done:
        return done.args[0]


def database_use(name: str) -> None:
    """Point the default connection at another database of the same server (closed, reopened on use)."""
    connection.close()
    connection.settings_dict["NAME"] = name


def leadership_client() -> Client:
    user, _ = get_user_model().objects.get_or_create(username="bench-leadership", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name="Leadership"))
    client = Client()
    client.force_login(user)  # the session lives in this database
    return client


def main():
    emit("load_average_1m", os.getloadavg()[0], "load")
    url = f"/dashboard/?{PERIOD}"
    large = connection.settings_dict["NAME"]
    ledgers = {}  # database name -> (client, samples)
    if SMALL_URL:
        small = SMALL_URL.split("?", 1)[0].rsplit("/", 1)[1]
        database_use(small)
        ledger_ready(DONORS, SMALL_DONATIONS)
        ledgers[small] = (leadership_client(), [])
        database_use(large)
    ledger_ready(DONORS, DONATIONS)
    ledgers[large] = (leadership_client(), [])

    client = ledgers[large][0]
    assert client.get(url).status_code == 200  # warm up
    executed = []  # an execute wrapper, as the request's end closes the connection (and its query log)
    with connection.execute_wrapper(lambda execute, sql, *args: executed.append(sql) or execute(sql, *args)):
        client.get(url)
    for _ in range(ROUNDS):
        for name, (client, samples) in ledgers.items():
            database_use(name)
            assert client.get(url).status_code == 200  # the new connection, untimed
            for _ in range(max(1, REPEAT // ROUNDS)):
                t = time.perf_counter()
                response = client.get(url)
                samples.append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200
    database_use(large)
    samples = ledgers[large][1]
    emit("dashboard_queries", len(executed), "queries")
    emit("dashboard_median", round(statistics.median(samples), 1), "ms")
    emit("dashboard_p95", round(p95(samples), 1), "ms")
    if SMALL_URL:
        small_samples = ledgers[small][1]
        emit(f"dashboard_median_{SMALL_DONATIONS}_donations", round(statistics.median(small_samples), 1), "ms")
        emit(f"dashboard_p95_{SMALL_DONATIONS}_donations", round(p95(small_samples), 1), "ms")
        emit(
            f"dashboard_p95_ratio_{DONATIONS}_to_{SMALL_DONATIONS}",
            round(p95(samples) / p95(small_samples), 2),
            "ratio",
        )

    period = parse_qs(PERIOD)
    start, end = (dt.date.fromisoformat(period[key][0]) for key in ("start", "end"))
    in_period = Donation.objects.posted().filter(received_on__gte=start, received_on__lte=end)
    samples = timed(lambda: list(in_period.values("donor").annotate(t=Sum("base_amount")).order_by()), REPEAT)
    emit("ledger_period_pass_median", round(statistics.median(samples), 1), "ms")
    donor = Donor.objects.order_by("pk").first()
    samples = [post_one(donor, n) for n in range(REPEAT)]
    emit("donation_post_median", round(statistics.median(samples), 1), "ms")
    emit("load_average_1m_end", os.getloadavg()[0], "load")


if __name__ == "__main__":
    main()
