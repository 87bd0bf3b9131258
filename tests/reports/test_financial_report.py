"""The funder's financial report: its snapshot, the refusal of unexplained variances, the PDF and its verification,
the XLSX workbook, and submission against a reporting obligation, which freezes the run."""

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from openpyxl import load_workbook

from grants.models import ReportingObligation
from reports.financial_xlsx import financial_workbook
from reports.models import FrozenRunError, ReportRun
from reports.renderers import render
from reports.services import ReportError, report_run_request, report_run_submit, report_run_supersede, report_verify

from .financial_helpers import YEAR, explain, financial_run, pdftotext, worked_agreement


def amount(value: dict) -> Decimal:
    assert value["currency"] == "GBP"
    return Decimal(value["amount"])


@pytest.fixture
def uk(finance_user):
    return worked_agreement(finance_user)


@pytest.fixture
def run(uk, finance_user, django_capture_on_commit_callbacks):
    explain(uk, finance_user)
    sign_off = {"prepared_by": {"name": "Ama Mensah", "role": "Finance Manager"}}
    return financial_run(uk, finance_user, django_capture_on_commit_callbacks, sign_off=sign_off)


def stored(run) -> bytes:
    with run.pdf.open("rb") as f:
        return f.read()


def test_a_flagged_line_without_an_explanation_is_refused_naming_each_line(uk, finance_user):
    explain(uk, finance_user, codes=("A2",))
    with pytest.raises(ReportError) as refused:
        report_run_request(kind="financial_report", agreement=uk, by=finance_user, **YEAR)
    assert refused.value.messages == [
        "Line A1 Personnel: variance +16.7% passes the 10% threshold and has no explanation",
        "Line IND Indirect costs: variance -70.0% passes the 10% threshold and has no explanation",
    ]
    assert not ReportRun.objects.exists()


def test_an_explanation_of_another_period_does_not_count(uk, finance_user):
    explain(uk, finance_user, start=dt.date(2025, 1, 1), end=dt.date(2025, 6, 30))
    with pytest.raises(ReportError) as refused:
        report_run_request(kind="financial_report", agreement=uk, by=finance_user, **YEAR)
    assert len(refused.value.messages) == 3


def test_a_period_outside_the_agreement_is_refused(uk, finance_user):
    with pytest.raises(ReportError, match=r"not inside the agreement UK-1's period, 2025-01-01 to 2026-12-31"):
        report_run_request(
            kind="financial_report", agreement=uk, by=finance_user, start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31)
        )


def test_an_explanation_removed_before_generation_fails_the_run_with_the_message(
    uk, finance_user, django_capture_on_commit_callbacks
):
    explain(uk, finance_user)
    with django_capture_on_commit_callbacks() as callbacks:
        run = report_run_request(kind="financial_report", agreement=uk, by=finance_user, **YEAR)
    uk.variance_explanations.filter(line_code="A1").delete()
    for callback in callbacks:
        callback()
    run.refresh_from_db()
    assert run.status == ReportRun.Status.FAILED
    assert "Line A1 Personnel: variance +16.7% passes the 10% threshold and has no explanation" in run.error


def test_the_snapshot_holds_every_section_with_the_worked_figures(run):
    s = run.snapshot
    assert s["kind"] == "financial_report" and s["currency"] == "GBP"
    assert s["agreement"]["funder_ref"] == "UK-1" and amount(s["agreement"]["pledge"]) == Decimal("100000.00")
    assert s["conversion"]["method"] == "average"
    assert amount(s["income"]["received_period"]) == Decimal("3000.00")
    a1, a2, ind = s["lines"]
    assert [line["code"] for line in s["lines"]] == ["A1", "A2", "IND"]
    assert (amount(a1["original"]), amount(a1["current"]), amount(a1["period_budget"])) == (
        Decimal("2400.00"), Decimal("2400.00"), Decimal("1200.00"),
    )  # fmt: skip
    assert (amount(a1["actual_period"]), amount(a1["variance"]), a1["variance_pct"], a1["flagged"]) == (
        Decimal("1000.00"), Decimal("200.00"), "16.67", True,
    )  # fmt: skip
    assert amount(a1["forecast"]) == Decimal("2200.00") and amount(a2["remaining"]) == Decimal("500.00")
    assert ind["indirect"] and amount(ind["actual_period"]) == Decimal("170.00")
    assert amount(s["totals"]["actual_period"]) == amount(s["spend"]["total_period"]) == Decimal("1870.00")
    assert amount(s["indirect"]["period"]) == Decimal("170.00")
    assert amount(s["balance"]) == Decimal("1130.00")
    assert [e["code"] for e in s["explanations"]] == ["A1", "A2", "IND"]
    assert s["explanations"][0]["text"] == "Why A1 moved: the A1 work was rescheduled."
    assert s["explanations"][0]["variance"] == "+16.7%"
    assert s["sign_off"] == {
        "prepared_by": {"name": "Ama Mensah", "role": "Finance Manager"},
        "approved_by": {"name": "", "role": ""},
    }


