"""Erasing a person: an individual donor whose name, email, phone, address and IP address are spread
over every record that can hold them; once erased, no table and no file holds any of them, every
total is what it was, and the report they were sent still verifies, as redacted."""

import datetime as dt
import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Sum
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pypdf import PdfReader

from backoffice import roles
from delivery.models import Delivery, DeliveryAttempt, DownloadLog
from delivery.services import summaries_request
from donors import services
from donors.models import (
    Activity,
    Contact,
    Donation,
    Donor,
    PostedDayTotal,
    PostedDonorMonthTotal,
    PostedDonorYearTotal,
    WriteOff,
)
from privacy.erasure import ErasureError, Scope, erasure_approve, erasure_preview, erasure_refuse, erasure_request
from privacy.models import ErasureRequest, SubjectAccessRequest
from privacy.subject_access import subject_access_make, subject_access_request
from reports import figures
from reports.models import ReportRun
from reports.services import report_verify
from tests.delivery.conftest import END, START, body_link, eager_celery, smtp  # noqa: F401
from tests.factories import ContactFactory, DonationFactory, DonorFactory, PledgeFactory, role_user

pytestmark = pytest.mark.django_db

NAME = "Wilhelmina Quarterfield"
EMAIL = "w.quarterfield@zephyrmail.example"
PHONE, PHONE_AT_HOME = "+44 20 7946 0813", "020 7946 0813"
STREET, POSTCODE = "17 Lantern Row", "KX9 4QZ"
IP = "203.0.113.77"
ADA = "Adélaïde Colleague"
NEEDLES = (NAME, EMAIL, PHONE, PHONE_AT_HOME, STREET, POSTCODE, IP)


@pytest.fixture
def storage(settings, tmp_path):
    """Private storage of this test's own, so that every file in it can be searched."""
    settings.STORAGES = {**settings.STORAGES, "default": {**settings.STORAGES["default"], "OPTIONS": {
        "location": str(tmp_path), "base_url": None}}}  # fmt: skip
    return tmp_path


@pytest.fixture
def person(client, smtp, eager_celery, storage, django_capture_on_commit_callbacks):  # noqa: F811
    """An individual donor, and the same person as their donor's contact, on every record that can hold
    them: gifts with notes, a pledge written off with a reason, meetings, a report emailed and opened,
    an SMTP refusal quoting the address, a subject access ZIP, the admin's log, and a mention in
    another donor's meeting notes."""
    finance = role_user(roles.FINANCE)
    donor = DonorFactory(name=NAME, kind=Donor.Kind.INDIVIDUAL, notes=f"{NAME} prefers calls", external_ref="CRM-77")
    contact = ContactFactory(donor=donor, name=NAME, email=EMAIL, receives_reports=True)
    contact.phone, contact.address = PHONE, f"{STREET}\nLondon\n{POSTCODE}"
    contact.full_clean()
    contact.save()  # a second version in the contact's history
    pledge = PledgeFactory(donor=donor, title=f"{NAME} legacy pledge", total=Decimal("900.00"))
    services.donation_post(
        donation=DonationFactory(
            donor=donor, pledge=pledge, received_on=dt.date(2025, 3, 1), amount=Decimal("250.00"),
            note=f"Cheque from {NAME}, {STREET}",
        ),
        by=finance,
    )  # fmt: skip
    returned = services.donation_post(
        donation=DonationFactory(donor=donor, received_on=dt.date(2025, 4, 1), amount=Decimal("40.00")), by=finance
    )
    services.donation_reverse(donation=returned, by=finance, reason=f"Bounced: {NAME}'s account closed")
    services.pledge_write_off(pledge=pledge, amount=Decimal("100.00"), reason=f"{NAME} reduced her pledge", by=finance)
    Activity.objects.create(
        donor=donor, contact=contact, kind="call", happened_on=dt.date(2025, 5, 2),
        summary=f"Called {NAME} on {PHONE} about her gift; evenings on {PHONE_AT_HOME}",
    )  # fmt: skip
    other = DonorFactory(name="Harbourlight Trust")
    ContactFactory(donor=other, name=ADA, email="ada@harbourlight.example", receives_reports=True)
    services.donation_post(donation=DonationFactory(donor=other, received_on=dt.date(2025, 6, 1)), by=finance)
    Activity.objects.create(
        donor=other, kind="meeting", happened_on=dt.date(2025, 6, 2), summary=f"{NAME} introduced us to the trust"
    )
    with django_capture_on_commit_callbacks(execute=True):
        summaries_request(start=START, end=END)
    message = next(m["message"] for m in smtp.messages if m["to"] == [EMAIL])
    client.get(body_link(message), REMOTE_ADDR=IP)
    delivery = Delivery.objects.get(contact=contact)
    DeliveryAttempt.objects.create(
        delivery=delivery, number=9, started_at=delivery.created_at, outcome="failed", smtp_code=550,
        error=f"550 5.1.1 <{EMAIL}>: mailbox of {NAME} is full",
    )  # fmt: skip
    subject_access_make(request_id=subject_access_request(contact=contact, by=finance).pk)
    for obj, message in (
        (contact, '[{"changed": {"fields": ["Phone"]}}]'),
        (donor, json.dumps([{"changed": {"name": "contact", "object": str(contact), "fields": ["Phone"]}}])),
    ):
        LogEntry.objects.create(
            user=finance, content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk),
            object_repr=str(obj), action_flag=CHANGE, change_message=message,
        )  # fmt: skip
    run = ReportRun.objects.get(donor=donor)
    return {"donor": donor, "contact": contact, "finance": finance, "run": run, "pdf": run.pdf.read()}


