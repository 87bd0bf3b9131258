from celery import shared_task

from . import services


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def iati_export_make(export_id: int) -> str:
    """Make an IATI export's ZIP by primary key; safe to run twice."""
    return services.iati_export_make(export_id=export_id).status
