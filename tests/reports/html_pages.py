"""Helpers for the HTML versions of reports: make the three kinds' runs, read a page's tables."""

import datetime as dt

from lxml import html as lxml_html

from donors.models import Donor
from grants.models import Output
from reports.models import ReportRun
from reports.renderers.base import fmt_money
from reports.services import report_run_generate

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)


def runs_made(by=None) -> dict[str, ReportRun]:
    """One done run of each kind on the report tests' demo data (tests/reports/conftest.py):
    the summary of the donor with the most outputs, the portfolio and an output with funders."""
    output = Output.objects.get(title="Model National Response toolkit, 2nd edition")
    runs = {
        "donor_summary": ReportRun(kind="donor_summary", donor=Donor.objects.get(ref="DON-0001")),
        "portfolio": ReportRun(kind="portfolio"),
        "output_statement": ReportRun(kind="output_statement", output=output, period_end=END),
    }
    for kind, run in runs.items():
        if kind != "output_statement":
            run.period_start, run.period_end = START, END
        run.requested_by = by
        run.save()
        runs[kind] = report_run_generate(run_id=run.pk)
        assert runs[kind].status == ReportRun.Status.DONE, runs[kind].error
    return runs


def money_in(snapshot) -> set[str]:
    """Every amount the snapshot holds, as the PDF prints it."""
    found = set()
    if isinstance(snapshot, dict):
        if set(snapshot) == {"amount", "currency"}:
            return {fmt_money(snapshot)}
        for value in snapshot.values():
            found |= money_in(value)
    elif isinstance(snapshot, list):
        for value in snapshot:
            found |= money_in(value)
    return found


def page_text(content: bytes) -> str:
    return " ".join(lxml_html.fromstring(content).text_content().split())


def table_rows(content: bytes, selector: str) -> list[list[str]]:
    """The cells' text of each row of the tables matching an XPath `selector`."""
    tree = lxml_html.fromstring(content)
    return [
        [" ".join(cell.text_content().split()) for cell in row.xpath("./th|./td")]
        for table in tree.xpath(selector)
        for row in table.xpath(".//tr")
    ]
