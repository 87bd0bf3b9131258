"""Delivery tasks: primary keys in, short status strings out; no PDF bytes or personal data in messages."""

import logging
import time

from celery import shared_task
from django.conf import settings

from reports.models import ReportRun
from reports.services import report_run_generate
from reports.stale import runs_stale
from reports.tasks import LIMITS as GENERATION_LIMITS

from . import reminders, services

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=60, **GENERATION_LIMITS)
def summary_prepare(self, run_id: int) -> str:
    """Generate a donor summary run (if not done yet), then send its pending deliveries.

    They are sent here, one after the other, rather than as a task each: a summary goes to one
    or two contacts, and a task per email cost more than the email. Only for the first
    DELIVERY_INLINE_SEND_SECONDS of this task, so it stays well inside its time limit; the rest go
    out as `delivery_send` tasks. A send that fails and may be retried is retried by a
    `delivery_send` task after the backoff; one that raises goes to a `delivery_send` task too.

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
    for delivery_id in services.deliveries_pending(run_id):
        if time.monotonic() - started > settings.DELIVERY_INLINE_SEND_SECONDS:
            delivery_send.delay(delivery_id)
            continue
        try:
            outcome = services.delivery_send(delivery_id=delivery_id, run=run)
        except Exception:
            # Left pending if the claim was not reached, else in sending (and then never resent).
            logger.exception(
                "Delivery %s: sending after generation failed; handed to a delivery_send task", delivery_id
            )
            delivery_send.delay(delivery_id)
            continue
        if outcome.status == "retry":
            if self.request.is_eager:  # in process, nobody runs a scheduled task: wait, then the task's own loop
                time.sleep(outcome.retry_in)
                delivery_send.delay(delivery_id)
            else:
                delivery_send.apply_async((delivery_id,), countdown=outcome.retry_in)
    return run.status


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=None,  # the attempt limit is DELIVERY_MAX_ATTEMPTS, counted on the delivery itself
    soft_time_limit=settings.DELIVERY_SEND_SOFT_TIME_LIMIT,
    time_limit=settings.DELIVERY_SEND_SOFT_TIME_LIMIT + 30,
)
def delivery_send(self, delivery_id: int) -> str:
    while True:
        outcome = services.delivery_send(delivery_id=delivery_id)
        if outcome.status != "retry":
            return outcome.status
        if not self.request.is_eager:
            raise self.retry(countdown=outcome.retry_in)
        # In process (no broker) nobody else would run a scheduled retry: wait here instead.
        time.sleep(outcome.retry_in)


@shared_task(bind=True, acks_late=True, max_retries=5, soft_time_limit=120, time_limit=150)
def finance_reminder_send(self) -> str:
    outcome = reminders.finance_reminder_send()
    if outcome == "retry" and not self.request.is_eager:
        raise self.retry(countdown=services.retry_delay(self.request.retries + 1))
    return outcome
