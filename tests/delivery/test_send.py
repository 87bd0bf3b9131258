"""Sending summaries by real SMTP (aiosmtpd), in process: content, attachment, link, failures.

Retries need a worker: tests/delivery/test_retries.py."""

import pytest
from django.core.management import call_command

from delivery.models import Delivery, DeliveryAttempt, DownloadLog
from delivery.services import deliveries_resend, summaries_progress, summaries_request
from tests.delivery.conftest import END, START, attachment, body_link, donor_with_gift

pytestmark = pytest.mark.django_db


def send(django_capture_on_commit_callbacks, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return summaries_request(start=START, end=END, **kwargs)


def test_summary_reaches_only_reporting_contacts_with_the_pdf_and_a_working_link(
    client, smtp, eager_celery, django_capture_on_commit_callbacks
):
    donor = donor_with_gift(reporting=2, silent=1, name="Fondation Éthique")
    [run_id] = send(django_capture_on_commit_callbacks)
    reporting = sorted(donor.contacts.filter(receives_reports=True).values_list("email", flat=True))
    assert sorted(m["to"][0] for m in smtp.messages) == reporting
    assert all(len(m["to"]) == 1 for m in smtp.messages)
    delivery = Delivery.objects.get(run_id=run_id, email=reporting[0])
    message = next(m["message"] for m in smtp.messages if m["to"] == [reporting[0]])
    assert message["Subject"].strip() == "Fondation Éthique: your impact summary, 1 Jan 2025 to 31 Dec 2025"
    assert message["Message-ID"] == delivery.message_id
    assert message.get_body(preferencelist=("html",)) is not None
    with delivery.run.pdf.open("rb") as f:
        assert attachment(message) == f.read()
    response = client.get(body_link(message))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"".join(response.streaming_content) == attachment(message)
    assert DownloadLog.objects.get().delivery == delivery
    assert delivery.status == Delivery.Status.SENT and delivery.attempts == 1 and delivery.sent_at


def test_in_process_a_451_fails_the_delivery_and_the_next_mailing_sends_it(
    smtp, eager_celery, django_capture_on_commit_callbacks
):
    smtp.replies = ["451 4.3.0 Try again later"]
    donor_with_gift(reporting=1, silent=0)
    send(django_capture_on_commit_callbacks)  # nothing in process would run a retry: it does not wait
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED and "451" in delivery.last_error and smtp.messages == []
    send(django_capture_on_commit_callbacks)
    assert len(smtp.messages) == 1 and Delivery.objects.get().status == Delivery.Status.SENT
    assert list(delivery.attempt_log.values_list("number", "outcome", "smtp_code")) == [
        (1, "failed", 451),
        (2, "sent", None),
    ]


def test_a_550_fails_at_once(smtp, eager_celery, django_capture_on_commit_callbacks):
    smtp.reply = "550 5.1.1 Mailbox unavailable"
    donor_with_gift(reporting=1, silent=0)
    send(django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    assert smtp.data_attempts == 1
    assert delivery.status == Delivery.Status.FAILED and delivery.attempts == 1
    assert list(delivery.attempt_log.values_list("outcome", "smtp_code")) == [("failed", 550)]


def test_rerun_sends_nothing_twice_and_finishes_what_failed(smtp, eager_celery, django_capture_on_commit_callbacks):
    first, second = donor_with_gift(reporting=1, silent=0), donor_with_gift(reporting=1, silent=0)
    smtp.reply = None
    send(django_capture_on_commit_callbacks, refs=[first.ref])
    smtp.reply = "550 5.7.1 Rejected"
    send(django_capture_on_commit_callbacks, refs=[second.ref])
    assert len(smtp.messages) == 1
    smtp.reply = None
    runs = send(django_capture_on_commit_callbacks)
    assert len(runs) == 2
    assert sorted(m["to"][0] for m in smtp.messages) == sorted(
        [first.contacts.get().email, second.contacts.get().email]
    )
    send(django_capture_on_commit_callbacks)
    assert len(smtp.messages) == 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert DeliveryAttempt.objects.filter(outcome="sent").count() == 2


def test_a_contact_who_stops_receiving_reports_before_the_send_gets_nothing(smtp, django_capture_on_commit_callbacks):
    from delivery.services import delivery_send
    from reports.services import report_run_generate

    donor_with_gift(reporting=1, silent=0)
    [run_id] = summaries_request(start=START, end=END)  # callbacks not run: nothing queued yet
    report_run_generate(run_id=run_id)
    delivery = Delivery.objects.get()
    delivery.contact.receives_reports = False
    delivery.contact.save()
    assert delivery_send(delivery_id=delivery.pk) == "failed"
    assert smtp.messages == []


def test_dry_run_lists_who_would_receive_what_and_writes_nothing(capsys, smtp):
    donor = donor_with_gift(reporting=1, silent=1)
    call_command("send_donor_summaries", "--from", "2025-01-01", "--to", "2025-12-31", "--dry-run")
    out = capsys.readouterr().out
    assert f"{donor.ref} {donor.name}: new run → {donor.contacts.get(receives_reports=True).email} [would send]" in out
    assert donor.contacts.get(receives_reports=False).email not in out
    assert not Delivery.objects.exists() and smtp.messages == []


def test_requesting_summaries_takes_as_many_queries_for_four_donors_as_for_two():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(donors):
        with CaptureQueriesContext(connection) as captured:
            runs = summaries_request(start=START, end=END, refs=[d.ref for d in donors])
        assert len(runs) == len(donors)
        return len(captured)

    two = queries([donor_with_gift(reporting=2, silent=1) for _ in range(2)])
    four = queries([donor_with_gift(reporting=2, silent=1) for _ in range(4)])
    assert four == two
    assert Delivery.objects.count() == 12


def test_a_name_stored_with_a_line_break_still_gets_its_summary_with_a_one_line_subject(
    smtp, eager_celery, django_capture_on_commit_callbacks
):
    from donors.models import Donor

    donor = donor_with_gift(reporting=1, silent=0)
    Donor.objects.filter(pk=donor.pk).update(name="Fondation\r\nBcc: someone@example.net\x01 Éthique")
    send(django_capture_on_commit_callbacks)
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.SENT, delivery.last_error
    [received] = smtp.messages
    assert received["to"] == [donor.contacts.get().email]
    subject = str(received["message"]["Subject"])
    assert "\r" not in subject and "\n" not in subject
    name = "Fondation Bcc: someone@example.net Éthique"
    assert subject.strip() == f"{name}: your impact summary, 1 Jan 2025 to 31 Dec 2025"
    assert received["message"]["Bcc"] is None


def test_a_message_stored_without_an_answer_is_not_sent_again_and_waits_for_a_human(
    smtp, eager_celery, django_capture_on_commit_callbacks
):
    smtp.hang_ups = ["DATA"]
    donor_with_gift(reporting=1, silent=0)
    send(django_capture_on_commit_callbacks)
    send(django_capture_on_commit_callbacks)  # a rerun of the mailing sends nothing either
    assert len(smtp.messages) == 1 and smtp.data_attempts == 1
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.UNANSWERED and delivery.is_stuck and delivery.attempts == 1
    [(outcome, error)] = delivery.attempt_log.values_list("outcome", "error")
    assert outcome == "unanswered"
    assert "SMTPDataUnanswered" in error and "never answered" in error and delivery.message_id in error
    assert summaries_progress(start=START, end=END)["stuck"] == 1
    with django_capture_on_commit_callbacks(execute=True):  # a human found it missing from the mail log
        assert deliveries_resend(deliveries=Delivery.objects.all()) == [delivery.pk]
    assert len(smtp.messages) == 2 and Delivery.objects.get().status == Delivery.Status.SENT


def test_a_summary_comes_from_the_organisations_sender_under_its_name(
    smtp, eager_celery, django_capture_on_commit_callbacks
):
    """Donor email speaks for the organisation (its profile), not for the software."""
    from backoffice.models import Organisation

    Organisation.objects.filter(pk=1).update(name="Alliance for Safe Childhoods", sender_email="impact@asc.example")
    donor_with_gift(reporting=1, silent=0)
    send(django_capture_on_commit_callbacks)
    [sent] = smtp.messages
    assert sent["message"]["From"] == "Alliance for Safe Childhoods <impact@asc.example>"
    assert "fundtrace.invalid" not in sent["message"]["From"]
