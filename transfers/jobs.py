"""Admin imports as jobs: check the file, wait for a user's go-ahead, import; large files on a
Celery worker, small ones in the request.

A job moves queued → checking → checked (or refused) → confirmed → importing → done (or
refused, when the database changed since the check, or failed); a checked job nobody confirms
within a day expires. Each move that starts work is a conditional update, so a task delivered
twice, or a second click, does the work once. The import itself is `transfers.engine.import_run`,
the same as the command line's: all or nothing, every rule. Progress is written on a connection
of its own, so the page shows it while the import's transaction is still open.

The uploaded file is kept in private storage under a random name, as the job's, until the job
ends; the admin's preview of a small file keeps it the same way (an ImportJob checked in the
request), and its go-ahead names that upload, which must be the user's own. Uploads nobody
imports are deleted after a day (`import_uploads_delete_abandoned`, a beat task).
"""

import datetime as dt
import io
import logging
import re
import threading
import time
import uuid
from pathlib import PurePath

from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from .engine import ImportInterrupted, Outcome, RowError, import_run
from .export import write_csv
from .files import FileRejected, open_table
from .models import ImportJob
from .registry import KINDS

logger = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 1.0
UPLOAD_KEPT = dt.timedelta(days=1)  # an upload nobody confirms is deleted after this
# The name import_job_create gives a kept upload: nothing else is ever looked up by name.
UPLOAD_NAME = re.compile(r"[0-9a-f]{32}\.(csv|xlsx)")


class ImportJobError(Exception):
    """The job is not in a state for this; the message says why."""


def kind_of(importer_class) -> str:
    """The command-line name of an importer's kind ('donations' for DonationImporter)."""
    return next(name for name, cls in KINDS.items() if cls is importer_class)


def importer_for(kind: str, *, user, file_name: str, confirm_duplicates: bool = False):
    """The kind's importer; `confirm_duplicates` (donor files only) imports likely duplicates of recorded donors."""
    options = {"confirm_duplicates": True} if confirm_duplicates else {}
    return KINDS[kind](user=user, file_name=file_name, **options)


@transaction.atomic
def import_job_create(
    *, kind: str, upload, user, checked: Outcome | None = None, confirm_duplicates: bool = False
) -> ImportJob:
    """Keep the uploaded file in private storage, under a random name, as `user`'s job, and queue
    its check. With `checked` (the admin's preview of a small file, checked in the request), record
    that outcome instead: a clean file's job waits for the user's go-ahead; a refused file's job
    keeps its errors, for the page and their download, and not the file."""
    if kind not in KINDS:
        raise ImportJobError(f"There is no kind of file {kind!r}.")
    name = PurePath(upload.name).name
    job = ImportJob(
        kind=kind, file_name=name, file_size=upload.size, requested_by=user, confirm_duplicates=confirm_duplicates
    )
    if checked is not None and not checked.ok:
        _record(job, checked, [], check=True)
        return job
    suffix = ".xlsx" if name.lower().endswith(".xlsx") else ".csv"  # the file is read by its bytes, not this
    job.file.save(f"{uuid.uuid4().hex}{suffix}", upload, save=False)
    if checked is not None:
        _record(job, checked, [], check=True)
        return job
    job.save()
    from .tasks import import_job_check

    transaction.on_commit(lambda: import_job_check.delay(job.pk))
    return job


@transaction.atomic
def import_job_confirm(*, job: ImportJob, user, queue: bool = True) -> ImportJob:
    """The user's go-ahead for a checked file: queue the import, once. With `queue` false the
    caller runs it (`import_job_run`)."""
    confirmed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.CHECKED).update(
        status=ImportJob.Status.CONFIRMED,
        confirmed_by=user,
        started_at=timezone.now(),  # waiting since
    )
    if not confirmed:
        job.refresh_from_db()
        raise ImportJobError(f"This file is not waiting to be imported (it is {job.get_status_display().lower()}).")
    if queue:
        from .tasks import import_job_import

        transaction.on_commit(lambda: import_job_import.delay(job.pk))
    job.refresh_from_db()
    return job


