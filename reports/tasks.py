import datetime as dt

from celery import shared_task
from django.conf import settings

from . import services

# The time limits of every task that generates runs (this one and delivery's summary_prepare).
# A run still running after the hard limit can no longer finish: its worker was killed or died.
LIMITS = {"soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT, "time_limit": settings.CELERY_TASK_TIME_LIMIT}
STUCK_AFTER = dt.timedelta(seconds=LIMITS["time_limit"])


@shared_task(acks_late=True, **LIMITS)
def report_run_generate(run_id: int) -> str:
    """Generate a report run by primary key; safe to run twice (a done run is left alone)."""
    return services.report_run_generate(run_id=run_id).status


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def report_runs_fail_stuck() -> int:
    """Every 15 minutes (beat): runs still running past the generation tasks' hard time limit are
    failed, so the reports page says so and the next mailing (or "Make again") makes them."""
    return services.report_runs_fail_stuck(older_than=STUCK_AFTER)
