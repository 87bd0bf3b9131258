"""Agreements with an approved budget, for the spending tests."""

import datetime as dt
from decimal import Decimal

from donors.models import Donor
from spending import services
from spending.services import NewLine
from tests.factories import DonorFactory, PledgeFactory

START, END = dt.date(2025, 1, 1), dt.date(2026, 12, 31)


def agreement_with_budget(*, currency="GBP", funder_ref="UK-1", indirect_rate=Decimal("0"), lines=None, **terms):
    """An active agreement over 2025-2026 with an approved original budget: by default A1 staff
    (1,200 a year), A2 travel (600 a year) and, when there is an indirect rate, IND indirect (100 a year)."""
    donor = DonorFactory(kind=Donor.Kind.GOVERNMENT)
    pledge = PledgeFactory(donor=donor, currency=currency, total=Decimal("100000.00"), start_date=START, end_date=END)
    agreement = services.agreement_create(
        pledge=pledge, funder_ref=funder_ref, start_date=START, end_date=END, indirect_rate=indirect_rate,
        status="active", **terms,
    )  # fmt: skip
    if lines is None:
        kinds = [("A1", "personnel", "1200.00"), ("A2", "travel", "600.00")]
        if indirect_rate:
            kinds.append(("IND", "indirect", "100.00"))
        lines = [
            NewLine(code=code, category=category, year=year, amount=Decimal(amount))
            for year in (2025, 2026)
            for code, category, amount in kinds
        ]
    version = services.budget_version_create(agreement=agreement, lines=lines)
    services.budget_version_approve(version=version, approved_on=START)
    return agreement


def line(agreement, code, year=2025):
    return services.current_budget(agreement).lines.get(code=code, year=year)
