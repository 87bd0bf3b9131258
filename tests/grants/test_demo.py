import io
import re
from decimal import Decimal

from django.core.management import call_command
from django.db.models import Q, Sum

from donors.models import Donor, Pledge
from grants import selectors
from grants.models import Allocation, Indicator, Output, Programme, ReportingObligation

GRANT_COUNTS = (
    "programmes",
    "outputs",
    "indicators",
    "restricted pledges",
    "allocations",
    "planned allocations",
    "reporting obligations",
)


def created(summary: str) -> dict[str, int]:
    """What seed_demo's summary line ("Demo data: created 12 donors, ...") says it created."""
    return {what: int(n) for n, what in re.findall(r"(\d+) ([a-z -]+?)(?:,|\.)", summary)}


def seed() -> dict[str, int]:
    out = io.StringIO()
    call_command("seed_demo", "--demo-users", stdout=out)
    return created(out.getvalue().splitlines()[0])


def test_demo_funding_adds_up_for_every_donor_and_co_funded_output_and_reruns_create_nothing(demo_data, db):
    """On the demo every test process seeds (`seed_demo --demo-users`), then seeded again."""
    assert Programme.objects.exists() and Indicator.objects.exists() and ReportingObligation.objects.exists()
    assert Pledge.objects.filter(Q(restricted_output__isnull=False) | Q(restricted_programme__isnull=False)).exists()
    assert Allocation.objects.filter(donation__isnull=False).exists()
    assert Allocation.objects.filter(pledge__isnull=False).exists()

    # Every donor: their allocations equal the sum of their per-output amounts.
    for donor in Donor.objects.all():
        allocated = Allocation.objects.filter(donation__donor=donor).aggregate(t=Sum("amount"))["t"] or Decimal("0")
        rows = selectors.donor_output_funding(donor=donor)
        assert sum((r.donor_amount for r in rows), Decimal("0")) == allocated, donor.name

    # Every co-funded output: the donors' amounts add up to the output's allocated total.
    funding = {f.output_id: f for f in selectors.output_funding()}
    co_funded = 0
    for output in Output.objects.all():
        funders = selectors.output_funders(output=output)
        assert sum((f.amount for f in funders), Decimal("0")) == funding[output.pk].allocated
        if len(funders) > 1:
            co_funded += 1
            assert abs(sum(f.share for f in funders) - 1) <= Decimal("0.0001") * len(funders)
    assert co_funded >= 5

    # The demo shows every case: restricted and unrestricted money left, a cancelled output
    # with nothing allocated, planned money, and overdue reports.
    balance = selectors.unallocated_balance()
    assert balance.restricted > 0 and balance.unrestricted > 0 and balance.by_restriction
    cancelled = Output.objects.get(status=Output.Status.CANCELLED)
    assert funding[cancelled.pk].allocated == 0
    assert any(f.planned > 0 for f in funding.values())
    assert selectors.obligations_overdue().exists()

    second = seed()
    assert {what: second[what] for what in GRANT_COUNTS} == dict.fromkeys(GRANT_COUNTS, 0)
