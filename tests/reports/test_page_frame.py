"""Every page speaks for the organisation (its profile, as recorded in the snapshot): its logo and name in
the header, its name, registration and the way to verify the report in the footer; and a report not for
donors says so on every page. Checked on each page's text as pdftotext reads it."""

import io
import subprocess

import pytest
from django.core.files.base import ContentFile
from PIL import Image
from pypdf import PdfReader

from backoffice.models import Organisation
from donors.models import Donor
from reports.figures import donor_summary_snapshot, output_statement_snapshot, portfolio_snapshot
from reports.renderers import render
from reports.renderers.frame import INTERNAL

from .conftest import END, START
from .test_output_statement import AS_OF, co_funded_output


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text, one pdftotext call per page (poppler-utils)."""
    count = len(PdfReader(io.BytesIO(pdf)).pages)
    return [
        subprocess.run(
            ["pdftotext", "-f", str(n), "-l", str(n), "-", "-"], input=pdf, capture_output=True, check=True
        ).stdout.decode()
        for n in range(1, count + 1)
    ]


def test_every_page_of_a_donor_summary_speaks_for_the_organisation(demo):
    snapshot = donor_summary_snapshot(donor=Donor.objects.get(ref="DON-0001"), start=START, end=END)
    pages = pages_text(render(snapshot))
    assert len(pages) > 1
    for text in pages:
        assert "Safe Online Alliance" in text
        assert "1 Example Street, London EC1A 1AA, United Kingdom" in text
        assert "Registered charity 1234567 (England and Wales) · partnerships@alliance.example.org" in text
        assert "Verify this report at http://testserver/verify/ — fingerprint " in text
        assert "Fundtrace" not in text and "manage.py" not in text
        assert INTERNAL not in text  # a donor summary is for the donor


@pytest.mark.parametrize("kind", ["portfolio", "internal output statement"])
def test_every_page_of_an_internal_report_says_it_is_not_for_donors(demo, kind):
    if kind == "portfolio":
        snapshot = portfolio_snapshot(start=START, end=END)
    else:
        snapshot = output_statement_snapshot(output=co_funded_output(), as_of=AS_OF, external=False)
    assert snapshot["internal"] is True
    pages = pages_text(render(snapshot))
    assert [i for i, text in enumerate(pages) if "Internal — not for donors" not in text] == []


def test_an_external_output_statement_is_not_marked_internal(demo):
    snapshot = output_statement_snapshot(output=co_funded_output(), as_of=AS_OF, external=True)
    assert not any(INTERNAL in text for text in pages_text(render(snapshot)))


def test_the_snapshot_keeps_the_profile_so_a_later_edit_never_changes_an_old_report(demo):
    donor = Donor.objects.get(ref="DON-0001")
    before = donor_summary_snapshot(donor=donor, start=START, end=END)
    pdf = render(before)
    assert before["organisation"]["logo"]["format"] == "svg"  # seed_demo's logo

    profile = Organisation.current()
    png = io.BytesIO()
    Image.new("RGB", (200, 100), "#2f5d8a").save(png, "PNG")
    profile.name, profile.registration = "Renamed Alliance", "Company 0000001"
    profile.logo = ContentFile(png.getvalue(), name="new.png")
    profile.full_clean()
    profile.save()

    assert render(before) == pdf  # the old snapshot draws the old name and the old logo, byte for byte
    after = donor_summary_snapshot(donor=donor, start=START, end=END)
    assert after["organisation"]["logo"]["format"] == "png"
    text = pages_text(render(after))[0]
    assert "Renamed Alliance" in text and "Company 0000001" in text and "Safe Online Alliance" not in text


def test_an_svg_logo_is_drawn_once_and_shown_on_every_page(demo):
    """The logo's paths are in the file once, as a form (an XObject) that each page shows by name."""
    reader = PdfReader(
        io.BytesIO(render(donor_summary_snapshot(donor=Donor.objects.get(ref="DON-0001"), start=START, end=END)))
    )
    assert len(reader.pages) > 1
    shown = set()
    for page in reader.pages:
        forms = page["/Resources"]["/XObject"]
        (name,) = [name for name in forms if name.startswith("/FormXob.logo-")]
        assert f"{name} Do".encode() in page.get_contents().get_data()
        shown.add(forms.raw_get(name).idnum)
    assert len(shown) == 1  # one form, the same object on every page
