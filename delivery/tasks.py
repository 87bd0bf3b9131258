"""Delivery tasks: primary keys in, short status strings out; no PDF bytes or personal data in messages.

A send that a later attempt can fix raises RetryableSendError, and Celery retries the task
(`autoretry_for`) after an exponential backoff with full jitter: retry n waits a random whole
number of seconds from 0 up to DELIVERY_RETRY_BASE_SECONDS·2^(n−1), at most
DELIVERY_RETRY_MAX_SECONDS. In process (no broker) there is no one to run a retry later, and
Celery would raise it to the caller (a web request, a command), so there the first failure is
final; the next mailing, or the resend action, tries again.
"""

import logging
import time

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from reports.models import ReportRun
from reports.services import report_run_generate
from reports.stale import runs_stale
from reports.tasks import LIMITS as GENERATION_LIMITS

from . import reminders, services
from .smtp_errors import RetryableSendError

logger = logging.getLogger(__name__)

RETRIED = {
    "autoretry_for": (RetryableSendError,),
    "retry_backoff": settings.DELIVERY_RETRY_BASE_SECONDS,
    "retry_backoff_max": settings.DELIVERY_RETRY_MAX_SECONDS,
    "retry_jitter": True,
}


@shared_task(bind=True, acks_late=True, max_retries=60, **GENERATION_LIMITS)
def summary_prepare(self, run_id: int) -> str:
    """Generate a donor summary run (if not done yet), then send its pending deliveries.

    They are sent here, one after the other, rather than as a task each: a summary goes to one
    or two contacts, and a task per email cost more than the email. Only for the first
    DELIVERY_INLINE_SEND_SECONDS of this task, so it stays well inside its time limit; the rest go
    out as `delivery_send` tasks. A send here is a delivery's first attempt: if it may be retried,
    a `delivery_send` task retries it after the backoff; one that raises goes to a `delivery_send` task too.

    Safe to run twice: generation claims the run, and each send claims its delivery, so a
    redelivered task (acks_late) sends only what is still pending.
    """
    started = time.monotonic()
    run = report_run_generate(run_id=run_id)
    if run.status == ReportRun.Status.RUNNING:
        # Another worker is generating it; come back for the deliveries once it is done.
        raise self.retry(countdown=settings.DELIVERY_GENERATION_POLL_SECONDS)
    if run.status != ReportRun.Status.DONE:
        return run.status
    if runs_stale([run]):  # made before a name it shows changed (a redelivered task, a late retry)
        services.deliveries_stale_hold(run_id)
        return "stale"
    may_retry = not self.request.is_eager and delivery_send.max_retries > 0
    for delivery_id in services.deliveries_pending(run_id):
        if time.monotonic() - started > settings.DELIVERY_INLINE_SEND_SECONDS:
            delivery_send.delay(delivery_id)
            continue
        try:
            services.delivery_send(delivery_id=delivery_id, run=run, may_retry=may_retry)
        except RetryableSendError:
            # Attempt 1 is done: the task goes on from retry 1, after the wait autoretry_for gives retry 1.
            countdown = get_exponential_backoff_interval(
                factor=int(max(1, delivery_send.retry_backoff)), retries=0,
                maximum=int(delivery_send.retry_backoff_max), full_jitter=delivery_send.retry_jitter,
            )  # fmt: skip
            delivery_send.apply_async((delivery_id,), countdown=countdown, retries=1)
        except Exception:
            # Left pending if the claim was not reached, else in sending (and then never resent).
            logger.exception(
                "Delivery %s: sending after generation failed; handed to a delivery_send task", delivery_id
            )
            delivery_send.delay(delivery_id)
    return run.status


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=settings.DELIVERY_MAX_ATTEMPTS - 1,
    soft_time_limit=settings.DELIVERY_SEND_SOFT_TIME_LIMIT,
    time_limit=settings.DELIVERY_SEND_SOFT_TIME_LIMIT + 30,
    **RETRIED,
)
def delivery_send(self, delivery_id: int) -> str:
    may_retry = not self.request.is_eager and self.request.retries < self.max_retries
    return services.delivery_send(delivery_id=delivery_id, may_retry=may_retry)


@shared_task(bind=True, acks_late=True, max_retries=5, soft_time_limit=120, time_limit=150, **RETRIED)
def finance_reminder_send(self) -> str:
    outcome = reminders.finance_reminder_send()
    if outcome == "retry" and not self.request.is_eager:
        raise RetryableSendError("The weekly reminder was not sent; the reminder's row has the error.")
    return outcome
