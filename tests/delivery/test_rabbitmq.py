"""Delivery with RabbitMQ as the broker: a real worker on a queue of its own, real SMTP (aiosmtpd).

Runs when RABBITMQ_URL is set (amqp://guest:guest@127.0.0.1:5672// in CI); with REQUIRE_SERVICES=1
a missing or unreachable RabbitMQ fails it.
"""

import pytest
from django.core.management import call_command

from delivery.models import Delivery
from reports.models import ReportRun
from tests.delivery.conftest import donor_with_gift

pytestmark = pytest.mark.django_db(transaction=True)

ARGS = ["send_donor_summaries", "--from", "2025-01-01", "--to", "2025-12-31", "--timeout", "90"]


def test_on_rabbitmq_summaries_are_made_retried_after_a_451_and_sent_once(rabbitmq_worker, smtp):
    assert rabbitmq_worker.connection_for_write().transport.driver_type == "amqp"
    donors = [donor_with_gift(reporting=1, silent=1) for _ in range(2)]
    smtp.replies = ["451 4.3.0 Try again later"]  # the first message: retried after the backoff (a countdown)
    call_command(*ARGS)
    expected = sorted(d.contacts.get(receives_reports=True).email for d in donors)
    assert sorted(m["to"][0] for m in smtp.messages) == expected
    assert ReportRun.objects.filter(status="done").count() == 2
    assert sorted(Delivery.objects.values_list("status", "attempts")) == [("sent", 1), ("sent", 2)]
    retried = Delivery.objects.get(attempts=2)
    assert list(retried.attempt_log.values_list("number", "outcome", "smtp_code")) == [
        (1, "retry", 451),
        (2, "sent", None),
    ]
    call_command(*ARGS)  # a rerun sends nothing twice
    assert len(smtp.messages) == 2
