"""Retries on a real Celery worker (memory:// here, Redis in CI) with real SMTP (aiosmtpd).

A failure a later attempt can fix is retried after an exponential backoff, up to the attempt
limit, and every attempt is a DeliveryAttempt row; a message sent without an answer is never retried.
"""

import datetime as dt
import time

import pytest
from django.core.management import call_command

from delivery.models import Delivery
from tests.delivery.conftest import backoff_ceiling, donor_with_gift, free_port, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ARGS = ["send_donor_summaries", "--from", "2025-01-01", "--to", "2025-12-31", "--timeout", "90"]
LATENCY = dt.timedelta(seconds=3)  # a worker's own delay in picking up a due retry, on a loaded machine


def attempts_of(delivery):
    return list(delivery.attempt_log.values_list("number", "outcome", "smtp_code"))


def assert_backoff(delivery):
    """Each retry started no later than its backoff ceiling after the attempt before it finished."""
    log = list(delivery.attempt_log.order_by("number"))
    for retry, (before, after) in enumerate(zip(log, log[1:], strict=False), start=1):
        waited = after.started_at - before.finished_at
        assert dt.timedelta(0) <= waited <= dt.timedelta(seconds=backoff_ceiling(retry)) + LATENCY, (retry, waited)


def test_a_451_is_retried_with_backoff_up_to_the_attempt_limit_then_failed(celery_worker, smtp, max_attempts):
    max_attempts(3)
    smtp.reply = "451 4.4.1 Busy"
    donor_with_gift(reporting=1, silent=0)
    call_command(*ARGS)  # waits while the delivery is pending between attempts
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED and delivery.attempts == 3 and "451" in delivery.last_error
    assert attempts_of(delivery) == [(1, "retry", 451), (2, "retry", 451), (3, "failed", 451)]
    assert smtp.data_attempts == 3 and smtp.messages == []
    assert_backoff(delivery)


def test_a_first_attempt_that_fails_after_generation_is_retried_and_sent_once(celery_worker, smtp):
    smtp.replies = ["421 4.7.0 Slow down"]
    donor_with_gift(reporting=1, silent=0)
    call_command(*ARGS)
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.SENT and delivery.attempts == 2
    assert attempts_of(delivery) == [(1, "retry", 421), (2, "sent", None)]
    assert [m["to"] for m in smtp.messages] == [[delivery.email]]
    assert_backoff(delivery)


def test_a_connection_lost_before_the_message_was_sent_is_retried_and_delivered_once(celery_worker, smtp):
    smtp.hang_ups = ["RCPT"]
    donor_with_gift(reporting=1, silent=0)
    call_command(*ARGS)
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.SENT and len(smtp.messages) == 1
    assert [outcome for _, outcome, _ in attempts_of(delivery)] == ["retry", "sent"]
    assert "SMTPServerDisconnected" in delivery.attempt_log.first().error


def test_a_server_that_is_down_is_retried_as_a_connection_error(celery_worker, smtp, settings, max_attempts):
    max_attempts(2)
    settings.EMAIL_PORT = free_port()  # nothing listens there
    donor_with_gift(reporting=1, silent=0)
    call_command(*ARGS)
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert [outcome for _, outcome, _ in attempts_of(delivery)] == ["retry", "failed"]
    assert "ConnectionRefusedError" in delivery.last_error


def test_a_message_stored_without_an_answer_is_never_retried(celery_worker, smtp, max_attempts):
    max_attempts(3)
    smtp.hang_ups = ["DATA"]
    donor_with_gift(reporting=1, silent=0)
    call_command(*ARGS, "--no-wait")
    wait_for(lambda: Delivery.objects.filter(status="unanswered").exists(), what="the delivery to be unanswered")
    time.sleep(backoff_ceiling(1) + LATENCY.total_seconds())  # longer than a retry would wait
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.UNANSWERED and delivery.attempts == 1
    assert attempts_of(delivery) == [(1, "unanswered", None)]
    assert smtp.data_attempts == 1 and len(smtp.messages) == 1
