from celery import shared_task

from . import subject_access


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def subject_access_make(request_id: int) -> str:
    """Make a subject access request's ZIP by primary key; safe to run twice."""
    return subject_access.subject_access_make(request_id=request_id).status