def test_the_snapshot_keeps_the_explanation_as_written_when_the_report_was_made(run, uk, finance_user):
    explain(uk, finance_user)  # rewritten afterwards
    uk.variance_explanations.filter(line_code="A1").update(text="A later text")
    run.refresh_from_db()
    assert run.snapshot["explanations"][0]["text"] == "Why A1 moved: the A1 work was rescheduled."


def test_the_pdf_shows_the_line_codes_figures_explanations_and_sign_off(run):
    text = pdftotext(stored(run))
    a1 = next(line for line in text.splitlines() if line.strip().startswith("A1 "))
    assert a1.split()[2:] == [
        "2,400.00", "2,400.00", "1,200.00", "1,000.00", "1,000.00", "1,400.00", "200.00", "2,200.00", "+16.7%",
        "Flagged",
    ]  # fmt: skip
    total = next(line for line in text.splitlines() if line.strip().startswith("Total "))
    assert "1,870.00" in total.split()
    for shown in ("Financial report to", "Agreement UK-1", "GBP 3,000.00", "Balance held at the period's end",
                  "GBP 1,130.00", "Why A1 moved", "Ama Mensah", "Finance Manager", "Page 1 of",
                  "weighted average rate"):  # fmt: skip
        assert shown in text, shown


def test_the_pdf_is_reproducible_and_verify_report_accepts_it(run, tmp_path):
    pdf = stored(run)
    assert render(run.snapshot) == pdf
    result = report_verify(pdf)
    assert result.ok and result.run == run
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    out = io.StringIO()
    call_command("verify_report", str(path), stdout=out)
    assert out.getvalue().startswith(f"VERIFIED: Matches run {run.pk} (Financial report")


def test_the_workbook_holds_the_snapshot_amounts_as_number_cells(run):
    data = financial_workbook(run.snapshot)
    assert data == financial_workbook(run.snapshot)  # the same bytes for the same snapshot
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Summary", "Budget lines", "Explanations"]
    sheet = book["Budget lines"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in rows[:-1]] == ["A1", "A2", "IND"]
    columns = ["original", "current", "period_budget", "actual_period", "actual_to_date", "remaining", "variance",
               "forecast"]  # fmt: skip
    for row, line in zip(rows, run.snapshot["lines"], strict=False):
        for value, key in zip(row[3:11], columns, strict=True):
            assert isinstance(value, int | float) and not isinstance(value, bool)
            assert Decimal(str(value)) == amount(line[key])
        assert row[12] == ("Yes" if line["flagged"] else "No")
    assert rows[-1][1] == "Total" and Decimal(str(rows[-1][6])) == Decimal("1870.00")
    assert sheet["D2"].number_format == "#,##0.00" and sheet["L2"].number_format == "0.00%"
    assert book.properties.created == dt.datetime(2025, 12, 31)
    summary = {row[0]: row[1:] for row in book["Summary"].iter_rows(values_only=True) if row[0]}
    assert Decimal(str(summary["Balance held"][1])) == Decimal("1130.00")
    assert summary["Prepared by"][:2] == ("Ama Mensah", "Finance Manager")


def test_the_workbook_writes_the_amounts_as_the_snapshots_decimal_strings(run):
    import zipfile

    with zipfile.ZipFile(io.BytesIO(financial_workbook(run.snapshot))) as archive:
        xml = archive.read("xl/worksheets/sheet2.xml").decode()
    assert re.search(r"<c r=\"D2\"[^>]*><v>2400.00</v></c>", xml), xml[:3000]  # no float ever made the number