def import_job_take(*, upload_name: str, kind: str, user) -> ImportJob:
    """The go-ahead from the admin's preview page, which names the upload kept for the preview.
    Only `user`'s own checked upload of this kind is taken; any other name is refused, so no
    other file is ever read or deleted. The caller runs the import (`import_job_run`)."""
    job = None
    if UPLOAD_NAME.fullmatch(upload_name):
        job = ImportJob.objects.filter(kind=kind, requested_by=user, file__endswith=f"/{upload_name}").first()
    if job is None:
        raise ImportJobError(
            "This upload is not one of yours waiting to be imported; nothing was imported. Upload the file again."
        )
    return import_job_confirm(job=job, user=user, queue=False)


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
    importer = importer_for(job.kind, user=user, file_name=job.file_name, confirm_duplicates=job.confirm_duplicates)
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
    except ImportInterrupted as error:  # the database's doing, said in one line
        logger.warning("Import job %s stopped: %s", job_id, error)
        return _fail(job, str(error))
    except Exception as error:  # a bug or an outage, not the file: keep the job, say what happened
        logger.exception("Import job %s failed", job_id)
        return _fail(job, f"{error.__class__.__name__}: {error}")
    return job


ERRORS_HEADER = ["line", "column", "value", "message"]


def import_job_errors_csv(job: ImportJob) -> bytes:
    """The job's kept errors as CSV, in the page's order and columns; a value that a spreadsheet
    would run as a formula is escaped, as in every export."""
    out = io.BytesIO()
    rows = ([e["line"] or None, e["column"], e.get("value", ""), e["message"]] for e in job.errors)
    write_csv(ERRORS_HEADER, rows, out)
    return out.getvalue()


def _fail(job: ImportJob, failure: str) -> ImportJob:
    job.file = ImportJob.objects.values_list("file", flat=True).get(pk=job.pk)  # as the rollback left it
    job.status = ImportJob.Status.FAILED
    job.failure = failure
    job.finished_at = timezone.now()
    _upload_discard(job)
    job.save()
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


def import_uploads_delete_abandoned(*, older_than: dt.timedelta = UPLOAD_KEPT) -> int:
    """Delete the uploads nobody will import, and return how many: those of jobs checked but not
    confirmed within `older_than` (the jobs expire), of jobs that ended but still hold one, and
    files older than `older_than` that no job names (a job whose transaction never committed).
    Safe to run twice, and beside a go-ahead: a job expires only if it is still waiting."""
    now = timezone.now()
    ImportJob.objects.filter(status=ImportJob.Status.CHECKED, checked_at__lt=now - older_than).update(
        status=ImportJob.Status.EXPIRED,
        failure=f"Nobody confirmed the import within {older_than.total_seconds() / 3600:g} hours, so the file was "
        "deleted; nothing was imported. Upload it again.",
        finished_at=now,
    )
    storage = ImportJob._meta.get_field("file").storage
    deleted = 0
    ended = ImportJob.objects.exclude(status__in=(*ImportJob.RUNNING, ImportJob.Status.CHECKED)).exclude(file="")
    for pk, name in ended.values_list("pk", "file"):
        if ImportJob.objects.filter(pk=pk, file=name).update(file=""):
            storage.delete(name)
            deleted += 1
    for name in _stored_uploads(storage, ImportJob.UPLOAD_FOLDER):
        if storage.get_modified_time(name) < now - older_than and not ImportJob.objects.filter(file=name).exists():
            storage.delete(name)
            deleted += 1
    return deleted


def _stored_uploads(storage, folder: str):
    if not storage.exists(folder):
        return
    folders, files = storage.listdir(folder)
    for name in files:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from _stored_uploads(storage, f"{folder}/{sub}")


def _upload_discard(job: ImportJob) -> None:
    """The job has ended: its upload goes once that is committed (a rollback keeps both)."""
    name = job.file.name
    if name:
        storage = job.file.storage
        job.file = ""
        transaction.on_commit(lambda: storage.delete(name))


def _record(job: ImportJob, outcome: Outcome, statuses: list[dict], *, check: bool) -> None:
    now = timezone.now()
    job.rows, job.new, job.unchanged = outcome.rows, outcome.new, outcome.unchanged
    job.rows_read, job.percent = outcome.rows, 100
    job.error_count = outcome.error_count
    job.errors = [e.as_dict() for e in outcome.errors[: ImportJob.KEPT_ERRORS]]
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
        _upload_discard(job)
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
