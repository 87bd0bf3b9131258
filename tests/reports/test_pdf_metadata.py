"""What a PDF reader and a screen reader need from every report: the language, a bookmark per
section shown on open, the title displayed, and the snapshot's as-of date as the file's dates."""

import io

import pytest
from pypdf import PdfReader

from donors.models import Donor
from reports.figures import donor_summary_snapshot, output_statement_snapshot, portfolio_snapshot
from reports.renderers import render

from .conftest import END, START
from .test_output_statement import AS_OF, co_funded_output

# Each kind's section headings, in the order the report prints them (the demo data fills every section).
SECTIONS = {
    "donor_summary": [
        "Your giving at a glance",
        "What your money paid for, and what came of it",
        "Where your money went, by programme",
        "Still to come",
        "Your giving",
        "Your pledges",
        "How your pledges add up",
        "Donations received in this period",
        "The outputs you funded",
        "Instalments and reports to come",
    ],
    "portfolio": [
        "Headline figures",
        "Allocated and unallocated",
        "Pledges at the period end: how they add up",
        "Received by year",
        "Received by kind of donor",
        "Received by currency",
        "Top donors in the period",
        "Allocated in the period by programme",
        "Funding against budget",
        "Overdue pledges at period end",
        "Reports owed to donors (overdue and due within 90 days)",
    ],
    "output_statement": ["Budget and funding", "Funders", "Funding over time", "Results"],
}


def snapshot_of(kind: str) -> tuple[dict, str, str]:
    """A demo snapshot of `kind`, the title its PDF must carry, and its as-of date as a PDF date."""
    if kind == "donor_summary":
        donor = Donor.objects.get(ref="DON-0001")
        snapshot = donor_summary_snapshot(donor=donor, start=START, end=END)
        return snapshot, f"Impact summary: {donor.name} · 1 Jan 2025 – 31 Dec 2025", "D:20251231"
    if kind == "portfolio":
        return portfolio_snapshot(start=START, end=END), "Funding portfolio: 1 Jan 2025 – 31 Dec 2025", "D:20251231"
    output = co_funded_output()
    return output_statement_snapshot(output=output, as_of=AS_OF), f"Output statement: {output.title}", "D:20260630"


def page_texts(reader: PdfReader) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in reader.pages]


@pytest.mark.parametrize("kind", SECTIONS)
def test_every_report_carries_what_a_reader_and_a_screen_reader_need(demo, kind):
    snapshot, title, as_of = snapshot_of(kind)
    pdf = render(snapshot)
    reader = PdfReader(io.BytesIO(pdf))
    catalog = reader.trailer["/Root"]

    assert catalog["/Lang"] == "en-GB"
    assert catalog["/PageMode"] == "/UseOutlines"
    assert catalog["/ViewerPreferences"]["/DisplayDocTitle"].value is True  # a PDF boolean
    assert reader.metadata["/Title"] == title
    assert reader.metadata["/CreationDate"] == as_of
    assert reader.metadata["/ModDate"] == as_of

    outline = reader.outline
    assert [entry.title for entry in outline] == SECTIONS[kind]
    # Each bookmark leads to the page its heading is printed on, at the heading, in reading order.
    texts = page_texts(reader)
    read_to = (0, -1)
    for entry in outline:
        page = reader.get_destination_page_number(entry)
        assert entry.title in texts[page], f"{entry.title!r} is not on page {page + 1}, where its bookmark leads"
        assert entry["/Type"] == "/XYZ"
        at = (page, texts[page].index(entry.title))
        assert at > read_to, f"{entry.title!r} comes before the previous section"
        read_to = at

    assert render(snapshot) == pdf  # the dates come from the snapshot, not the clock


def test_the_language_comes_from_the_snapshot_when_it_names_one(demo):
    snapshot, _, _ = snapshot_of("donor_summary")
    reader = PdfReader(io.BytesIO(render({**snapshot, "language": "fr"})))
    assert reader.trailer["/Root"]["/Lang"] == "fr"


def test_the_dates_follow_the_as_of_date(demo):
    """Two statements of one output at two dates: each file is dated at its own as-of date."""
    output = co_funded_output()
    dates = [
        PdfReader(io.BytesIO(render(output_statement_snapshot(output=output, as_of=day)))).metadata["/CreationDate"]
        for day in (END, AS_OF)
    ]
    assert dates == ["D:20251231", "D:20260630"]