def test_text_that_looks_like_a_formula_stays_text(uk, finance_user, django_capture_on_commit_callbacks):
    explain(uk, finance_user)
    sign_off = {"approved_by": {"name": '=HYPERLINK("http://x")', "role": "Director"}}
    run = financial_run(uk, finance_user, django_capture_on_commit_callbacks, sign_off=sign_off)
    book = load_workbook(io.BytesIO(financial_workbook(run.snapshot)))
    cell = next(row[1] for row in book["Summary"].iter_rows() if row[0].value == "Approved by")
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://x")'


# Submission ---------------------------------------------------------------------------------------


@pytest.fixture
def obligation(uk):
    return ReportingObligation.objects.get(pledge=uk.pledge, kind="financial", period_end=dt.date(2025, 12, 31))


def test_submitting_marks_the_obligation_submitted_and_freezes_the_run(run, obligation, finance_user):
    report_run_submit(run=run, obligation=obligation, by=finance_user, on=dt.date(2026, 2, 1))
    obligation.refresh_from_db()
    run.refresh_from_db()
    assert (obligation.status, obligation.submitted_on) == ("submitted", dt.date(2026, 2, 1))
    assert run.obligation == obligation and run.submitted_by == finance_user and run.is_frozen
    assert list(obligation.report_runs.all()) == [run]
    with pytest.raises(FrozenRunError, match="submitted to its funder and cannot be deleted"):
        run.delete()
    with pytest.raises(FrozenRunError):
        run.save()
    newer = ReportRun.objects.create(kind="financial_report", agreement=run.agreement, period_start=run.period_start,
                                     period_end=run.period_end)  # fmt: skip
    with pytest.raises(ReportError, match="frozen: it cannot be replaced"):
        report_run_supersede(old=run, new=newer)
    with pytest.raises(ReportError, match="already submitted"):
        report_run_submit(run=run, obligation=obligation, by=finance_user)


def test_the_database_refuses_to_change_or_delete_a_submitted_run(run, obligation, finance_user):
    report_run_submit(run=run, obligation=obligation, by=finance_user)
    for sql in ("UPDATE reports_reportrun SET status = 'queued' WHERE id = %s",
                "DELETE FROM reports_reportrun WHERE id = %s"):  # fmt: skip
        with (
            pytest.raises(IntegrityError, match="submitted to its funder and is frozen"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [run.pk])


def test_only_a_financial_obligation_of_the_same_pledge_is_answered(run, uk, finance_user):
    narrative = ReportingObligation.objects.filter(pledge=uk.pledge, kind="narrative").first()
    with pytest.raises(ReportError, match="is not a financial report owed under"):
        report_run_submit(run=run, obligation=narrative, by=finance_user)
    run.refresh_from_db()
    assert not run.is_frozen


# The command line ---------------------------------------------------------------------------------


def test_the_command_writes_the_pdf_and_the_workbook(uk, finance_user, tmp_path):
    explain(uk, finance_user)
    out = io.StringIO()
    call_command("financial_report", "--agreement", "UK-1", "--start", "2025-01-01", "--end", "2025-12-31",
                 "--out", str(tmp_path), "--prepared-by", "Ama Mensah", "--prepared-role", "Finance Manager",
                 stdout=out)  # fmt: skip
    run = ReportRun.objects.get()
    pdf, xlsx = tmp_path / f"{run.reader_filename}", tmp_path / run.reader_filename.replace(".pdf", ".xlsx")
    assert pdf.read_bytes() == stored(run) and report_verify(pdf.read_bytes()).ok
    assert xlsx.read_bytes() == financial_workbook(run.snapshot)
    assert f"fingerprint {run.fingerprint}" in out.getvalue()
    assert run.snapshot["sign_off"]["prepared_by"] == {"name": "Ama Mensah", "role": "Finance Manager"}


def test_the_command_refuses_with_each_unexplained_line(uk, tmp_path):
    with pytest.raises(CommandError) as refused:
        call_command("financial_report", "--agreement", "UK-1", "--start", "2025-01-01", "--end", "2025-12-31",
                     "--out", str(tmp_path))  # fmt: skip
    assert "Line A1 Personnel: variance +16.7% passes the 10% threshold and has no explanation" in str(refused.value)
    assert "Line A2 Travel: variance -16.7%" in str(refused.value)
    assert not ReportRun.objects.exists() and not list(tmp_path.iterdir())


def test_the_command_names_an_unknown_agreement(db, tmp_path):
    with pytest.raises(CommandError, match="No agreement with the funder's reference 'NOPE'"):
        call_command("financial_report", "--agreement", "NOPE", "--start", "2025-01-01", "--end", "2025-12-31")
