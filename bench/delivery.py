"""Delivery benchmark: generate and email donor summaries on 2 Celery worker processes (Redis, PostgreSQL).

    BENCH_DONORS=1000 python bench/delivery.py

Prints JSON lines {"name", "value", "unit"}: delivered reports per second end to end (request →
PDF generated on a worker → emailed to a local aiosmtpd sink), the bare render rate of 2
processes rendering the same snapshots (the floor), and their ratio. Needs PostgreSQL
(BENCH_DATABASE_URL; the database is dropped and created) and Redis (BENCH_BROKER_URL).
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


def render_many(snapshots):
    from reports.renderers import render

    for snapshot in snapshots:
        render(snapshot)
    return len(snapshots)


def main():
    WORK.mkdir(parents=True, exist_ok=True)
    database_recreate()
    import django

    django.setup()
    from aiosmtpd.controller import Controller
    from django.core.management import call_command

    from backoffice.celery import app
    from delivery.models import Delivery
    from delivery.services import summaries_request
    from donors.models import Contact, Donation, Donor
    from donors.services import donation_post
    from reports.models import ReportRun

    call_command("migrate", verbosity=0)
    t = time.perf_counter()
    for n in range(DONORS):
        donor = Donor.objects.create(
            ref=f"DON-{n + 1:05d}", name=f"Bench donor {n}", kind="foundation", country="GB", preferred_currency="GBP"
        )
        Contact.objects.create(donor=donor, name=f"Contact {n}", email=f"c{n}@example.org", receives_reports=True)
        for month in (2, 6, 10):
            gift = Donation.objects.create(
                reference=f"B-{n}-{month}", donor=donor, received_on=dt.date(2025, month, 3),
                amount=Decimal("250.00") + n, currency="GBP",
            )  # fmt: skip
            donation_post(donation=gift, by=None)
    emit("seed_seconds", round(time.perf_counter() - t, 1), "s")

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
        t = time.perf_counter()
        summaries_request(start=START, end=END)  # commits: enqueues one summary_prepare per donor
        emit("request_seconds", round(time.perf_counter() - t, 2), "s")
        deadline = t + 3600
        while time.perf_counter() < deadline:
            # Finished: sent, failed, or waiting on a run that failed to generate (counted below).
            finished = Delivery.objects.filter(status__in=["sent", "failed"]).count()
            finished += Delivery.objects.filter(status="pending", run__status="failed").count()
            if finished >= DONORS:
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - t
    finally:
        worker.terminate()
        worker.wait(60)
        smtp.stop()
    sent = Delivery.objects.filter(status="sent").count()
    emit("donors", DONORS, "donors")
    emit("delivered", sent, "emails")
    emit("smtp_sink_received", sink.count, "emails")
    emit("failed", Delivery.objects.filter(status="failed").count(), "emails")
    emit("runs_failed", ReportRun.objects.filter(status="failed").count(), "runs")
    delivered_rate = sent / elapsed
    emit("delivery_end_to_end_rate_2_workers", round(delivered_rate, 2), "reports/s")

    snapshots = list(ReportRun.objects.filter(status="done").order_by("pk").values_list("snapshot", flat=True))
    halves = [snapshots[0::2], snapshots[1::2]]
    from django.db import connections

    connections.close_all()
    t = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        rendered = sum(pool.map(render_many, halves))
    render_rate = rendered / (time.perf_counter() - t)
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
