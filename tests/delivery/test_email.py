"""The donor summary email as a donor receives it (real SMTP, aiosmtpd): from the organisation's
sender, a plain-text and a branded HTML part saying what the report covers with its headline
figure, links to the HTML version and the PDF, and the PDF named for the reader."""

import datetime as dt
import re
from decimal import Decimal

import pytest

from backoffice.models import Organisation
from delivery.models import Delivery
from delivery.services import summaries_request, summary_headline
from donors.services import donation_post
from reports.models import ReportRun
from tests.delivery.conftest import END, START
from tests.factories import ContactFactory, DonationFactory, DonorFactory
from tests.html_checker import html_errors

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(smtp, settings, eager_celery, django_capture_on_commit_callbacks):
    Organisation.objects.filter(pk=1).update(name="Child Safety Alliance", sender_email="reports@alliance.example")
    donor = DonorFactory(name="Global Affairs Canada", preferred_currency="GBP")
    ContactFactory(donor=donor, receives_reports=True, name="Jo Bloggs")
    for amount, day in (("1000000.00", dt.date(2025, 3, 1)), ("250000.00", dt.date(2025, 9, 1))):
        donation_post(donation=DonationFactory(donor=donor, amount=Decimal(amount), received_on=day), by=None)
    with django_capture_on_commit_callbacks(execute=True):
        summaries_request(start=START, end=END)
    [message] = [m["message"] for m in smtp.messages]
    return message, smtp.messages[0]["from"]


def parts(message) -> tuple[str, str]:
    return (
        message.get_body(preferencelist=("plain",)).get_content(),
        message.get_body(preferencelist=("html",)).get_content(),
    )


def test_the_email_comes_from_the_organisations_sender(sent):
    message, envelope_from = sent
    assert str(message["From"]) == "Child Safety Alliance <reports@alliance.example>"
    assert envelope_from == "reports@alliance.example"


def test_both_parts_say_what_the_report_covers_with_the_headline_figure(sent):
    message, _ = sent
    text, html = parts(message)
    assert message.get_content_type() == "multipart/mixed"
    assert "In 2025 you gave GBP 1,250,000.00." in text
    assert "In 2025 you gave GBP 1,250,000.00." in html
    assert "Dear Jo Bloggs" in text and "Dear Jo Bloggs" in html
    assert text.rstrip().endswith("Child Safety Alliance") and "Child Safety Alliance" in html
    assert "Fundtrace" not in text + html


def test_both_parts_link_to_the_html_version_and_the_pdf_which_open(client, sent):
    message, _ = sent
    text, html = parts(message)
    token = Delivery.objects.get().message_id and re.search(r"/d/([^/\s]+)/report/", text).group(1)
    for part in (text, html):
        assert f"http://testserver/d/{token}/report/" in part
        assert re.search(rf"http://testserver/d/{re.escape(token)}/(\s|\"|$)", part)
    page = client.get(f"/d/{token}/report/")
    assert page.status_code == 200 and "GBP 1,250,000.00" in page.content.decode()
    assert client.get(f"/d/{token}/").status_code == 200


def test_the_pdf_is_named_for_the_donor_and_the_period(sent):
    message, _ = sent
    [pdf] = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == "Impact summary 2025 – Global Affairs Canada.pdf"
    assert pdf.get_content().startswith(b"%PDF")


def test_the_html_part_is_valid_html(sent):
    message, _ = sent
    assert html_errors({"email": parts(message)[1]}) == []


def test_the_headline_reads_the_same_when_the_sender_deferred_the_snapshot(sent):
    run = ReportRun.objects.get()
    deferred = ReportRun.objects.defer("snapshot").get()
    assert summary_headline(deferred) == summary_headline(run) == "In 2025 you gave GBP 1,250,000.00."


def test_the_headline_names_another_period_and_the_programmes_funded():
    run = ReportRun(
        kind="donor_summary",
        period_start=dt.date(2025, 4, 1),
        period_end=dt.date(2026, 3, 31),
        snapshot={
            "figures": [{"key": "received_in_period", "value": {"amount": "98765.4", "currency": "EUR"}}],
            "by_programme": [{"label": "Model National Response"}, {"label": "Global Threat Assessment"}],
        },
    )
    assert summary_headline(run) == (
        "From 1 Apr 2025 to 31 Mar 2026 you gave EUR 98,765.40. "
        "Your funding supported Model National Response and Global Threat Assessment."
    )
