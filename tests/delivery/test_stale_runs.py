"""A summary naming a co-funder who withdrew acknowledgement (or a renamed donor) is never sent or served again."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from delivery import tasks
from delivery.models import Delivery
from delivery.services import summaries_request
from donors.models import Donation, Donor
from grants.models import Allocation
from reports.models import ReportRun
from reports.services import report_run_generate
from tests.delivery.conftest import END, START, attachment, body_link, donor_with_gift
from tests.factories import AllocationFactory, ContactFactory, OutputFactory, role_user
from tests.reports.helpers import pdf_text

pytestmark = pytest.mark.django_db

CO_FUNDER = "Northwind Trust"


@pytest.fixture
def co_funded():
    """A donor with one reporting contact, and an acknowledged co-funder of the same output."""
    donor = donor_with_gift(reporting=1, silent=0, name="Fondation Éthique")
    co_funder = donor_with_gift(reporting=0, silent=0, name=CO_FUNDER, publicly_acknowledged=True)
    output = OutputFactory(title="Model National Response toolkit")
    for funder, amount in ((donor, "40.00"), (co_funder, "60.00")):
        donation = Donation.objects.get(donor=funder)
        AllocationFactory(donation=donation, output=output, amount=Decimal(amount), allocated_on=dt.date(2025, 4, 1))
    return donor, co_funder


def mail(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return summaries_request(start=START, end=END)


def pdf_of(run_id) -> bytes:
    with ReportRun.objects.get(pk=run_id).pdf.open("rb") as f:
        return f.read()


def donor_run(donor) -> int:
    return ReportRun.objects.get(donor=donor, superseded_by__isnull=True).pk


@pytest.mark.parametrize(
    "change",
    [{"publicly_acknowledged": False}, {"name": "Northwind Holdings"}],
    ids=["acknowledgement withdrawn", "renamed"],
)
def test_the_next_mailing_makes_a_new_run_without_the_name_and_old_links_serve_it(
    client, smtp, eager_celery, django_capture_on_commit_callbacks, co_funded, change
):
    donor, co_funder = co_funded
    mail(django_capture_on_commit_callbacks)
    old_run = donor_run(donor)
    [first] = smtp.messages
    assert CO_FUNDER in pdf_text(attachment(first["message"]))
    old_link = body_link(first["message"])
    Donor.objects.filter(pk=co_funder.pk).update(**change)
    newcomer = ContactFactory(donor=donor, receives_reports=True)

    mail(django_capture_on_commit_callbacks)
    new_run = donor_run(donor)
    assert new_run != old_run and ReportRun.objects.get(pk=old_run).superseded_by_id == new_run
    new_pdf = pdf_of(new_run)
    assert CO_FUNDER not in pdf_text(new_pdf)
    # The new contact gets the new run; the one who had the old run is not mailed again.
    assert [m["to"] for m in smtp.messages] == [first["to"], [newcomer.email]]
    assert attachment(smtp.messages[1]["message"]) == new_pdf
    client.force_login(role_user("Finance"))
    for page in ("admin:reports_reportrun_changelist", "reports:run_list"):
        assert f"stale: replaced by #{new_run}" in client.get(reverse(page)).content.decode()
    client.logout()
    response = client.get(old_link)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == new_pdf
    mail(django_capture_on_commit_callbacks)
    assert len(smtp.messages) == 2 and donor_run(donor) == new_run  # the new run is reused


def test_with_no_new_run_the_old_link_is_a_404(
    client, smtp, eager_celery, django_capture_on_commit_callbacks, co_funded
):
    donor, co_funder = co_funded
    mail(django_capture_on_commit_callbacks)
    link = body_link(smtp.messages[0]["message"])
    assert client.get(link).status_code == 200
    Donor.objects.filter(pk=co_funder.pk).update(publicly_acknowledged=False)
    assert client.get(link).status_code == 404


def test_a_renamed_donor_gets_a_new_run_under_its_new_name(
    client, smtp, eager_celery, django_capture_on_commit_callbacks, co_funded
):
    donor, _ = co_funded
    mail(django_capture_on_commit_callbacks)
    old_run = donor_run(donor)
    Donor.objects.filter(pk=donor.pk).update(name="Fondation Éthique Internationale")
    assert client.get(body_link(smtp.messages[0]["message"])).status_code == 404
    mail(django_capture_on_commit_callbacks)
    assert donor_run(donor) != old_run
    assert "Fondation Éthique Internationale" in pdf_text(pdf_of(donor_run(donor)))


def test_a_pending_delivery_of_a_run_that_became_stale_is_not_sent(smtp, co_funded):
    donor, co_funder = co_funded
    [run_id] = [r for r in summaries_request(start=START, end=END) if r == donor_run(donor)]
    report_run_generate(run_id=run_id)
    delivery = Delivery.objects.get(run_id=run_id)
    Donor.objects.filter(pk=co_funder.pk).update(publicly_acknowledged=False)
    assert tasks.delivery_send.run(delivery.pk) == "failed"  # a retry or a resend, run later
    assert tasks.summary_prepare.run(run_id) == "stale"
    assert smtp.messages == []
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED and "renamed or withdrawn acknowledgement" in delivery.last_error


def test_a_co_funder_acknowledged_later_does_not_make_the_run_stale(
    smtp, eager_celery, django_capture_on_commit_callbacks, co_funded
):
    donor, _ = co_funded
    late = donor_with_gift(reporting=0, silent=0, name="Late Acknowledged Ltd")
    output = Allocation.objects.get(donation__donor=donor).output
    AllocationFactory(donation=Donation.objects.get(donor=late), output=output, amount=Decimal("5.00"))
    mail(django_capture_on_commit_callbacks)
    old_run = donor_run(donor)
    assert "Other funders (1)" in pdf_text(pdf_of(old_run))
    Donor.objects.filter(pk=late.pk).update(publicly_acknowledged=True)
    mail(django_capture_on_commit_callbacks)
    assert donor_run(donor) == old_run and len(smtp.messages) == 1


def test_the_migration_records_the_names_shown_by_runs_made_before_it(co_funded):
    import importlib

    from django.apps import apps

    donor, _ = co_funded
    run = ReportRun.objects.create(kind="donor_summary", donor=donor, period_start=START, period_end=END)
    report_run_generate(run_id=run.pk)
    ReportRun.objects.update(names_shown={})
    importlib.import_module("reports.migrations.0004_run_names_shown_superseded_by").names_shown_fill(apps, None)
    assert ReportRun.objects.get(pk=run.pk).names_shown == {"donor": "Fondation Éthique", "co_funders": [CO_FUNDER]}
