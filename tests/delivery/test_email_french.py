"""A French-speaking donor's summary email (Donor.language), as the donor receives it over real
SMTP: the subject, both parts, the attachment's name and the HTML version it links to, in French."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import translation

from backoffice.models import Organisation
from delivery.services import summaries_request, summary_headline
from donors.services import donation_post
from reports.models import ReportRun
from tests.delivery.conftest import END, START
from tests.factories import ContactFactory, DonationFactory, DonorFactory
from tests.html_checker import html_errors

pytestmark = pytest.mark.django_db
NBSP = "\xa0"


@pytest.fixture
def sent(smtp, eager_celery, django_capture_on_commit_callbacks):
    Organisation.objects.filter(pk=1).update(name="Child Safety Alliance", sender_email="reports@alliance.example")
    donor = DonorFactory(name="Affaires mondiales Canada", preferred_currency="GBP", language="fr")
    ContactFactory(donor=donor, receives_reports=True, name="Camille Roy")
    for amount, day in (("1000000.00", dt.date(2025, 3, 1)), ("250000.00", dt.date(2025, 9, 1))):
        donation_post(donation=DonationFactory(donor=donor, amount=Decimal(amount), received_on=day), by=None)
    with django_capture_on_commit_callbacks(execute=True):
        summaries_request(start=START, end=END)
    [message] = [m["message"] for m in smtp.messages]
    return message


def parts(message) -> tuple[str, str]:
    return (
        message.get_body(preferencelist=("plain",)).get_content(),
        message.get_body(preferencelist=("html",)).get_content(),
    )


def test_the_subject_is_french_with_french_dates(sent):
    # Spaces as words between (a header's no-break space goes out as a space, and folding adds one).
    subject = " ".join(str(sent["Subject"]).split())
    assert subject == "Affaires mondiales Canada : votre rapport d'impact du 1er janvier 2025 au 31 décembre 2025"


def test_both_parts_are_french_with_the_headline_figure_in_french(sent):
    text, html = parts(sent)
    headline = f"En 2025, vous avez donné GBP 1{NBSP}250{NBSP}000,00."
    assert headline in text and headline in html
    assert "Bonjour Camille Roy," in text and "Bonjour Camille Roy," in html
    assert "Le consulter en ligne" in text and "Le consulter en ligne" in html
    assert "Avec nos remerciements," in text and "Avec nos remerciements," in html
    assert "Dear" not in text + html and "you gave" not in text + html
    assert '<html lang="fr">' in html
    assert html_errors({"email": html}) == []


def test_the_pdf_is_named_in_french(sent):
    [pdf] = [p for p in sent.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == "Rapport d'impact 2025 – Affaires mondiales Canada.pdf"
    assert ReportRun.objects.get().snapshot["language"] == "fr"


def test_the_linked_html_version_is_french(client, sent):
    text, _ = parts(sent)
    token = re.search(r"/d/([^/\s]+)/report/", text).group(1)
    page = client.get(f"/d/{token}/report/").content.decode()
    assert '<html lang="fr">' in page
    assert "Vos contributions" in page and "Dons reçus sur la période" in page
    assert f"GBP 1{NBSP}250{NBSP}000,00" in page
    assert "Télécharger le PDF" in page and "Your giving" not in page
    assert html_errors({"report": page}) == []


def test_the_french_headline_names_another_period_and_the_programmes_funded():
    run = ReportRun(
        kind="donor_summary",
        period_start=dt.date(2025, 4, 1),
        period_end=dt.date(2026, 3, 31),
        snapshot={
            "figures": [{"key": "received_in_period", "value": {"amount": "98765.4", "currency": "EUR"}}],
            "by_programme": [{"label": "Model National Response"}, {"label": "Global Threat Assessment"}],
        },
    )
    with translation.override("fr"):
        headline = summary_headline(run)
    assert headline == (
        f"Sur la période du 1er avril 2025 au 31 mars 2026, vous avez donné EUR 98{NBSP}765,40. "
        f"Votre financement a soutenu les programmes suivants{NBSP}: "
        "Model National Response et Global Threat Assessment."
    )
