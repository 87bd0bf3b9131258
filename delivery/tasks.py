"""Delivery tasks: primary keys in, short status strings out; no PDF bytes or personal data in messages."""

import time

from celery import shared_task
from django.conf import settings

from reports.models import ReportRun
from reports.services import report_run_generate

from . import reminders, services


@shared_task(bind=True, acks_late=True, max_retries=60)
def summary_prepare(self, run_id: int) -> str:
    """Generate a donor summary run (if not done yet), then enqueue one send task per pending delivery.

    Safe to run twice: generation claims the run, and each send claims its delivery.
    """
    run = report_run_generate(run_id=run_id)
    if run.status == ReportRun.Status.RUNNING:
        # Another worker is generating it; come back for the deliveries once it is done.
        raise self.retry(countdown=settings.DELIVERY_GENERATION_POLL_SECONDS)
    if run.status != ReportRun.Status.DONE:
        return run.status
    for delivery_id in services.deliveries_pending(run_id):
        delivery_send.delay(delivery_id)
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
