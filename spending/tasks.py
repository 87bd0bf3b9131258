from celery import shared_task

from . import audit_pack


@shared_task(acks_late=True, soft_time_limit=300, time_limit=360)
def audit_pack_make(pack_id: int) -> str:
    """Make an audit pack's ZIP by primary key; safe to run twice."""
    return audit_pack.audit_pack_make(pack_id=pack_id).status
