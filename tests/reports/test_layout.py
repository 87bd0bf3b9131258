"""The renderers' own flowables lay pages out as reportlab's would: a block that outgrows a page,
table cells in reading order, one-line paragraphs."""

import io

from pypdf import PdfReader
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from donors.models import Donor
from reports.charts import fonts_register
from reports.figures import donor_summary_snapshot
from reports.renderers import render
from reports.renderers.base import STYLES
from reports.renderers.flowables import Line

from .conftest import END, START
from .helpers import shown


def pages(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def summary_with_outputs():
    for donor in Donor.objects.filter(ref__in=["DON-0005", "DON-0002", "DON-0001"]).order_by("ref"):
        snap = donor_summary_snapshot(donor=donor, start=START, end=END)
        if snap["outputs"] and snap["pledges"]:
            return snap
    raise AssertionError("the demo has no donor with outputs and pledges in the period")


def test_an_output_taller_than_a_page_flows_onto_the_next_pages(demo):
    snap = summary_with_outputs()
    output = snap["outputs"][0]
    amount = {"amount": "100.00", "currency": snap["base_currency"]}
    output["co_funders"] = [{"name": f"Co-funder {n:03d}", "amount": amount} for n in range(120)]
    text = pages(render(snap))
    with_rows = [page for page in text if "Co-funder " in page]
    assert len(with_rows) >= 2
    for page in with_rows:
        assert "Funding Amount Your share" in page
    names = " ".join(with_rows)
    positions = [names.index(f"Co-funder {n:03d}") for n in range(120)]
    assert positions == sorted(positions)


def test_a_wrapped_cell_is_read_in_its_row_between_its_neighbours(demo):
    snap = summary_with_outputs()
    pledge = snap["pledges"][0]
    pledge["title"] = "Core support for the regional response programme, second phase"
    snap["pledges"] = [pledge]
    text = " ".join(pages(render(snap)))
    assert f"{pledge['ref']} {pledge['title']} {shown(pledge['total'])} {shown(pledge['received'])}" in text


def canvas() -> Canvas:
    fonts_register()
    return Canvas(io.BytesIO())


def test_a_line_that_fits_is_one_leading_high():
    line = Line("Your  funding by\nprogramme", STYLES["h2"])
    assert line.wrapOn(canvas(), 400, 800) == (400, STYLES["h2"].leading)
    assert line.text == "Your funding by programme"


def test_a_line_too_long_for_its_width_wraps_as_its_paragraph_would():
    text = "Donations count at the amount received & their base amount <as posted>. " * 4
    line = Line(text, STYLES["body"])
    paragraph = Paragraph(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"), STYLES["body"])
    assert line.wrapOn(canvas(), 300, 800) == paragraph.wrapOn(canvas(), 300, 800)
    assert line.height > 3 * STYLES["body"].leading
