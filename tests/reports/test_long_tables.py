import io

from django.db.models import Count
from pypdf import PdfReader

from donors.models import Donor
from reports.figures import donor_summary_snapshot
from reports.renderers import render

from .conftest import END, START


def test_long_donations_table_repeats_its_header_on_every_page(demo):
    donor = (
        Donor.objects.filter(donations__received_on__range=(START, END))
        .annotate(n=Count("donations"))
        .order_by("-n", "ref")
        .first()
    )
    snap = donor_summary_snapshot(donor=donor, start=START, end=END)
    row = snap["donations"][0]
    snap["donations"] = [{**row, "reference": f"LONG-{n:04d}"} for n in range(160)]
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(render(snap))).pages]
    with_rows = [text for text in pages if "LONG-" in text]
    assert len(with_rows) >= 3
    for text in with_rows:
        assert "Received Reference Pledge Amount" in " ".join(text.split())
    assert "LONG-0000" in pages[0] + pages[1] and "LONG-0159" in "".join(pages)
