"""The financial report on /reports/: asked for (and refused) from the form, its workbook downloaded, submitted
against an obligation; the variance explanations page in the admin. Each page per role: allowed 200, refused 403."""

import datetime as dt
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from grants.models import ReportingObligation
from reports.financial_xlsx import XLSX_CONTENT_TYPE, financial_workbook
from reports.models import ReportRun
from spending.models import VarianceExplanation
from tests.factories import role_user

from .financial_helpers import YEAR, explain, financial_run, worked_agreement

REQUEST = {"kind": "financial_report", "start": "2025-01-01", "end": "2025-12-31", "prepared_by": "Ama Mensah",
           "prepared_role": "Finance Manager"}  # fmt: skip


@pytest.fixture
def uk(finance_user):
    return worked_agreement(finance_user)


@pytest.fixture
def run(uk, finance_user, django_capture_on_commit_callbacks):
    explain(uk, finance_user)
    return financial_run(uk, finance_user, django_capture_on_commit_callbacks)


def login(client, role, username=None):
    user = role_user(role, username=username or f"{role.lower()}-2")
    client.force_login(user)
    return user


@pytest.mark.parametrize("role", ["Finance", "Leadership"])
def test_finance_and_leadership_ask_for_the_report_from_the_reports_page(
    client, uk, finance_user, role, django_capture_on_commit_callbacks
):
    explain(uk, finance_user)
    login(client, role)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("reports:run_list"), {**REQUEST, "agreement": uk.pk})
    assert response.status_code == 302
    run = ReportRun.objects.get()
    assert (run.kind, run.agreement, run.status) == ("financial_report", uk, "done")
    assert run.snapshot["sign_off"]["prepared_by"] == {"name": "Ama Mensah", "role": "Finance Manager"}


def test_the_form_refuses_each_unexplained_line_and_links_to_the_explanations(client, uk):
    login(client, "Leadership")
    response = client.post(reverse("reports:run_list"), {**REQUEST, "agreement": uk.pk})
    assert response.status_code == 200
    page = response.content.decode()
    for line in ("A1 Personnel: variance +16.7%", "A2 Travel: variance -16.7%", "IND Indirect costs: variance -70.0%"):
        assert f"<li>Line {line} passes the 10% threshold and has no explanation</li>" in page
    explain_url = reverse("admin:spending_agreement_variances", args=[uk.pk]) + "?start=2025-01-01&amp;end=2025-12-31"
    assert explain_url in page
    assert not ReportRun.objects.exists()


def test_the_form_asks_for_an_agreement(client, db):
    login(client, "Finance")
    response = client.post(reverse("reports:run_list"), REQUEST)
    assert "Choose the funder&#x27;s agreement." in response.content.decode()


@pytest.mark.parametrize(("role", "status"), [("Finance", 200), ("Leadership", 200), ("Programme", 403),
                                              ("Auditor", 200)])  # fmt: skip
def test_the_workbook_download_per_role(client, run, role, status):
    login(client, role)
    response = client.get(reverse("reports:run_xlsx", args=[run.pk]))
    assert response.status_code == status
    if status == 200:
        assert response.content == financial_workbook(run.snapshot)
        assert response["Content-Disposition"] == f'attachment; filename="{run.filename[:-4]}.xlsx"'
        book = load_workbook(io.BytesIO(response.content))
        assert book["Budget lines"]["A2"].value == "A1"


