"""Where one donor summary's time goes, piece by piece, in one process (no Celery), on the delivery bench's ledger.

    BENCH_DATABASE_URL=postgres://…/wt_deliver_bench BENCH_PIECES=80 python bench/_delivery_pieces.py

Run it after bench/delivery.py, on the database that left (it reuses its donors and contacts).
For BENCH_PIECES of the period's donors it makes a fresh run and its deliveries, then does what
`summary_prepare` does (generate, then send each pending delivery, with the run in hand where the
code takes it) and prints
milliseconds per report for each piece, and the queries per report and their time by piece. The
pieces are timed by wrapping the functions in place, so the code measured is the code that runs.
Emails go to an aiosmtpd sink in this process. Not run by bench/run.py (it needs that database).
"""

import datetime as dt
import inspect
import os
import socket
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(
    DJANGO_SETTINGS_MODULE="backoffice.settings", DEBUG="0", SECRET_KEY="bench-only-key-not-a-secret",
    DATABASE_URL=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/wt_delivery_bench"),
    PRIVATE_STORAGE_ROOT=os.environ.get("BENCH_DIR", "/tmp/fundtrace-delivery-pieces"),
)  # fmt: skip
N = int(os.environ.get("BENCH_PIECES", "80"))
START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
times, query_ms, query_n = defaultdict(float), defaultdict(float), defaultdict(int)
current = ["other"]


def timed(owner, name, label=None):
    """Replace owner.name with a wrapper that adds its time (and its queries') to `label`."""
    fn = getattr(owner, name)
    label = label or name

    def wrapper(*args, **kwargs):
        outer, current[0] = current[0], label
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            times[label] += time.perf_counter() - t
            current[0] = outer

    setattr(owner, name, wrapper)


def count_query(execute, sql, params, many, context):
    t = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        query_ms[current[0]] += time.perf_counter() - t
        query_n[current[0]] += 1


def main():
    import django

    django.setup()
    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.db import connection
    from django.db.models.fields.files import FieldFile

    from delivery import services as delivery
    from delivery.models import Delivery
    from reports import services as reports
    from reports.models import ReportRun

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    smtp = Controller(Sink(), hostname="127.0.0.1", port=port)
    smtp.start()
    settings.EMAIL_BACKEND = delivery.SMTP_BACKEND
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False

    for name in ("snapshot_build", "snapshot_sha256", "render"):
        timed(reports, name)
    for name in ("delivery_claim", "delivery_message", "message_send", "_finish", "deliveries_pending"):
        timed(delivery, name)
    timed(FieldFile, "save", "pdf_storage_save")
    timed(ReportRun, "save", "run_save")

    # The code before summary_prepare sent with the run in hand had no `run` argument (a task per email).
    takes_run = "run" in inspect.signature(delivery.delivery_send).parameters

    def in_hand(run):
        return {"run": run} if takes_run else {}

    done = ReportRun.objects.filter(kind="donor_summary", period_start=START, period_end=END, status="done")
    samples = list(done.order_by("pk").values_list("pk", "donor_id")[:N])
    totals = defaultdict(float)
    with connection.execute_wrapper(count_query):
        for old_run, donor_id in samples:
            current[0] = "set-up (not counted)"
            [run] = ReportRun.objects.bulk_create(  # not through save(), which is timed
                [ReportRun(kind="donor_summary", donor_id=donor_id, period_start=START, period_end=END, external=False)]
            )
            for contact_id, email in Delivery.objects.filter(run_id=old_run).values_list("contact_id", "email"):
                Delivery.objects.create(
                    run=run, contact_id=contact_id, email=email, message_id=delivery.message_id_new()
                )
            current[0] = "generate (rest)"
            t = time.perf_counter()
            run = reports.report_run_generate(run_id=run.pk)
            totals["generate"] += time.perf_counter() - t
            current[0] = "send (rest)"
            t = time.perf_counter()
            for delivery_id in delivery.deliveries_pending(run.pk):
                delivery.delivery_send(delivery_id=delivery_id, **in_hand(run))
            totals["send"] += time.perf_counter() - t
            for label, seconds in list(times.items()):
                totals[label] += seconds
            times.clear()
    smtp.stop()
    n = len(samples)
    print(f"{n} reports, load average {os.getloadavg()[0]:.2f}")
    for label in ("generate", "send"):
        print(f"{label:24s} {1000 * totals.pop(label) / n:7.2f} ms/report")
    for label, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {label:22s} {1000 * seconds / n:7.2f} ms/report")
    query_n.pop("set-up (not counted)", None)
    query_ms.pop("set-up (not counted)", None)
    print(f"queries: {sum(query_n.values()) / n:.1f} per report, {1000 * sum(query_ms.values()) / n:.2f} ms")
    for label, seconds in sorted(query_ms.items(), key=lambda kv: -kv[1]):
        print(f"  {label:22s} {1000 * seconds / n:7.2f} ms  {query_n[label] / n:4.1f} queries")


if __name__ == "__main__":
    main()
