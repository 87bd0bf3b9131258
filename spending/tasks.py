import datetime as dt

from celery import shared_task

from . import audit_pack

LIMITS = {"soft_time_limit": 300, "time_limit": 360}
# A pack still being made this long after its claim has no worker left to finish it.
STUCK_AFTER = dt.timedelta(seconds=LIMITS["time_limit"])


@shared_task(acks_late=True, **LIMITS)
def audit_pack_make(pack_id: int) -> str:
    """Make an audit pack's ZIP by primary key; safe to run twice."""
    return audit_pack.audit_pack_make(pack_id=pack_id).status


@shared_task
def audit_packs_fail_stuck() -> int:
    """Every quarter of an hour (beat): fail the packs whose worker died while making them."""
    return audit_pack.audit_packs_fail_stuck(older_than=STUCK_AFTER)
