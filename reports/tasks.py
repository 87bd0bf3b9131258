from celery import shared_task

from . import services


@shared_task(acks_late=True)
def report_run_generate(run_id: int) -> str:
    """Generate a report run by primary key; safe to run twice (a done run is left alone)."""
    return services.report_run_generate(run_id=run_id).status
