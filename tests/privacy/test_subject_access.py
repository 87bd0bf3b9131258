"""A subject access request: Finance asks in the admin, a worker makes one ZIP of everything held
about the person (and nothing about anyone else), and only Finance downloads it."""

import datetime as dt
import io
import json
import zipfile

import pytest
from django.utils import timezone

from backoffice import roles
from delivery.models import Delivery
from delivery.services import summaries_request
from donors.models import Activity, Contact
from privacy.models import SubjectAccessRequest
from privacy.subject_access import subject_access_make
from tests.delivery.conftest import END, START, body_link, donor_with_gift, eager_celery, smtp  # noqa: F401
from tests.factories import ContactFactory, role_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(client, smtp, eager_celery, django_capture_on_commit_callbacks):  # noqa: F811
    """A contact who was sent a summary and downloaded it, with a meeting on record and an edited
    record; a colleague at the same donor with their own meeting and delivery."""
    donor = donor_with_gift(reporting=2, silent=0, name="Oakridge Foundation")
    ingrid, colleague = donor.contacts.order_by("pk")
    with django_capture_on_commit_callbacks(execute=True):
        summaries_request(start=START, end=END)
    message = next(m["message"] for m in smtp.messages if m["to"] == [ingrid.email])
    client.get(body_link(message), REMOTE_ADDR="203.0.113.7")
    ingrid.phone = "+44 20 7946 0000"
    ingrid.full_clean()
    ingrid.save()
    for who, summary in ((ingrid, "Annual review with Ingrid"), (colleague, "Budget call with the colleague")):
        Activity.objects.create(
            donor=donor, contact=who, kind="meeting", happened_on=dt.date(2025, 5, 2), summary=summary
        )
    return {"contact": ingrid, "colleague": colleague}


@pytest.fixture
def finance(client):
    user = role_user(roles.FINANCE)
    client.force_login(user)
    return client


def ask(client, contact, capture):
    with capture(execute=True):
        response = client.post(
            "/admin/donors/contact/", {"action": "export_subject_access", "_selected_action": [contact.pk]}
        )
    assert response.status_code == 302
    return SubjectAccessRequest.objects.get(contact=contact)


def test_finance_asks_in_the_admin_and_downloads_one_zip_of_everything_held_about_the_person(
    person, finance, django_capture_on_commit_callbacks
):
    contact = person["contact"]
    made = ask(finance, contact, django_capture_on_commit_callbacks)
    assert made.status == SubjectAccessRequest.Status.DONE and len(made.sha256) == 64
    response = finance.get(f"/privacy/subject-access/{made.pk}/download/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    delivery = Delivery.objects.get(contact=contact)
    assert sorted(archive.namelist()) == sorted(
        ["README.txt", "activities.json", "contact-history.json", "contact.json", "deliveries.json",
         f"reports/{delivery.run.filename}"]
    )  # fmt: skip
    record = json.loads(archive.read("contact.json"))
    assert (record["email"], record["phone"], record["lawful_basis"]) == (contact.email, "+44 20 7946 0000",
                                                                         "legitimate_interests")  # fmt: skip
    versions = json.loads(archive.read("contact-history.json"))
    assert [(v["change"], v["values"]["phone"]) for v in versions] == [("Created", ""), ("Changed", "+44 20 7946 0000")]
    [activity] = json.loads(archive.read("activities.json"))
    assert activity["summary"] == "Annual review with Ingrid"
    [sent] = json.loads(archive.read("deliveries.json"))
    assert sent["email"] == contact.email and sent["status"] == "sent"
    assert [a["outcome"] for a in sent["attempts"]] == ["sent"]
    assert [d["ip"] for d in sent["downloads"]] == ["203.0.113.7"]
    with delivery.run.pdf.open("rb") as pdf:
        assert archive.read(f"reports/{delivery.run.filename}") == pdf.read()


def test_nothing_about_anyone_else_is_in_the_zip(person, finance, django_capture_on_commit_callbacks):
    made = ask(finance, person["contact"], django_capture_on_commit_callbacks)
    with made.file.open("rb") as f:
        archive = zipfile.ZipFile(io.BytesIO(f.read()))
    everything = b"".join(archive.read(name) for name in archive.namelist() if not name.endswith(".pdf"))
    assert person["colleague"].email.encode() not in everything
    assert b"Budget call with the colleague" not in everything


def test_the_same_request_makes_the_same_bytes_and_a_second_run_changes_nothing(
    person, finance, django_capture_on_commit_callbacks
):
    made = ask(finance, person["contact"], django_capture_on_commit_callbacks)
    with made.file.open("rb") as f:
        first = f.read()
    again = subject_access_make(request_id=made.pk)
    assert (again.file.name, again.sha256, again.finished_at) == (made.file.name, made.sha256, made.finished_at)
    SubjectAccessRequest.objects.filter(pk=made.pk).update(status="queued")
    remade = subject_access_make(request_id=made.pk)
    with remade.file.open("rb") as f:
        assert f.read() == first


def test_only_finance_may_download_the_zip(person, finance, client, django_capture_on_commit_callbacks):
    made = ask(finance, person["contact"], django_capture_on_commit_callbacks)
    for role in (roles.LEADERSHIP, roles.AUDITOR, roles.PROGRAMME):
        client.force_login(role_user(role))
        response = client.get(f"/privacy/subject-access/{made.pk}/download/")
        assert response.status_code == 403
        assert "It is open to the Finance role and to administrators." in response.content.decode()


def test_a_request_for_a_contact_deleted_meanwhile_fails_with_the_reason(person, finance):
    gone = ContactFactory(donor=person["contact"].donor)
    made = SubjectAccessRequest.objects.create(contact=gone, requested_by=role_user(roles.FINANCE, "finance-2"))
    Contact.objects.filter(pk=gone.pk).delete()
    made = subject_access_make(request_id=made.pk)
    assert (made.status, made.error, made.file.name) == ("failed", "The contact no longer exists.", "")
    assert made.finished_at <= timezone.now()
