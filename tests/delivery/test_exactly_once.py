"""At most one email per (run, contact): concurrent duplicate tasks, crashes mid-send and reruns."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from delivery import tasks
from delivery.models import Delivery
from delivery.services import deliveries_resend, delivery_claim, summaries_progress, summaries_request
from reports.models import ReportRun
from reports.services import report_run_generate
from tests.delivery.conftest import END, START, donor_with_gift


def ready_delivery() -> Delivery:
    """A delivery of a generated run, not yet sent (made directly: nothing is enqueued)."""
    donor = donor_with_gift(reporting=1, silent=0)
    run = ReportRun.objects.create(kind="donor_summary", donor=donor, period_start=START, period_end=END)
    report_run_generate(run_id=run.pk)
    contact = donor.contacts.get()
    return Delivery.objects.create(run=run, contact=contact, email=contact.email)


@pytest.mark.django_db(transaction=True)
def test_two_threads_sending_the_same_delivery_send_one_email(smtp):
    delivery = ready_delivery()
    barrier, results = threading.Barrier(2), []

    def worker():
        barrier.wait()
        try:
            results.append(tasks.delivery_send.run(delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == ["sent", "skipped"]
    assert len(smtp.messages) == 1
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts == 1


@pytest.mark.django_db
def test_a_task_rerun_after_a_crash_between_sending_and_sent_sends_nothing_and_flags_it(
    smtp, eager_celery, django_capture_on_commit_callbacks
):
    delivery = ready_delivery()
    assert delivery_claim(delivery.pk)  # a worker claimed it, then died before recording the outcome
    assert tasks.delivery_send.run(delivery.pk) == "skipped"  # the broker redelivers the task (acks_late)
    with django_capture_on_commit_callbacks(execute=True):
        assert summaries_request(start=START, end=END)  # and Finance reruns the command
    assert tasks.delivery_send.run(delivery.pk) == "skipped"
    assert smtp.messages == []
    delivery.refresh_from_db()
    assert delivery.status == "sending" and not delivery.is_stuck
    Delivery.objects.filter(pk=delivery.pk).update(sending_since=timezone.now() - dt.timedelta(minutes=16))
    delivery.refresh_from_db()
    assert delivery.is_stuck
    assert summaries_progress(start=START, end=END)["stuck"] == 1


@pytest.mark.django_db
def test_a_human_may_resend_a_stuck_delivery_after_checking_the_mail_log(
    smtp, eager_celery, django_capture_on_commit_callbacks
):
    delivery = ready_delivery()
    delivery_claim(delivery.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_resend(deliveries=Delivery.objects.all()) == []  # not stuck yet: a worker may be sending
    Delivery.objects.filter(pk=delivery.pk).update(sending_since=timezone.now() - dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_resend(deliveries=Delivery.objects.all()) == [delivery.pk]
    assert len(smtp.messages) == 1
    assert Delivery.objects.get().status == "sent"