def found_in_database(needle: str) -> list[str]:
    """The tables holding `needle` in any column: every table, each row cast to text."""
    found = []
    # A row written as text quotes a value holding a backslash or a double quote, and doubles them.
    in_row = needle.replace("\\", "\\\\").replace('"', '""')
    pattern = in_row.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT count(*) FROM {quoted} t WHERE t::text ILIKE %s", [f"%{pattern}%"])  # noqa: S608
            if cursor.fetchone()[0]:
                found.append(table)
    return found


def file_text(path) -> str:
    """A file's text as a reader finds it: a PDF's extracted text, a ZIP's members, else its bytes."""
    data = path.read_bytes()
    if data.startswith(b"%PDF"):
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    if data.startswith(b"PK"):
        archive = zipfile.ZipFile(io.BytesIO(data))
        return "\n".join(file_text_of(archive.read(name)) for name in archive.namelist())
    return data.decode("utf-8", "replace")


def file_text_of(data: bytes) -> str:
    if data.startswith(b"%PDF"):
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return data.decode("utf-8", "replace")


def found_in_files(root, needle: str) -> list[str]:
    return [str(p.relative_to(root)) for p in sorted(root.rglob("*")) if p.is_file() and needle in file_text(p)]


def totals() -> dict:
    """Every kept total and every sum of the ledger."""
    return {
        "days": list(PostedDayTotal.objects.order_by("pk").values()),
        "months": list(PostedDonorMonthTotal.objects.order_by("pk").values()),
        "years": list(PostedDonorYearTotal.objects.order_by("pk").values()),
        "donations": list(Donation.objects.order_by("pk").values_list("pk", "donor", "amount", "base_amount")),
        "written_off": WriteOff.objects.aggregate(total=Sum("amount"))["total"],
    }


def erase(person):
    approver = role_user(roles.LEADERSHIP)
    erasure = erasure_request(by=person["finance"], donor=person["donor"], reason=f"{NAME} asked by email on 1 Dec")
    return erasure_approve(erasure=erasure, by=approver)


