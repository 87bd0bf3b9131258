"""summary_prepare sends a run's emails itself after generating it; leftovers go to delivery_send tasks.

A retry of a first attempt made here: tests/delivery/test_retries.py."""

import pytest

from delivery import services, tasks
from delivery.models import Delivery, DeliveryAttempt
from delivery.services import delivery_claim, summaries_request
from reports.models import ReportRun
from reports.services import report_run_generate
from tests.delivery.conftest import END, START, donor_with_gift

pytestmark = pytest.mark.django_db


@pytest.fixture
def handed_over(monkeypatch):
    """The delivery ids handed to delivery_send tasks (which still run, in process)."""
    ids = []
    delay = tasks.delivery_send.delay
    monkeypatch.setattr(tasks.delivery_send, "delay", lambda delivery_id: ids.append(delivery_id) or delay(delivery_id))
    return ids


def requested(*, reporting=2):
    donor = donor_with_gift(reporting=reporting, silent=1)
    [run_id] = summaries_request(start=START, end=END)  # on-commit callbacks not run: nothing enqueued yet
    return donor, run_id


def test_the_task_that_generates_a_run_sends_one_email_per_reporting_contact_itself(smtp, eager_celery, handed_over):
    donor, run_id = requested(reporting=2)
    assert tasks.summary_prepare.delay(run_id).get() == "done"
    expected = sorted(donor.contacts.filter(receives_reports=True).values_list("email", flat=True))
    assert sorted(m["to"][0] for m in smtp.messages) == expected
    assert handed_over == []  # no task per email
    assert set(Delivery.objects.values_list("status", "attempts")) == {("sent", 1)}
    assert list(DeliveryAttempt.objects.values_list("number", "outcome")) == [(1, "sent"), (1, "sent")]


def test_running_the_task_again_sends_nothing(smtp, eager_celery, handed_over):
    _, run_id = requested(reporting=2)
    tasks.summary_prepare.delay(run_id)
    assert tasks.summary_prepare.delay(run_id).get() == "done"  # a redelivered task (acks_late) or a rerun
    assert len(smtp.messages) == 2 and handed_over == []
    assert DeliveryAttempt.objects.count() == 2


def test_a_plain_failure_is_logged_and_not_retried(smtp, eager_celery, handed_over):
    smtp.replies = ["550 5.1.1 Mailbox unavailable"]
    _, run_id = requested(reporting=2)
    tasks.summary_prepare.delay(run_id)
    assert sorted(Delivery.objects.values_list("status", flat=True)) == ["failed", "sent"]
    assert handed_over == [] and len(smtp.messages) == 1


def test_past_the_inline_time_the_rest_go_to_delivery_send_tasks(smtp, eager_celery, handed_over, settings):
    settings.DELIVERY_INLINE_SEND_SECONDS = -1
    donor, run_id = requested(reporting=2)
    tasks.summary_prepare.delay(run_id)
    assert sorted(handed_over) == sorted(Delivery.objects.values_list("pk", flat=True))
    assert len(smtp.messages) == 2


def test_a_send_that_raises_is_handed_to_a_delivery_send_task(smtp, eager_celery, handed_over, monkeypatch):
    send = services.delivery_send

    def broken_once(*, delivery_id, run=None, may_retry=False):
        if run is not None:
            raise ConnectionError("the database went away before the claim")
        return send(delivery_id=delivery_id, may_retry=may_retry)

    monkeypatch.setattr(services, "delivery_send", broken_once)
    _, run_id = requested(reporting=1)
    tasks.summary_prepare.delay(run_id)
    assert handed_over == [Delivery.objects.get().pk] and len(smtp.messages) == 1


def test_a_claim_for_a_done_run_claims_only_that_runs_delivery(smtp):
    _, run_id = requested(reporting=1)
    report_run_generate(run_id=run_id)
    other = ReportRun.objects.create(kind="donor_summary", donor=ReportRun.objects.get(pk=run_id).donor,
                                     period_start=START, period_end=END, external=False)  # fmt: skip
    delivery = Delivery.objects.get()
    assert not delivery_claim(delivery.pk, done_run_id=other.pk)
    assert delivery_claim(delivery.pk, done_run_id=run_id)
    assert not delivery_claim(delivery.pk, done_run_id=run_id)  # once
