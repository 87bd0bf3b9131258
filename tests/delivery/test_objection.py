"""A contact who objected to email is sent no report: the delivery log says why, the preview says
so before anything is sent, and a withdrawn objection lets the next mailing reach them."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from delivery.models import Delivery, DeliveryAttempt
from delivery.services import OBJECTED, summaries_plan, summaries_request
from donors.models import Contact
from tests.delivery.conftest import END, START, donor_with_gift

pytestmark = pytest.mark.django_db


def request(capture, **kwargs):
    with capture(execute=True):
        return summaries_request(start=START, end=END, **kwargs)


@pytest.fixture
def donor(db):
    donor = donor_with_gift(reporting=2, silent=0, name="Oakridge Foundation", ref="DON-0101")
    objecting, staying = donor.contacts.order_by("pk")
    Contact.objects.filter(pk=objecting.pk).update(objected_to_email_on=dt.date(2025, 6, 1))
    return {"donor": donor, "objecting": objecting, "staying": staying}


def test_no_report_goes_to_a_contact_who_objected_and_the_log_says_why(
    donor, smtp, eager_celery, django_capture_on_commit_callbacks
):
    request(django_capture_on_commit_callbacks)
    assert [m["to"] for m in smtp.messages] == [[donor["staying"].email]]
    skipped = Delivery.objects.get(contact=donor["objecting"])
    assert skipped.status == Delivery.Status.SKIPPED and skipped.get_status_display() == "Not sent: objected to email"
    assert skipped.last_error == OBJECTED and skipped.attempts == 0
    assert Delivery.objects.get(contact=donor["staying"]).status == Delivery.Status.SENT


def test_an_objection_recorded_after_the_mailing_was_requested_stops_the_send(
    donor, smtp, eager_celery, django_capture_on_commit_callbacks
):
    Contact.objects.filter(pk=donor["objecting"].pk).update(objected_to_email_on=None)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:  # requested; nothing sent yet
        summaries_request(start=START, end=END)
    Contact.objects.filter(pk=donor["staying"].pk).update(objected_to_email_on=dt.date(2025, 7, 2))
    for callback in callbacks:
        callback()
    assert [m["to"] for m in smtp.messages] == [[donor["objecting"].email]]
    late = Delivery.objects.get(contact=donor["staying"])
    assert late.status == Delivery.Status.SKIPPED
    assert late.last_error == "Not sent: the contact objected to email on 2 July 2025."
    assert list(late.attempt_log.values_list("outcome", "error")) == [
        (DeliveryAttempt.Outcome.SKIPPED, "Not sent: the contact objected to email on 2 July 2025.")
    ]


def test_a_withdrawn_objection_lets_the_next_mailing_send_and_a_new_one_holds_a_pending_delivery(
    donor, smtp, eager_celery, django_capture_on_commit_callbacks
):
    request(django_capture_on_commit_callbacks)
    Contact.objects.filter(pk=donor["objecting"].pk).update(objected_to_email_on=None)
    request(django_capture_on_commit_callbacks)
    assert sorted(m["to"][0] for m in smtp.messages) == sorted([donor["staying"].email, donor["objecting"].email])
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SENT}


def test_the_plan_the_preview_and_the_dry_run_say_who_objected(donor, smtp):
    [plan] = summaries_plan(start=START, end=END)
    assert plan.contact_state(donor["objecting"]) == "objected"
    assert plan.recipients == [donor["staying"]]
    out = StringIO()
    call_command("send_donor_summaries", "--from", str(START), "--to", str(END), "--dry-run", stdout=out)
    assert f"→ {donor['objecting'].email} [objected to email, not sent]" in out.getvalue()
    assert f"→ {donor['staying'].email} [would send]" in out.getvalue()
    assert not Delivery.objects.exists() and smtp.messages == []


def test_the_mailing_preview_counts_and_names_the_objection(donor, smtp, client, finance_user):
    client.force_login(finance_user)
    page = client.get("/reports/summaries/preview/", {"start": "2025-01-01", "end": "2025-12-31",
                                                     "audience": "all", "donors": ""}).content.decode()  # fmt: skip
    assert f"&lt;{donor['objecting'].email}&gt;: objected to email: not sent" in page
    assert "1 donor summary to 1 contact." in page
    assert "1 contact who objected to email" in page