def test_no_table_and_no_file_keeps_anything_of_the_person(person, storage, django_capture_on_commit_callbacks):
    for needle in NEEDLES:  # the search finds them first: it can fail
        assert found_in_database(needle), needle
    assert found_in_files(storage, NAME) and found_in_files(storage, EMAIL)
    with django_capture_on_commit_callbacks(execute=True):
        erasure = erase(person)
    left = {n: found_in_database(n) + found_in_files(storage, n) for n in NEEDLES}
    assert left == {n: [] for n in NEEDLES}
    label = f"Erased donor {person['donor'].pk:04d}"
    assert Donor.objects.get(pk=person["donor"].pk).name == label == erasure.label
    assert Contact.objects.get(pk=person["contact"].pk).name == f"Erased contact {person['contact'].pk:04d}"
    assert found_in_database(ADA) == ["donors_contact", "donors_historicalcontact"]  # others stay
    assert Activity.objects.get(donor__name="Harbourlight Trust").summary == f"{label} introduced us to the trust"
    assert DownloadLog.objects.get().ip is None
    assert erasure.reason == f"{label} asked by email on 1 Dec"
    assert erasure.removed["report runs redacted"] == 1 and erasure.removed["donation notes"] == 2
    words = f"Erased under erasure request #{erasure.pk}."
    assert sorted(Donation.objects.filter(donor=person["donor"]).values_list("amount", "note", "reversal_reason")) == [
        (Decimal("-40.000"), words, words),  # a reversal has a note of its own
        (Decimal("40.000"), "", ""),
        (Decimal("250.000"), words, ""),
    ]
    assert WriteOff.objects.get().reason == words
    assert SubjectAccessRequest.objects.get().file == ""


def test_every_total_and_figure_is_the_same_after_the_erasure(person):
    donor, before = person["donor"], totals()
    summary = figures.donor_summary_snapshot(donor=donor, start=START, end=END, currency="")
    portfolio = figures.portfolio_snapshot(start=START, end=END)
    erasure = erase(person)
    donor.refresh_from_db()
    assert totals() == before
    again = figures.donor_summary_snapshot(donor=donor, start=START, end=END, currency="")
    assert json.dumps(again) == json.dumps(summary).replace(NAME, erasure.label)
    assert json.dumps(figures.portfolio_snapshot(start=START, end=END)) == json.dumps(portfolio).replace(
        NAME, erasure.label
    )


