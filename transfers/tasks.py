import datetime as dt

from celery import shared_task
from django.conf import settings

from . import jobs

LIMITS = {
    "soft_time_limit": settings.IMPORT_TASK_SOFT_TIME_LIMIT,
    "time_limit": settings.IMPORT_TASK_TIME_LIMIT,
}


# Both are safe to run twice: a job moves from waiting to working with a conditional update,
# and an import is all or nothing, so a task that dies mid-way leaves nothing to undo.
@shared_task(acks_late=True, **LIMITS)
def import_job_check(job_id: int) -> str:
    return jobs.import_job_run(job_id, check=True).status


@shared_task(acks_late=True, **LIMITS)
def import_job_import(job_id: int) -> str:
    return jobs.import_job_run(job_id, check=False).status


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def import_jobs_fail_stuck() -> int:
    """Every 15 minutes (beat): jobs working or waiting longer than the import task's hard time
    limit can no longer finish; mark them failed. Safe to run twice."""
    return jobs.import_jobs_fail_stuck(older_than=dt.timedelta(seconds=LIMITS["time_limit"]))


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def import_uploads_delete_abandoned() -> int:
    """Every hour (beat): uploads checked but not confirmed within a day, and any an ended or
    uncommitted job left, are deleted. Safe to run twice."""
    return jobs.import_uploads_delete_abandoned()
