"""How the renderers lay pages out: a block that outgrows a page, table cells in reading order,
every font embedded."""

import io
import json
from pathlib import Path

from pypdf import PdfReader

from donors.models import Donor
from reports.figures import donor_summary_snapshot, report_voice
from reports.renderers import render

from .conftest import END, START
from .helpers import shown

DATA = Path(__file__).resolve().parent / "data"


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
    output["co_funders_table"] = True  # as for a lead funder
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


def fonts(pdf: bytes) -> dict[str, bool]:
    """Every font the pages and their forms use, and whether the file embeds it."""
    found = {}

    def visit(resources):
        for font in resources.get("/Font", {}).values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            found[str(font["/BaseFont"])] = descriptor is not None and "/FontFile2" in descriptor.get_object()
        for xobject in resources.get("/XObject", {}).values():
            xobject = xobject.get_object()
            if "/Resources" in xobject:
                visit(xobject["/Resources"].get_object())

    for page in PdfReader(io.BytesIO(pdf)).pages:
        visit(page["/Resources"].get_object())
    return found


def test_every_font_is_embedded_charts_and_page_numbers_included(db):
    # A stored snapshot, with the organisation that speaks, as today's snapshots record it (the frame prints it).
    stored = json.loads((DATA / "donor_summary_renderer_3.json").read_text(encoding="utf-8"))
    snapshot = stored | report_voice(internal=False)
    assert snapshot["by_programme"]  # the summary draws its bar chart
    found = fonts(render(snapshot))
    assert {name.split("+")[-1] for name in found} == {"DejaVuSans", "DejaVuSans-Bold"}
    assert all(found.values()), found