def test_the_report_they_were_sent_verifies_as_genuine_and_redacted(person, client, tmp_path):
    run = person["run"]
    erase(person)
    run.refresh_from_db()
    assert run.redacted_on is not None and not run.pdf
    assert NAME not in json.dumps(run.snapshot) and NAME not in json.dumps(run.names_shown)
    when = f"{run.redacted_on:%-d %B %Y}"
    result = report_verify(person["pdf"])
    assert result.ok and result.reason.endswith(f"It has since been redacted under an erasure request on {when}.")
    assert result.reason.startswith("Genuine: this report was made by Fundtrace on ")
    path = tmp_path / "summary.pdf"
    path.write_bytes(person["pdf"])
    out = io.StringIO()
    call_command("verify_report", str(path), stdout=out)
    assert f"redacted under an erasure request on {when}" in out.getvalue() and NAME not in out.getvalue()
    from django.core.files.uploadedfile import SimpleUploadedFile

    page = client.post("/verify/", {"pdf": SimpleUploadedFile("s.pdf", person["pdf"], "application/pdf")})
    text = page.content.decode()
    assert page.status_code == 200 and "Genuine" in text and f"redacted under an erasure request on {when}" in text
    assert NAME not in text
    altered = bytearray(person["pdf"])
    altered[len(altered) // 2] ^= 1
    path.write_bytes(bytes(altered))
    with pytest.raises(CommandError, match="NOT VERIFIED"):
        call_command("verify_report", str(path), stdout=io.StringIO())


def test_whoever_asked_cannot_approve_nor_can_a_role_without_the_right(person):
    erasure = erasure_request(by=person["finance"], donor=person["donor"], reason="Asked by letter")
    with pytest.raises(ErasureError, match="someone else must approve"):
        erasure_approve(erasure=erasure, by=person["finance"])
    with pytest.raises(ErasureError, match="Only the Finance and Leadership roles"):
        erasure_approve(erasure=erasure, by=role_user(roles.AUDITOR))
    assert Donor.objects.get(pk=person["donor"].pk).name == NAME
    erasure_refuse(erasure=erasure, by=role_user(roles.FINANCE, "finance2"), reason="Gift Aid records needed")
    erasure.refresh_from_db()
    assert erasure.status == ErasureRequest.Status.REFUSED and Donor.objects.get(pk=person["donor"].pk).name == NAME


def test_an_organisation_is_not_erased_its_contact_is(person):
    finance, other = person["finance"], Donor.objects.get(name="Harbourlight Trust")
    with pytest.raises(ErasureError, match="not an individual"):
        erasure_request(by=finance, donor=other, reason="x")
    ada = other.contacts.get()
    LogEntry.objects.create(
        user=finance, content_type=ContentType.objects.get_for_model(other), object_id=str(other.pk),
        object_repr=str(other), action_flag=CHANGE,
        change_message=json.dumps([{"changed": {"name": "contact", "object": str(ada), "fields": ["Role"]}}]),
    )  # fmt: skip
    escaped = json.dumps(ADA)[1:-1]
    assert escaped == "Ad\\u00e9la\\u00efde Colleague" and found_in_database(escaped) == ["django_admin_log"]
    preview = erasure_preview(contact=ada)
    assert preview.label == f"Erased contact {ada.pk:04d}" and preview.erased["contacts"] == 1
    erasure = erasure_approve(
        erasure=erasure_request(by=finance, contact=ada, reason="Left the trust"), by=role_user(roles.FINANCE, "f2")
    )
    assert [found_in_database(n) for n in (ADA, escaped, "ada@harbourlight.example")] == [[], [], []]
    assert Donor.objects.get(pk=other.pk).name == "Harbourlight Trust"  # the organisation stays
    assert erasure.status == ErasureRequest.Status.DONE


def test_the_ledger_refuses_a_change_to_an_erased_donors_amounts_even_inside_an_erasure(person):
    from django.db import IntegrityError, transaction

    donation = Donation.objects.filter(donor=person["donor"], status="posted").first()
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE donors_donation SET note = '' WHERE id = %s", [donation.pk])  # not named: refused
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('fundtrace.donor_erasure', %s, true)", [str(person["donor"].pk)])
        with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
            cursor.execute("UPDATE donors_donation SET amount = amount + 1, note = '' WHERE id = %s", [donation.pk])
        with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
            cursor.execute("DELETE FROM donors_donation WHERE id = %s", [donation.pk])
        cursor.execute("UPDATE donors_donation SET note = 'words only' WHERE id = %s", [donation.pk])
    assert Donation.objects.get(pk=donation.pk).note == "words only"


PEOPLE = {NAME: "Erased donor 0001", EMAIL: "erased-contact-0002@erased.invalid", STREET: "[address erased]"}


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    parts=st.lists(
        st.one_of(st.sampled_from(sorted(PEOPLE)), st.text(alphabet=st.characters(codec="utf-8"), max_size=12)),
        max_size=8,
    ),
    upper=st.booleans(),
)
def test_redaction_leaves_no_mention_in_any_case_and_changes_nothing_else(parts, upper):
    scope = Scope(donors=[], contacts=[])
    for text, replacement in PEOPLE.items():
        scope._mention(text, replacement)
    text = "".join(p.upper() if upper and p in PEOPLE else p for p in parts)
    redacted = scope.redactor()(text)
    assert not [person for person in PEOPLE if person.lower() in redacted.lower()]
    if not [person for person in PEOPLE if person.lower() in text.lower()]:
        assert redacted == text
