"""A French-speaking donor's impact summary (issue 17 item 7): the snapshot records French, and its
PDF speaks French, with French dates and French-formatted amounts beside their currency; an English
donor's reads as before; verify_report accepts the French PDF."""

import datetime as dt
import io
import subprocess
from decimal import Decimal

import pytest
from django.core.management import call_command
from pypdf import PdfReader

from donors.services import donation_post
from reports.models import ReportRun
from reports.services import report_run_request
from tests.factories import (
    AllocationFactory,
    DonationFactory,
    DonorFactory,
    IndicatorFactory,
    InstalmentFactory,
    OutputFactory,
    PledgeFactory,
)

pytestmark = pytest.mark.django_db

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
NBSP = "\xa0"  # the French group separator: a no-break space


def pdftotext(pdf: bytes) -> str:
    """The PDF's text as poppler reads it."""
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def summary_of(donor, django_capture_on_commit_callbacks) -> ReportRun:
    with django_capture_on_commit_callbacks(execute=True):
        run = report_run_request(kind="donor_summary", donor=donor, start=START, end=END)
    run.refresh_from_db()
    assert run.status == ReportRun.Status.DONE, run.error
    return run


def pdf_of(run) -> bytes:
    with run.pdf.open("rb") as f:
        return f.read()


def donor_with_gift(language: str, name: str):
    donor = DonorFactory(name=name, language=language, preferred_currency="GBP")
    donation = DonationFactory(donor=donor, amount=Decimal("1234567.89"), received_on=dt.date(2025, 12, 1))
    donation_post(donation=donation, by=None)
    output = OutputFactory(title="Model National Response toolkit", status="delivered")
    IndicatorFactory(
        output=output, name="Countries adopting", unit="countries", target=Decimal("12"), actual=Decimal("9")
    )
    AllocationFactory(donation=donation, output=output, amount=Decimal("1000000.00"))
    pledge = PledgeFactory(donor=donor, total=Decimal("2000000.00"), start_date=START, end_date=dt.date(2026, 12, 31))
    InstalmentFactory(pledge=pledge, due_date=dt.date(2026, 6, 1), amount=Decimal("2000000.00"))
    return donor


@pytest.fixture
def french(django_capture_on_commit_callbacks):
    donor = donor_with_gift("fr", "Ministère de l'Europe et des Affaires étrangères")
    return summary_of(donor, django_capture_on_commit_callbacks)


def test_a_french_donors_snapshot_records_french_and_its_words_are_french(french):
    s = french.snapshot
    assert s["language"] == "fr"
    assert s["title"] == "Rapport d'impact"
    labels = {f["key"]: f["label"] for f in s["figures"]}
    assert labels["received_to_date"] == "Reçu au 31 décembre 2025"
    assert labels["outstanding"] == "Reste à verser sur les engagements"
    assert s["outputs"][0]["status"] == "Réalisé"


def test_the_french_pdf_has_french_headings_dates_and_amounts_with_their_currency(french):
    pdf = pdf_of(french)
    text = pdftotext(pdf)
    for heading in ("Vos contributions en bref", "Dons reçus sur la période", "Vos engagements", "À venir"):
        assert heading in text
    assert "Rapport d'impact pour la période 1er janvier 2025 – 31 décembre 2025" in text
    assert "1er décembre 2025" in text  # the donation's day
    # Grouped by no-break spaces (which pdftotext gives back as spaces), a decimal comma, the code first.
    assert "GBP 1 234 567,89" in text.replace(NBSP, " ")
    assert "9 sur 12" in text
    assert "Page 1 sur" in text and "Vérifiez ce rapport sur" in text
    assert "Your giving" not in text and "Page 1 of" not in text
    assert PdfReader(io.BytesIO(pdf)).trailer["/Root"]["/Lang"] == "fr"


def test_the_group_separator_is_drawn_by_the_embedded_font_not_a_missing_glyph():
    from reportlab.pdfbase.ttfonts import TTFont

    from reports.charts import FONT_DIR

    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        assert ord(NBSP) in TTFont("probe", str(FONT_DIR / name)).face.charToGlyph, name


def test_an_english_donors_pdf_reads_as_before(django_capture_on_commit_callbacks):
    run = summary_of(donor_with_gift("en-gb", "Global Affairs Canada"), django_capture_on_commit_callbacks)
    assert run.snapshot["language"] == "en-gb" and run.snapshot["title"] == "Impact summary"
    pdf = pdf_of(run)
    text = pdftotext(pdf)
    for words in ("Your giving at a glance", "Impact summary for 1 Jan 2025 – 31 Dec 2025",
                  "Donations received in this period", "GBP 1,234,567.89", "1 Dec 2025", "9 of 12", "Page 1 of",
                  "Verify this report at"):  # fmt: skip
        assert words in text
    assert "Rapport" not in text and NBSP not in text
    assert PdfReader(io.BytesIO(pdf)).trailer["/Root"]["/Lang"] == "en-GB"


def test_verify_report_accepts_the_french_pdf(french, tmp_path):
    path = tmp_path / "rapport.pdf"
    path.write_bytes(pdf_of(french))
    out = io.StringIO()
    call_command("verify_report", str(path), stdout=out)
    assert f"Matches run {french.pk}" in out.getvalue()


def test_a_jpy_amount_keeps_whole_units_in_french():
    from django.utils import translation

    from backoffice.money import format_money

    with translation.override("fr"):
        assert format_money(Decimal("24967757"), "JPY") == f"JPY 24{NBSP}967{NBSP}757"
        assert format_money(Decimal("1234.5"), "KWD") == f"KWD 1{NBSP}234,500"


def test_a_french_summarys_pooled_funders_name_nobody_so_it_is_not_stale():
    from reports.stale import names_shown

    snapshot = {
        "kind": "donor_summary",
        "donor": {"name": "Fondation Aurore"},
        "outputs": [{"co_funders": [{"name": "UK Home Office"}, {"name": "Autres bailleurs (3)"}]}],
    }
    assert names_shown(snapshot) == {"donor": "Fondation Aurore", "co_funders": ["UK Home Office"]}
