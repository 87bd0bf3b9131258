"""The financial report in a real browser: asked for from /reports/ and refused for want of explanations, the
explanations written on the agreement's page the refusal links to, the report made, its PDF and XLSX downloaded."""

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from reports.models import ReportRun
from reports.services import report_verify
from tests.browser import chromium, signed_in_page
from tests.factories import role_user

from .financial_helpers import pdftotext, worked_agreement


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def ask_for_the_report(page, agreement):
    page.select_option("#id_kind", "financial_report")
    page.select_option("#id_agreement", str(agreement.pk))
    page.fill("#id_start", "2025-01-01")
    page.fill("#id_end", "2025-12-31")
    page.fill("#id_prepared_by", "Ama Mensah")
    page.fill("#id_prepared_role", "Finance Manager")
    page.click("#report-request input[type=submit]")
    page.wait_for_load_state()


def test_finance_explains_the_variances_and_generates_the_report_from_the_reports_page(
    browser, live_server, transactional_db
):
    user = role_user("Finance", username="browser-reporter")
    uk = worked_agreement(user)
    violations = []
    context, page = signed_in_page(browser, live_server, user, next_url="/reports/", csp_messages=violations)
    try:
        ask_for_the_report(page, uk)
        refused = page.inner_text("#report-refused")
        assert "Line A1 Personnel: variance +16.7% passes the 10% threshold and has no explanation" in refused
        assert "Line IND Indirect costs: variance -70.0%" in refused
        assert not ReportRun.objects.exists()

        page.click("#explain-variances")
        page.wait_for_load_state()
        page.fill("#text-A1", "Recruitment of the second analyst slipped to September.")
        page.fill("#text-A2", "Two regional workshops moved forward from 2026.")
        page.fill("#text-IND", "Follows the direct costs at the agreed 10%.")
        page.click("#variance-explanations input[type=submit]")
        page.wait_for_load_state()
        assert "Every flagged line is explained." in page.inner_text(".messagelist")

        page.goto(f"{live_server.url}/reports/")
        ask_for_the_report(page, uk)
        run = ReportRun.objects.get()
        assert run.status == ReportRun.Status.DONE, run.error
        assert run.snapshot["explanations"][0]["text"] == "Recruitment of the second analyst slipped to September."

        with page.expect_download() as pdf_download:
            page.click(f"a[href='/reports/{run.pk}/download/']")
        pdf = open(pdf_download.value.path(), "rb").read()  # noqa: SIM115
        assert report_verify(pdf).ok
        text = pdftotext(pdf)
        assert "Recruitment of the second analyst slipped" in text and "Ama Mensah" in text

        with page.expect_download() as xlsx_download:
            page.click(f"a[href='/reports/{run.pk}/workbook/']")
        assert xlsx_download.value.suggested_filename.endswith(".xlsx")
        book = load_workbook(io.BytesIO(open(xlsx_download.value.path(), "rb").read()))  # noqa: SIM115
        a1 = next(row for row in book["Budget lines"].iter_rows(values_only=True) if row[0] == "A1")
        assert Decimal(str(a1[6])) == Decimal("1000.00")  # actual in the period
        assert violations == []
    finally:
        context.close()
