"""Delivery benchmark: generate and email donor summaries on 2 Celery worker processes (Redis, PostgreSQL).

    BENCH_DONORS=1000 python bench/delivery.py

Prints JSON lines {"name", "value", "unit"}: delivered reports per second end to end (request →
PDF generated on a worker → emailed to a local aiosmtpd sink), the bare render rate of 2
processes rendering the same snapshots (the floor), their ratio, and what the delivered
documents hold on average (donations, outputs, co-funder rows, indicators...): every donor has
a pledge with instalments, payments in 2025 and allocations to co-funded outputs (`ledger_seed`).
First the same on a ledger of a quarter as many donors (BENCH_DONORS_SMALL), for the time per
report as the number of donors grows.
Needs PostgreSQL (BENCH_DATABASE_URL; the database is dropped and created) and Redis (BENCH_BROKER_URL).
"""

import datetime as dt
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DONORS = int(os.environ.get("BENCH_DONORS", "200"))
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/wt_delivery_bench")
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
WORK = Path(os.environ.get("BENCH_DIR", Path(tempfile.gettempdir()) / "fundtrace-delivery-bench"))
START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)

os.environ.update(
    DJANGO_SETTINGS_MODULE="backoffice.settings",
    DEBUG="0",  # as workers run in production: cached templates, no query log
    SECRET_KEY="bench-only-key-not-a-secret",
    DATABASE_URL=DB_URL,
    CELERY_BROKER_URL=BROKER,
    PRIVATE_STORAGE_ROOT=str(WORK / "private"),
)


def emit(name, value, unit):
    print(json.dumps({"name": name, "value": value, "unit": unit}), flush=True)


