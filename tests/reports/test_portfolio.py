import datetime as dt
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from backoffice.money import money_round
from donors import services as donor_services
from donors.models import Donation, Donor, Pledge, WriteOff
from grants.models import Allocation, Output
from reports.figures import portfolio_snapshot
from reports.renderers import render
from tests.factories import DonationFactory, DonorFactory, role_user

from .conftest import END, START
from .helpers import (
    closing_rate,
    figure,
    ledger_grow,
    pdf_text,
    pledge_outstanding,
    pledges_at,
    posted,
    shown,
    total,
    total_in,
)


def to_base_at_close(amounts_by_currency) -> Decimal:
    return money_round(sum(v * closing_rate(c, END) for c, v in amounts_by_currency.items()))


def by_currency(rows):
    out = {}
    for currency, amount in rows:
        out[currency] = out.get(currency, Decimal("0")) + amount
    return out


def test_figures_equal_sums_straight_from_the_ledger(demo):
    snap = portfolio_snapshot(start=START, end=END)
    in_period = posted(received_on__gte=START, received_on__lte=END)
    pledges = list(pledges_at(END))
    started = [p for p in pledges if p.start_date >= START]
    written = WriteOff.objects.filter(written_off_on__gte=START, written_off_on__lte=END)
    expected = {
        "received": total(in_period, "base_amount"),
        "pledged": to_base_at_close(by_currency((p.currency, p.total) for p in started)),
        "outstanding": to_base_at_close(by_currency((p.currency, pledge_outstanding(p, END)[0]) for p in pledges)),
        "overdue": to_base_at_close(by_currency((p.currency, pledge_outstanding(p, END)[1]) for p in pledges)),
        "written_off": to_base_at_close(by_currency(written.values_list("pledge__currency", "amount"))),
    }
    for key, value in expected.items():
        assert figure(snap, key)["value"] == {"amount": str(value), "currency": "GBP"}, key
    assert expected["received"] > 0 and expected["written_off"] > 0

    received = expected["received"]
    assert sum(Decimal(r["amount"]["amount"]) for r in snap["by_kind"]) == received
    assert sum(Decimal(r["amount"]["amount"]) for r in snap["by_year"]) == received
    assert sum(Decimal(r["base"]["amount"]) for r in snap["by_currency"]) == received
    for r in snap["by_currency"]:
        assert r["amount"]["amount"] == str(total_in(in_period.filter(currency=r["label"]), r["label"]))
    for r in snap["by_kind"]:
        kind = next(k for k, label in Donor.Kind.choices if label == r["label"])
        assert r["amount"]["amount"] == str(total(in_period.filter(donor__kind=kind), "base_amount"))
    top = snap["top_donors"][0]
    assert top["amount"]["amount"] == str(total(in_period.filter(donor__ref=top["ref"]), "base_amount"))

    allocated = Allocation.objects.filter(donation__isnull=False, allocated_on__gte=START, allocated_on__lte=END)
    assert snap["allocation_split"][0]["amount"]["amount"] == str(total(allocated))
    assert sum(Decimal(r["amount"]["amount"]) for r in snap["by_programme"]) == total(allocated)
    assert len(snap["outputs"]) == Output.objects.count()
    for o in snap["outputs"]:
        funded = total(
            Allocation.objects.filter(output_id=o["output_id"], donation__isnull=False, allocated_on__lte=END)
        )
        budget = money_round(Output.objects.get(pk=o["output_id"]).budget)  # base currency, stored with 3 places
        assert o["allocated"]["amount"] == str(funded)
        assert o["gap"]["amount"] == str(budget - funded)

    unallocated = total(posted(), "base_amount") - total(Allocation.objects.filter(donation__isnull=False))
    split = [Decimal(r["amount"]["amount"]) for r in snap["allocation_split"][1:]]
    assert sum(split) == unallocated

    text = pdf_text(render(snap))
    for f in snap["figures"]:
        assert shown(f["value"]) in text
    for r in snap["by_currency"] + snap["top_donors"] + snap["outputs"]:
        assert shown(r["amount"] if "amount" in r else r["allocated"]) in text
    assert text.count("Page ") >= 2 and "Page 1 of " in text


def test_same_snapshot_renders_byte_identical_pdfs(demo):
    snap = portfolio_snapshot(start=START, end=END)
    assert render(snap) == render(snap)


def test_query_count_does_not_grow_with_data(demo):
    with CaptureQueriesContext(connection) as small:
        portfolio_snapshot(start=START, end=END)
    ledger_grow(
        ref_prefix="DON-9", count=5, by=role_user("Finance", username="report-finance"),
        pledge_start=dt.date(2025, 2, 1), pledge_end=dt.date(2026, 1, 31),
    )  # fmt: skip
    with CaptureQueriesContext(connection) as large:
        snap = portfolio_snapshot(start=START, end=END)
    assert len(snap["outputs"]) == Output.objects.count()
    assert Pledge.objects.count() > 5 and Donation.objects.count() > 5
    assert len(large) == len(small)


def test_top_donors_with_equal_totals_are_ordered_by_ref(demo):
    finance = role_user("Finance", username="report-finance")
    created_first = DonorFactory(ref="DON-9998")  # the lower id, so id order and ref order disagree
    created_second = DonorFactory(ref="DON-9997")
    for donor in (created_first, created_second):
        donor_services.donation_post(
            donation=DonationFactory(donor=donor, received_on=dt.date(2025, 5, 1), amount=Decimal("90000000.00")),
            by=finance,
        )
    snap = portfolio_snapshot(start=START, end=END)
    assert [d["ref"] for d in snap["top_donors"][:2]] == ["DON-9997", "DON-9998"]
    assert snap["top_donors"][0]["amount"] == {"amount": "90000000.00", "currency": "GBP"}


def test_each_kind_of_donor_keeps_its_colour_in_the_portfolio_pie(demo, monkeypatch):
    """The pie takes each kind's own colour, the dashboard's, whatever the kinds' order by amount."""
    from reports import charts
    from reports.renderers.base import ReportRenderer

    drawn = []
    pie_chart = ReportRenderer.pie_chart
    monkeypatch.setattr(
        ReportRenderer,
        "pie_chart",
        lambda self, labels, values, **kw: drawn.append((labels, kw)) or pie_chart(self, labels, values, **kw),
    )
    snap = portfolio_snapshot(start=START, end=END)
    assert len(snap["by_kind"]) >= 2
    render(snap)
    snap["by_kind"].reverse()
    render(snap)
    (first, _), (second, _) = drawn
    kinds = [label for _, label in Donor.Kind.choices]
    assert first == second[::-1]
    for labels, kw in drawn:
        assert kw["colours"] == [charts.SERIES[kinds.index(label) % len(charts.SERIES)] for label in labels]
