import datetime as dt
import re
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from backoffice.money import money_round
from donors import services as donor_services
from donors.models import Donor
from grants.models import Allocation, Output
from reports.figures import output_statement_snapshot
from reports.renderers import render
from tests.factories import AllocationFactory, DonationFactory, DonorFactory, IndicatorFactory, role_user

from .conftest import END
from .helpers import figure, pdf_text, shown, total

AS_OF = dt.date(2026, 6, 30)


def co_funded_output() -> Output:
    """The demo output with the most funders (named by data, not by guess)."""
    outputs = Output.objects.all()
    return max(outputs, key=lambda o: Allocation.objects.filter(output=o).values("donation__donor").distinct().count())


def test_figures_equal_sums_straight_from_the_ledger(demo):
    output = co_funded_output()
    snap = output_statement_snapshot(output=output, as_of=AS_OF, external=True)
    to_date = Allocation.objects.filter(output=output, allocated_on__lte=AS_OF)
    budget = money_round(output.budget)  # in the base currency, stored with three places
    received = total(to_date.filter(donation__isnull=False))
    planned = total(to_date.filter(pledge__isnull=False))
    assert figure(snap, "budget")["value"]["amount"] == str(budget)
    assert figure(snap, "allocated")["value"]["amount"] == str(received)
    assert figure(snap, "planned")["value"]["amount"] == str(planned)
    assert figure(snap, "gap")["value"]["amount"] == str(budget - received)
    assert sum(Decimal(f["amount"]["amount"]) for f in snap["funders"]) == received
    assert Decimal(snap["over_time"][-1]["cumulative"]["amount"]) == received
    assert sum(Decimal(m["planned"]["amount"]) for m in snap["over_time"]) == planned
    assert len(snap["indicators"]) == output.indicators.count()

    text = pdf_text(render(snap))
    for f in snap["figures"]:
        assert shown(f["value"]) in text
    for f in snap["funders"]:
        assert shown(f["amount"]) in text


def test_external_statement_names_only_acknowledged_funders(demo):
    output = co_funded_output()
    funder_ids = Allocation.objects.filter(output=output, donation__isnull=False, allocated_on__lte=AS_OF).values(
        "donation__donor"
    )
    hidden = Donor.objects.filter(pk__in=funder_ids, publicly_acknowledged=False)
    named = Donor.objects.filter(pk__in=funder_ids, publicly_acknowledged=True)
    assert hidden.exists() and named.exists()

    external = pdf_text(render(output_statement_snapshot(output=output, as_of=AS_OF, external=True)))
    internal = pdf_text(render(output_statement_snapshot(output=output, as_of=AS_OF, external=False)))
    for donor in hidden:
        assert donor.name not in external
        assert donor.name in internal
    for donor in named:
        assert donor.name in external
    assert "Other funders" in external


def test_same_snapshot_renders_byte_identical_pdfs(demo):
    snap = output_statement_snapshot(output=co_funded_output(), as_of=AS_OF)
    assert render(snap) == render(snap)


def test_query_count_does_not_grow_with_data(demo):
    output = co_funded_output()
    with CaptureQueriesContext(connection) as small:
        output_statement_snapshot(output=output, as_of=AS_OF)
    finance = role_user("Finance", username="report-finance")
    for k in range(5):
        d = donor_services.donation_post(
            donation=DonationFactory(donor=DonorFactory(ref=f"DON-8{k:03d}"), received_on=END, amount=Decimal("80.00")),
            by=finance,
        )
        AllocationFactory(donation=d, output=output, amount=Decimal("40.00"), allocated_on=dt.date(2026, 1, 5 + k))
        IndicatorFactory(output=output)
    with CaptureQueriesContext(connection) as large:
        snap = output_statement_snapshot(output=output, as_of=AS_OF)
    assert len(snap["indicators"]) >= 5
    assert len(large) == len(small)


def test_a_long_funding_history_is_grouped_so_the_axis_labels_never_crowd(demo):
    """An output funded over four years showed 47 month labels in one smear; now at most 16 periods."""
    import datetime as dt

    from django.db.models.functions import TruncMonth

    from reports.figures import PERIODS_SHOWN

    end = dt.date(2025, 12, 31)
    months = {
        o.pk: Allocation.objects.filter(output=o, allocated_on__lte=end)
        .annotate(m=TruncMonth("allocated_on"))
        .values("m")
        .distinct()
        .count()
        for o in Output.objects.all()
    }
    output = Output.objects.get(pk=max(months, key=months.get))
    assert months[output.pk] > PERIODS_SHOWN
    snap = output_statement_snapshot(output=output, as_of=end)
    assert snap["over_time_by"] in ("quarter", "year")
    assert 1 < len(snap["over_time"]) <= PERIODS_SHOWN
    pattern = r"\d{4} Q[1-4]" if snap["over_time_by"] == "quarter" else r"\d{4}"
    assert all(re.fullmatch(pattern, row["period"]) for row in snap["over_time"])
    received = total(Allocation.objects.filter(output=output, donation__isnull=False, allocated_on__lte=end))
    assert sum(Decimal(row["received"]["amount"]) for row in snap["over_time"]) == received
    assert Decimal(snap["over_time"][-1]["cumulative"]["amount"]) == received
    text = " ".join(pdf_text(render(snap)).split())
    assert f"{snap['over_time_by'].capitalize()} Received and allocated" in text
