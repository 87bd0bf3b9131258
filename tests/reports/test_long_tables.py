import io
import re

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
    # The table runs over consecutive pages (wherever the report puts it: page 1 is the impact page).
    numbers = [i for i, text in enumerate(pages) if "LONG-" in text]
    assert len(numbers) >= 3 and numbers == list(range(numbers[0], numbers[-1] + 1))
    with_rows = [pages[i] for i in numbers]
    for text in with_rows:  # the header repeats on every page the table is on
        assert "Received Reference Pledge Amount" in " ".join(text.split())
    # Every row is printed, once, in order: the first on the table's first page, the last on its last.
    printed = re.findall(r"LONG-\d{4}", "".join(with_rows))
    assert printed == [f"LONG-{n:04d}" for n in range(160)]
    assert "LONG-0000" in with_rows[0] and "LONG-0159" in with_rows[-1]