def database_recreate():
    import psycopg

    name = DB_URL.rsplit("/", 1)[1]
    with psycopg.connect(DB_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # a killed earlier run may hold a session
        conn.execute(f'CREATE DATABASE "{name}"')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def ledger_seed(donors: int):
    """A ledger in which every donor's 2025 summary is a real one, as finance would send it.

    `seed_demo` makes the donors (each with a grants officer who receives reports), the named
    donors' pledges, payments and allocations, the programmes, outputs with indicators, and
    one-off gifts. Its generated supporters have no pledge and nothing allocated, so each of them
    gets here what a named donor has: a multi-year pledge in its own currency with instalments,
    the payments of those that fell due by the end of 2025 (posted with the demo's rate rule),
    each payment allocated to one to three outputs (co-funded with the other donors), and the
    pledge's reporting obligations.
    """
    import random

    from dateutil.relativedelta import relativedelta
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from backoffice.money import money_round, split_largest_remainder
    from donors.models import Donation, Donor, Instalment, Pledge
    from donors.rates import RateBook
    from grants.management.commands.seed_demo import Command as SeedDemo
    from grants.models import Allocation, Output
    from grants.services import obligations_generate

    call_command("seed_demo", "--demo-users", donors=donors, donations=2 * donors, verbosity=0)
    rng = random.Random(2026)
    seed = SeedDemo()
    seed.book, seed.now = RateBook(), timezone.now()
    seed.admin = get_user_model().objects.get(username="admin")
    seed.donor_ids = dict(Donor.objects.values_list("ref", "id"))
    outputs = list(
        Output.objects.exclude(status__in=["cancelled", "planned"]).order_by("pk").values_list("pk", flat=True)
    )
    with transaction.atomic():
        pledges, schedules = [], {}
        for ref, currency in (
            Donor.objects.filter(pledges__isnull=True).order_by("ref").values_list("ref", "preferred_currency")
        ):
            start = dt.date(rng.choice((2024, 2025)), rng.choice((1, 4, 7)), 1)  # instalments fall due in 2025
            years, per_year = rng.choice((2, 3, 4)), rng.choice((1, 2, 4))
            rate = seed.book.lookup(currency, start)[0]
            total = money_round(Decimal(rng.randint(20_000, 400_000)) / rate).quantize(Decimal("1"))
            pledge_ref = f"PLG-B{ref[4:]}"
            pledges.append(
                Pledge(
                    ref=pledge_ref, donor_id=seed.donor_ids[ref], title=f"Programme support from {start.year}",
                    total=total, currency=currency, start_date=start,
                    end_date=start + relativedelta(years=years, days=-1), agreement_ref=f"AGR-B{ref[4:]}",
                    created_at=seed.now,
                )
            )  # fmt: skip
            step = relativedelta(months=12 // per_year)
            amounts = split_largest_remainder(total, [Decimal(1)] * (years * per_year), currency)
            schedules[pledge_ref] = (ref, currency, [(start + step * k, a) for k, a in enumerate(amounts)])
        Pledge.objects.bulk_create(pledges, batch_size=2000)
        pledge_ids = dict(Pledge.objects.filter(ref__in=schedules).values_list("ref", "id"))
        Instalment.objects.bulk_create(
            [Instalment(pledge_id=pledge_ids[p], due_date=due, amount=a) for p, (_, _, rows) in schedules.items()
             for due, a in rows],
            batch_size=5000,
        )  # fmt: skip
        gifts = [
            (f"INS-{p}-{k + 1:02d}", ref, p, due + dt.timedelta(days=rng.randint(0, 30)), amount, currency)
            for p, (ref, currency, rows) in schedules.items()
            for k, (due, amount) in enumerate(rows)
            if due <= END - dt.timedelta(days=30)
        ]
        seed.post_gifts(gifts, pledge_ids)
        allocations = []
        for donation_id, donor_id, base, received_on in Donation.objects.filter(
            reference__startswith="INS-PLG-B", allocations__isnull=True
        ).values_list("pk", "donor_id", "base_amount", "received_on"):
            funded = random.Random(donor_id).sample(outputs, 4)  # a donor funds a few outputs, year after year
            parts = rng.randint(1, 3)
            for output_id, amount in zip(
                funded[:parts], split_largest_remainder(money_round(base * Decimal("0.8")), [1] * parts), strict=True
            ):
                allocations.append(
                    Allocation(donation_id=donation_id, output_id=output_id, amount=amount, allocated_on=received_on,
                               note="Bench", by=seed.admin)
                )  # fmt: skip
        Allocation.objects.bulk_create(allocations, batch_size=5000)
        for pledge in Pledge.objects.filter(ref__in=schedules):
            obligations_generate(pledge=pledge, days_after=60)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # a freshly loaded database has no statistics; autovacuum would be late


def documents_describe(snapshots):
    """What the delivered documents hold on average, so the workload can be judged."""
    n = max(len(snapshots), 1)
    for key in ("donations", "outputs", "pledges", "instalments", "obligations"):
        emit(f"document_{key}_mean", round(sum(len(s[key]) for s in snapshots) / n, 1), "rows")
    emit(
        "document_indicators_mean", round(sum(len(o["indicators"]) for s in snapshots for o in s["outputs"]) / n, 1),
        "rows",
    )  # fmt: skip
    emit(
        "document_co_funder_rows_mean",
        round(sum(len(o["co_funders"]) for s in snapshots for o in s["outputs"]) / n, 1), "rows",
    )  # fmt: skip
    emit("documents_with_pledge_outputs_and_donations",
         sum(bool(s["pledges"] and s["outputs"] and s["donations"]) for s in snapshots), "documents")  # fmt: skip


def cpu_seconds(pid: int, *, reaped_children: bool = True) -> float:
    """User + system CPU seconds a process has used (Linux /proc), with by default those of its
    children that have exited and been waited for: PostgreSQL backends whose connection closed,
    pool processes that were replaced. Live children are not included; count them on their own."""
    with open(f"/proc/{pid}/stat") as f:
        fields = [int(v) for v in f.read().rsplit(")", 1)[1].split()[11:15]]  # utime stime cutime cstime
    return sum(fields if reaped_children else fields[:2]) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    pids, i = [pid], 0
    while i < len(pids):
        try:
            with open(f"/proc/{pids[i]}/task/{pids[i]}/children") as f:
                pids += [int(c) for c in f.read().split()]
        except OSError:
            pass
        i += 1
    return pids


def cpu_by_role(worker_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the Celery worker (main process and pool), PostgreSQL (every
    backend of the server, other databases' too, and those that have exited since the server
    started), Redis, and this process (the SMTP sink's thread, and the polling)."""
    # This process's own CPU only: the worker is its child, counted under "workers".
    roles = {
        "workers": 0.0,
        "postgresql": 0.0,
        "redis": 0.0,
        "sink_and_bench": cpu_seconds(os.getpid(), reaped_children=False),
    }
    for pid in process_tree(worker_pid):
        try:
            roles["workers"] += cpu_seconds(pid)
        except OSError:
            pass
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                name = f.read().strip()
            if name in ("postgres", "redis-server"):
                roles["postgresql" if name == "postgres" else "redis"] += cpu_seconds(int(entry))
        except OSError:
            pass
    return roles


def render_many(snapshots):
    from reports.renderers import render

    cpu = time.process_time()
    for snapshot in snapshots:
        render(snapshot)
    return len(snapshots), time.process_time() - cpu


def deliver(donors: int) -> dict:
    """On a new ledger of `donors` donors (`ledger_seed`), request every 2025 summary and wait until
    each delivery is sent or failed, on 2 worker processes. Returns what was measured."""
    from aiosmtpd.controller import Controller
    from django.core.management import call_command
    from django.db import connections

    from backoffice.celery import app
    from delivery.models import Delivery
    from delivery.services import summaries_request
    from reports.models import ReportRun

    connections.close_all()
    database_recreate()
    call_command("migrate", verbosity=0)
    t = time.perf_counter()
    ledger_seed(donors)
    seed_seconds = time.perf_counter() - t

    sink = Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    app.control.purge()
    env = dict(os.environ, EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}", LOG_LEVEL="ERROR")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "backoffice", "worker", "-c", "2", "--loglevel", "ERROR"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        time.sleep(5)  # let both worker processes boot before the clock starts
        cpu_before = cpu_by_role(worker.pid)
        t = time.perf_counter()
        run_ids = summaries_request(start=START, end=END)  # commits: enqueues one summary_prepare per donor
        request_seconds = time.perf_counter() - t
        expected = Delivery.objects.count()
        deadline = t + 3600
        while time.perf_counter() < deadline:
            # Finished: sent, failed, or waiting on a run that failed to generate (counted below).
            finished = Delivery.objects.filter(status__in=["sent", "failed"]).count()
            finished += Delivery.objects.filter(status="pending", run__status="failed").count()
            if finished >= expected:
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - t
        cpu_after = cpu_by_role(worker.pid)
    finally:
        worker.terminate()
        worker.wait(60)
        smtp.stop()
    return {
        "seed_seconds": seed_seconds,
        "request_seconds": request_seconds,
        "runs": len(run_ids),
        "sent": Delivery.objects.filter(status="sent").count(),
        "failed": Delivery.objects.filter(status="failed").count(),
        "runs_failed": ReportRun.objects.filter(status="failed").count(),
        "sink_received": sink.count,
        "elapsed": elapsed,
        "cpu": {role: seconds - cpu_before[role] for role, seconds in cpu_after.items()},
    }


def main():
    WORK.mkdir(parents=True, exist_ok=True)
    import django

    django.setup()
    from delivery.models import Delivery
    from reports.models import ReportRun

    # Time per report as the number of donors grows: first a ledger of a quarter the size
    # (BENCH_DONORS_SMALL; 0 skips it), each run on a ledger of its own.
    small = int(os.environ.get("BENCH_DONORS_SMALL", DONORS // 4))
    per_report_small = None
    if 0 < small < DONORS:
        measured = deliver(small)
        per_report_small = 1000 * measured["elapsed"] / max(measured["sent"], 1)
        emit(f"delivered_{small}_donors", measured["sent"], "emails")
        emit(f"delivery_ms_per_report_{small}_donors", round(per_report_small, 2), "ms")

    measured = deliver(DONORS)
    emit("seed_seconds", round(measured["seed_seconds"], 1), "s")
    emit("request_seconds", round(measured["request_seconds"], 2), "s")
    sent, elapsed, run_ids = measured["sent"], measured["elapsed"], range(measured["runs"])
    emit("donors", DONORS, "donors")
    emit("donors_with_a_gift_in_2025", len(run_ids), "runs")
    emit("delivered", sent, "emails")
    emit("smtp_sink_received", measured["sink_received"], "emails")
    emit("failed", measured["failed"], "emails")
    emit("runs_failed", measured["runs_failed"], "runs")
    per_report = 1000 * elapsed / max(sent, 1)
    emit(f"delivery_ms_per_report_{DONORS}_donors", round(per_report, 2), "ms")
    if per_report_small:
        emit(
            f"delivery_ms_per_report_growth_{small}_to_{DONORS}_donors",
            round(per_report / per_report_small, 3),
            "ratio",
        )
    delivered_rate = sent / elapsed
    # Where the machine's CPU went, per delivered report: the budget the bare render is compared with.
    for role, seconds in measured["cpu"].items():
        emit(f"cpu_ms_per_report_{role}", round(1000 * seconds / max(sent, 1), 1), "ms")
    emit("delivery_end_to_end_rate_2_workers", round(delivered_rate, 2), "reports/s")

    snapshots = list(ReportRun.objects.filter(status="done").order_by("pk").values_list("snapshot", flat=True))
    documents_describe(snapshots)
    sizes = [run.pdf.size for run in ReportRun.objects.filter(status="done").only("pdf")]
    emit("document_pdf_kib_mean", round(sum(sizes) / max(len(sizes), 1) / 1024, 1), "KiB")
    halves = [snapshots[0::2], snapshots[1::2]]
    from django.db import connections

    connections.close_all()
    t = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        counts, cpu = zip(*pool.map(render_many, halves), strict=True)
    rendered = sum(counts)
    render_rate = rendered / (time.perf_counter() - t)
    emit("bare_render_cpu_ms_per_report", round(1000 * sum(cpu) / max(rendered, 1), 1), "ms")
    emit("bare_render_rate_2_processes", round(render_rate, 2), "reports/s")
    emit("delivery_to_render_ratio", round(delivered_rate / render_rate, 3), "ratio")
    # Where a worker's time goes: generation (figures, snapshot, render, storage) and sending, per report.
    runs = ReportRun.objects.filter(status="done").values_list("started_at", "finished_at")
    generate_ms = [(b - a).total_seconds() * 1000 for a, b in runs]
    sends = Delivery.objects.filter(status="sent").values_list("sending_since", "sent_at")
    send_ms = [(b - a).total_seconds() * 1000 for a, b in sends]
    emit("generate_median_ms", round(statistics.median(generate_ms), 1), "ms")
    emit("send_median_ms", round(statistics.median(send_ms), 1), "ms")
    print(
        json.dumps(
            {
                "donors": DONORS,
                "reports_per_s": round(delivered_rate, 2),
                "bare_reports_per_s": round(render_rate, 2),
                "ratio": round(delivered_rate / render_rate, 3),
                "ms_per_report": round(elapsed * 1000 / max(sent, 1), 1),
                "worker_ms_per_report": round(2 * elapsed * 1000 / max(sent, 1), 1),
                "load_average_1m": os.getloadavg()[0],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
