"""The donor summary as an impact report: page 1 answers at a glance, the detail follows once,
co-funding in one line; reports owed carry their derived state (due, overdue) in every report."""

import datetime as dt
import io
from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext as _
from pypdf import PdfReader

from donors.models import Donor
from grants.models import ReportingObligation
from grants.selectors import CoFunders
from reports.figures import co_funding_line, donor_summary_snapshot, portfolio_snapshot
from reports.renderers import render

from .conftest import END, START
from .helpers import pdf_text, shown


def pages(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def summaries():
    for donor in Donor.objects.order_by("ref"):
        snapshot = donor_summary_snapshot(donor=donor, start=START, end=END)
        yield donor, snapshot, pages(render(snapshot))


def as_extracted(value: dict) -> str:
    """An amount as `pages` reads it: French groups digits with no-break spaces, which it folds into spaces."""
    return " ".join(shown(value).split())


def test_page_one_answers_at_a_glance_for_every_demo_donor(demo):
    largest = None
    for donor, snap, text in summaries():
        first = text[0]
        with translation.override(snap["language"]):  # the demo's French-speaking donors read French
            for label in ("Received in this period", "Outstanding on pledges", "Still to come"):
                assert _(label) in first, (donor.ref, label)
            for key in ("received_in_period", "received_to_date", "outstanding"):
                figure = next(f for f in snap["figures"] if f["key"] == key)["value"]
                assert as_extracted(figure) in first, (donor.ref, key)
            for o in snap["outputs"]:  # every output with the donor's money in it, and its results as bars
                title = " ".join(o["title"].split())
                assert f"{title} {as_extracted(o['donor_amount'])}" in first, (donor.ref, o["title"])
                for i in o["indicators"]:
                    assert i["name"][:8] in first, (donor.ref, i["name"])
            if snap["by_programme"]:
                assert _("Where your money went, by programme") in first
                for p in snap["by_programme"]:
                    assert as_extracted(p["amount"]) in first
        if largest is None or len(snap["outputs"]) > len(largest[1]["outputs"]):
            largest = donor, snap, text
        if len(snap["outputs"]) <= 2:  # a donor with one or two outputs gets two pages, not nine
            assert len(text) <= 2, (donor.ref, len(text))
    donor, snap, text = largest
    assert len(snap["outputs"]) >= 10
    assert "Your giving at a glance" in text[0] and "Your giving at a glance" not in " ".join(text[1:])
    assert len(text) <= 5, f"{donor.ref}: {len(text)} pages for {len(snap['outputs'])} outputs"


def test_co_funding_is_one_line_per_output_and_a_table_only_for_a_lead_funder(demo):
    donor, snap, text = next((d, s, t) for d, s, t in summaries() if d.ref == "DON-0004")
    body = " ".join(text)
    for o in snap["outputs"]:
        assert Decimal(o["share"]) < Decimal("0.25") and not o["co_funders_table"]
        assert o["co_funding"] in body or o["co_funding"][:60] in body
    assert "Other funders (" not in body  # no output's full list of funders: the donor leads none
    lead = [o for _, s, _ in summaries() for o in s["outputs"] if Decimal(o["share"]) >= Decimal("0.25")]
    assert lead and all(o["co_funders_table"] == bool(o["co_funders"]) for o in lead)


def test_the_co_funding_line_names_three_and_counts_the_rest_never_naming_the_unacknowledged():
    named = [(f"Funder {c}", Decimal(100 - n)) for n, c in enumerate("ABCDE")]
    line = co_funding_line(CoFunders(named=named, others_count=10, others_amount=Decimal("5.00")))
    assert line == "with Funder A, Funder B, Funder C and 12 other funders"
    assert co_funding_line(CoFunders(named=[], others_count=1, others_amount=Decimal("5.00"))) == "with 1 other funder"
    assert co_funding_line(CoFunders(named=named[:2], others_count=0, others_amount=Decimal(0))) == (
        "with Funder A and Funder B"
    )
    assert co_funding_line(None) == ""


def test_a_past_due_report_is_overdue_not_coming_up(demo):
    donor = Donor.objects.get(ref="DON-0001")
    overdue = ReportingObligation.objects.get(pledge__donor=donor, due_date=dt.date(2025, 11, 30))
    assert overdue.status == ReportingObligation.Status.PENDING
    snap = donor_summary_snapshot(donor=donor, start=START, end=END)
    states = {o["due_date"]: o["state"] for o in snap["obligations"]}
    assert states["2025-11-30"] == "Overdue"
    assert states["2026-02-28"] == "Due"
    text = pdf_text(render(snap))
    assert f"30 Nov 2025 Narrative {overdue.pledge.ref} Overdue" in " ".join(text.split())
    assert "Pending" not in text


def test_the_portfolio_says_overdue_on_reports_owed_since_2023(demo):
    snap = portfolio_snapshot(start=START, end=END)
    rows = snap["obligations"]
    assert any(r["due_date"] < "2024-01-01" for r in rows)
    for r in rows:
        assert r["state"] == ("Overdue" if r["due_date"] < END.isoformat() else "Due"), r
    text = " ".join(pdf_text(render(snap)).split())
    assert "Pending" not in text
    old = next(r for r in rows if r["due_date"] < "2024-01-01")
    assert f"{old['pledge']} " in text and "Overdue" in text
