"""Every demo report drawn to page images with pdftoppm (poppler-utils), as a reader sees it:
no page but the last is more than 60% blank, and every chart shares its page with its table.

A chart and its table are named destinations in the PDF (`ReportRenderer.chart_with_table`):
`chart-n` where the chart is drawn and `chart-n-table` where its table starts.
"""

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from donors.models import Donor
from grants.models import Output
from reports.figures import donor_summary_snapshot, output_statement_snapshot, portfolio_snapshot
from reports.renderers import render
from tests.conftest import REQUIRE_SERVICES

from .conftest import END, START

DPI = 24
MM = DPI / 25.4  # pixels per millimetre
BLANK_MOST = 0.60
HEADER, FOOTER = 15, 14  # mm: the header's and the footer's rules, from the top and the bottom edge


@pytest.fixture(scope="module")
def pdftoppm():
    found = shutil.which("pdftoppm")
    if not found:
        reason = "pdftoppm is missing (apt-get install poppler-utils)"
        if REQUIRE_SERVICES:
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def page_images(pdf: bytes, tmp_path: Path, pdftoppm: str) -> list[Image.Image]:
    source = tmp_path / "report.pdf"
    source.write_bytes(pdf)
    subprocess.run([pdftoppm, "-gray", "-png", "-r", str(DPI), source, tmp_path / "page"], check=True)
    pages = sorted(tmp_path.glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [Image.open(p).convert("L") for p in pages]


def blank_share(page: Image.Image) -> float:
    """The share of the page's body (between the header and footer rules) in pixel rows with no ink."""
    top, bottom = round(HEADER * MM) + 2, page.height - round(FOOTER * MM) - 2
    rows = [page.crop((0, y, page.width, y + 1)).getextrema()[0] for y in range(top, bottom)]
    return sum(1 for darkest in rows if darkest > 245) / len(rows)


def chart_pages(pdf: bytes) -> dict[str, int]:
    reader = PdfReader(io.BytesIO(pdf))
    pages = {name.lstrip("/"): reader.get_destination_page_number(d) for name, d in reader.named_destinations.items()}
    return {name: page + 1 for name, page in pages.items() if name.startswith("chart-")}


def demo_reports():
    """Every report the demo gives: each donor's summary, the portfolio and each output's statement."""
    for donor in Donor.objects.order_by("ref"):
        yield f"donor summary {donor.ref}", donor_summary_snapshot(donor=donor, start=START, end=END)
    yield "portfolio", portfolio_snapshot(start=START, end=END)
    for output in Output.objects.order_by("pk"):
        yield f"output statement {output.pk}", output_statement_snapshot(output=output, as_of=END)


def problems_of(name: str, pdf: bytes, folder: Path, pdftoppm: str) -> tuple[list[str], int]:
    """What a reader would find wrong on the pages of `pdf`, and how many charts it draws."""
    folder.mkdir()
    images = page_images(pdf, folder, pdftoppm)
    assert images and len(images) == len(PdfReader(io.BytesIO(pdf)).pages)
    problems = []
    for number, image in enumerate(images[:-1], start=1):  # the last page ends where the report does
        if (share := blank_share(image)) > BLANK_MOST:
            problems.append(f"{name}: page {number} of {len(images)} is {share:.0%} blank")
    pages = chart_pages(pdf)
    charts = [key for key in pages if not key.endswith("-table")]
    for key in charts:
        if pages.get(f"{key}-table") != pages[key]:
            problems.append(f"{name}: {key} is on page {pages[key]}, its table on page {pages.get(f'{key}-table')}")
    return problems, len(charts)


def test_every_demo_report_reads_on_its_pages(demo, tmp_path, pdftoppm):
    problems, charts, kinds = [], 0, set()
    for n, (name, snapshot) in enumerate(demo_reports()):
        kinds.add(snapshot["kind"])
        found, drawn = problems_of(name, render(snapshot), tmp_path / str(n), pdftoppm)
        problems += found
        charts += drawn
    assert kinds == {"donor_summary", "portfolio", "output_statement"}
    assert charts >= 20  # the demo draws charts in every kind of report
    assert not problems, "\n".join(problems)


def test_the_checks_see_a_mostly_blank_page_and_a_chart_apart_from_its_table(demo, tmp_path, pdftoppm):
    """The checks above can fail: a statement whose chart is drawn on one page and its table on
    the next (which leaves the chart's page part blank) is caught on both counts."""
    from reportlab.platypus import KeepTogether, PageBreak

    from reports.renderers.output_statement import OutputStatementRenderer

    class Apart(OutputStatementRenderer):
        def chart_with_table(self, *flowables):
            kept = super().chart_with_table(*flowables)  # names the chart and its table
            return KeepTogether([*kept.lead, kept.chart, PageBreak(), kept.table])

    output = Output.objects.order_by("pk").first()
    snapshot = output_statement_snapshot(output=output, as_of=END)
    assert snapshot["over_time"]
    problems, charts = problems_of("apart", Apart().render(snapshot), tmp_path / "apart", pdftoppm)
    assert charts == 1
    assert any(re.fullmatch(r"apart: chart-1 is on page (\d), its table on page (?!\1)\d", p) for p in problems), (
        problems
    )
    assert any(re.fullmatch(r"apart: page \d of \d is \d+% blank", p) for p in problems), problems
    assert problems_of("together", render(snapshot), tmp_path / "together", pdftoppm)[0] == []
