"""Large admin imports, on a Celery worker: check the file, wait for a user's go-ahead, import.

A job moves queued → checking → checked (or refused) → confirmed → importing → done (or
refused, when the database changed since the check, or failed). Each move that starts work is
a conditional update, so a task delivered twice, or a second click, does the work once. The
import itself is `transfers.engine.import_run`, the same as the command line's: all or
nothing, every rule. Progress is written on a connection of its own, so the page shows it while
the import's transaction is still open.
"""

import datetime as dt
import logging
import threading
import time
import uuid
from pathlib import PurePath

from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from .engine import Outcome, RowError, import_run
from .files import FileRejected, open_table
from .models import ImportJob
from .registry import KINDS

logger = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 1.0


class ImportJobError(Exception):
    """The job is not in a state for this; the message says why."""


def kind_of(importer_class) -> str:
    """The command-line name of an importer's kind ('donations' for DonationImporter)."""
    return next(name for name, cls in KINDS.items() if cls is importer_class)


@transaction.atomic
def import_job_create(*, kind: str, upload, user) -> ImportJob:
    """Keep the uploaded file in private storage and queue its check."""
    if kind not in KINDS:
        raise ImportJobError(f"There is no kind of file {kind!r}.")
    name = PurePath(upload.name).name
    job = ImportJob(kind=kind, file_name=name, file_size=upload.size, requested_by=user)
    job.file.save(f"{uuid.uuid4().hex}{PurePath(name).suffix.lower()}", upload, save=False)
    job.save()
    from .tasks import import_job_check

    transaction.on_commit(lambda: import_job_check.delay(job.pk))
    return job


@transaction.atomic
def import_job_confirm(*, job: ImportJob, user) -> ImportJob:
    """The user's go-ahead for a checked file: queue the import, once."""
    confirmed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.CHECKED).update(
        status=ImportJob.Status.CONFIRMED,
        confirmed_by=user,
        started_at=timezone.now(),  # waiting since
    )
    if not confirmed:
        job.refresh_from_db()
        raise ImportJobError(f"This file is not waiting to be imported (it is {job.get_status_display().lower()}).")
    from .tasks import import_job_import

    transaction.on_commit(lambda: import_job_import.delay(job.pk))
    job.refresh_from_db()
    return job


def import_job_run(job_id: int, *, check: bool) -> ImportJob:
    """Check (a dry run) or import the job's file. Does nothing unless the job is waiting for it."""
    waiting, working = (
        (ImportJob.Status.QUEUED, ImportJob.Status.CHECKING)
        if check
        else (ImportJob.Status.CONFIRMED, ImportJob.Status.IMPORTING)
    )
    claimed = ImportJob.objects.filter(pk=job_id, status=waiting).update(
        status=working, rows_read=0, percent=0, started_at=timezone.now()
    )
    if not claimed:
        return ImportJob.objects.get(pk=job_id)
    job = ImportJob.objects.select_related("requested_by", "confirmed_by").get(pk=job_id)
    user = job.requested_by if check else job.confirmed_by
    importer = KINDS[job.kind](user=user, file_name=job.file_name)
    statuses: list[dict] = []

    def report(line, key, status):
        if len(statuses) < ImportJob.KEPT_ROWS:
            statuses.append({"line": line, "key": key, "status": status})

    try:
        # The rows and the job's outcome commit together: a worker that dies in between leaves
        # neither, never rows imported under a job still "importing".
        with transaction.atomic(), job.file.open("rb") as stream:
            try:
                outcome = import_run(
                    importer,
                    open_table(stream, job.file_name),
                    dry_run=check,
                    report=report,
                    progress=_Progress(job, stream),
                )
            except FileRejected as error:
                outcome = Outcome(kind=importer.kind, dry_run=check)
                outcome.add_error(RowError(0, "", str(error)))  # about the whole file
            _record(job, outcome, statuses, check=check)
    except Exception as error:  # a bug or an outage, not the file: keep the job, say what happened
        logger.exception("Import job %s failed", job_id)
        job.status = ImportJob.Status.FAILED
        job.failure = f"{error.__class__.__name__}: {error}"
        job.finished_at = timezone.now()
        job.save()
        return job
    return job


def import_jobs_fail_stuck(*, older_than: dt.timedelta, jobs=None) -> int:
    """Mark failed the jobs still working, or waiting for a worker, after `older_than`: a worker
    died or the broker lost the task. Nothing of them was written (an import is one
    transaction, its outcome included); the file can be uploaded again."""
    cutoff = timezone.now() - older_than
    jobs = ImportJob.objects.all() if jobs is None else jobs
    stuck = jobs.filter(status__in=ImportJob.RUNNING).filter(
        Q(started_at__lt=cutoff) | Q(started_at__isnull=True, created_at__lt=cutoff)
    )
    return stuck.update(
        status=ImportJob.Status.FAILED,
        failure=f"No worker finished this job within {older_than}; nothing was imported. Upload the file again.",
        finished_at=timezone.now(),
    )


def _record(job: ImportJob, outcome: Outcome, statuses: list[dict], *, check: bool) -> None:
    now = timezone.now()
    job.rows, job.new, job.unchanged = outcome.rows, outcome.new, outcome.unchanged
    job.rows_read, job.percent = outcome.rows, 100
    job.error_count = outcome.error_count
    job.errors = [
        {"line": e.line, "column": e.column, "message": e.message} for e in outcome.errors[: ImportJob.KEPT_ERRORS]
    ]
    job.row_statuses = statuses if outcome.ok else []
    job.notes = [outcome.summary(), *(outcome.notes if outcome.ok else [])]
    if not outcome.ok:
        job.status = ImportJob.Status.REFUSED
    elif check:
        job.status = ImportJob.Status.CHECKED
    else:
        job.status = ImportJob.Status.DONE
    if check:
        job.checked_at = now
    if job.status != ImportJob.Status.CHECKED:
        job.finished_at = now
    job.save()


class _Progress:
    """Writes rows read and the share of the file read, at most once a second.

    The import runs in one transaction; an update made in it would show only at its end. So the
    update is made on a connection of its own (a short-lived thread's), which commits at once.
    """

    def __init__(self, job: ImportJob, stream):
        self.job_id = job.pk
        self.stream = stream
        self.size = max(job.file_size, 1)
        self.last = 0.0

    def __call__(self, outcome: Outcome) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.last = now
        try:
            percent = min(99, self.stream.tell() * 100 // self.size)
        except (OSError, ValueError):
            percent = 0
        write_apart(self.job_id, rows_read=outcome.rows, percent=percent)


def write_apart(job_id: int, **fields) -> None:
    """Update the job on another connection, committed at once whatever this one is doing."""

    def update():
        try:
            ImportJob.objects.filter(pk=job_id).update(**fields)
        finally:
            connections.close_all()  # this thread's connections only

    thread = threading.Thread(target=update)
    thread.start()
    thread.join()