def test_the_auditor_downloads_a_financial_report_but_neither_asks_for_nor_submits_one(client, run, uk):
    login(client, "Auditor")
    page = client.get(reverse("reports:run_list"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="report-request"' not in html and f'id="submit-{run.pk}"' not in html
    assert reverse("reports:run_download", args=[run.pk]) in html and reverse("reports:run_xlsx", args=[run.pk]) in html

    pdf = client.get(reverse("reports:run_download", args=[run.pk]))
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert b"".join(pdf.streaming_content) == run.pdf.open("rb").read()
    xlsx = client.get(reverse("reports:run_xlsx", args=[run.pk]))
    assert (xlsx.status_code, xlsx["Content-Type"]) == (200, XLSX_CONTENT_TYPE)
    assert xlsx.content == financial_workbook(run.snapshot)

    asked = client.post(reverse("reports:run_list"), {**REQUEST, "agreement": uk.pk})
    obligation = ReportingObligation.objects.get(pledge=uk.pledge, kind="financial", period_end=YEAR["end"])
    submitted = client.post(reverse("reports:run_submit", args=[run.pk]), {"obligation": obligation.pk})
    assert (asked.status_code, submitted.status_code) == (403, 403)
    run.refresh_from_db()
    obligation.refresh_from_db()
    assert ReportRun.objects.count() == 1 and not run.is_frozen and obligation.status == "pending"


def test_the_reports_page_offers_pdf_xlsx_and_submission_for_a_financial_run(client, run):
    login(client, "Leadership")
    page = client.get(reverse("reports:run_list")).content.decode()
    assert reverse("reports:run_xlsx", args=[run.pk]) in page
    assert reverse("reports:run_download", args=[run.pk]) in page
    assert f'id="submit-{run.pk}"' in page
    assert reverse("reports:run_html", args=[run.pk]) not in page  # no HTML version of this kind


@pytest.mark.parametrize(("role", "status"), [("Finance", 302), ("Leadership", 302), ("Programme", 403),
                                              ("Auditor", 403)])  # fmt: skip
def test_submission_per_role(client, run, uk, role, status):
    obligation = ReportingObligation.objects.get(pledge=uk.pledge, kind="financial", period_end=YEAR["end"])
    user = login(client, role)
    response = client.post(
        reverse("reports:run_submit", args=[run.pk]), {"obligation": obligation.pk, "submitted_on": "2026-02-01"}
    )
    assert response.status_code == status
    run.refresh_from_db()
    obligation.refresh_from_db()
    if status == 302:
        assert run.is_frozen and run.submitted_by == user and run.obligation == obligation
        assert (obligation.status, obligation.submitted_on) == ("submitted", dt.date(2026, 2, 1))
        page = client.get(reverse("reports:run_list")).content.decode()
        assert "Submitted to the funder" in page and f'id="submit-{run.pk}"' not in page
    else:
        assert not run.is_frozen and obligation.status == "pending"


def test_submission_against_an_obligation_of_another_pledge_is_refused(client, run, finance_user):
    other = worked_agreement_other(finance_user)
    obligation = ReportingObligation.objects.filter(pledge=other.pledge, kind="financial").first()
    login(client, "Finance")
    response = client.post(reverse("reports:run_submit", args=[run.pk]), {"obligation": obligation.pk}, follow=True)
    assert "choose a financial report still owed under its pledge" in response.content.decode()
    run.refresh_from_db()
    assert not run.is_frozen


def worked_agreement_other(by):
    from tests.spending.helpers import agreement_with_budget

    return agreement_with_budget(funder_ref="OTHER-1")


# The variance explanations page -------------------------------------------------------------------


def variances_url(agreement, **period):
    period = period or {"start": "2025-01-01", "end": "2025-12-31"}
    return (
        reverse("admin:spending_agreement_variances", args=[agreement.pk])
        + "?"
        + "&".join(f"{k}={v}" for k, v in period.items())
    )


def test_finance_writes_the_explanations_of_the_flagged_lines(client, uk):
    user = login(client, "Finance")
    page = client.get(variances_url(uk)).content.decode()
    for code in ("A1", "A2", "IND"):
        assert f'name="text-{code}"' in page
    response = client.post(variances_url(uk), {"text-A1": "Recruitment was late.", "text-A2": "", "text-IND": "x"})
    assert response.status_code == 302
    saved = {e.line_code: e for e in VarianceExplanation.objects.all()}
    assert set(saved) == {"A1", "IND"}
    assert saved["A1"].text == "Recruitment was late." and saved["A1"].written_by == user
    assert (saved["A1"].period_start, saved["A1"].period_end) == (YEAR["start"], YEAR["end"])
    page = client.get(response["Location"]).content.decode()
    assert "Still to explain: A2." in page


def test_a_period_outside_the_agreement_shows_no_lines(client, uk):
    login(client, "Finance")
    page = client.get(variances_url(uk, start="2024-01-01", end="2024-12-31")).content.decode()
    assert "The period must lie inside the agreement" in page and 'name="text-' not in page


@pytest.mark.parametrize("role", ["Leadership", "Programme", "Auditor"])
def test_other_roles_read_the_explanations_but_cannot_write(client, uk, finance_user, role):
    explain(uk, finance_user, codes=("A1",))
    login(client, role)
    page = client.get(variances_url(uk))
    assert page.status_code == 200
    assert "Why A1 moved" in page.content.decode() and 'name="text-' not in page.content.decode()
    assert client.post(variances_url(uk), {"text-A2": "Sneaky"}).status_code == 403
    assert not VarianceExplanation.objects.filter(line_code="A2").exists()
