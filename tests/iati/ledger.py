"""Small ledgers for the IATI tests, made through the services, and the XML read back."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.utils import timezone
from lxml import etree

from backoffice.models import Organisation
from donors.models import Donor
from donors.services import donation_post
from grants.models import Output
from spending import services as spending
from spending.services import NewCharge, NewLine
from tests.factories import (
    DonationFactory,
    DonorFactory,
    IndicatorFactory,
    OutputFactory,
    PledgeFactory,
    ProgrammeFactory,
    RateFactory,
)

ORG_ID = "GB-CHC-1234567"
AS_OF = timezone.make_aware(dt.datetime(2026, 6, 30, 12, 0, 0), dt.UTC)
START, END = dt.date(2025, 1, 1), dt.date(2026, 12, 31)


def organisation_registered(identifier: str = ORG_ID) -> Organisation:
    org = Organisation.current()
    org.iati_identifier = identifier
    org.full_clean()
    org.save()
    return org


def post(by, **fields):
    return donation_post(donation=DonationFactory(**fields), by=by)


def expense_posted(by, *, reference, paid_on, amount, currency, charges):
    expense = spending.expense_create(
        reference=reference,
        incurred_on=paid_on,
        paid_on=paid_on,
        payee="Venue Ltd",
        description="Workshop venue",
        amount=amount,
        currency=currency,
        charges=charges,
    )
    return spending.expense_post(expense=expense, by=by)


def small_ledger(by) -> dict:
    """One programme with one output (an indicator, a public URL), funded by:
    - a government that is acknowledged: a GBP pledge restricted to the output, a donation, an agreement
      whose budget has lines for the output in 2025 and 2026, and an expense charged to it;
    - a foundation that is not acknowledged: a USD pledge restricted to the programme and a donation;
    - a person, unacknowledged: an unrestricted donation."""
    organisation_registered()
    RateFactory(currency="USD", date=START, rate=Decimal("0.80000000"))
    programme = ProgrammeFactory(code="PROTECT", name="Protection online", description="Keeping children safe.")
    output = OutputFactory(
        programme=programme,
        title="Model national response",
        start_date=START,
        end_date=END,
        status=Output.Status.IN_PROGRESS,
        public_url="https://alliance.example.org/mnr",
    )
    IndicatorFactory(output=output, name="Countries adopting", unit="countries", baseline=0, target=12, actual=5)
    government = DonorFactory(name="Ministry of Example", kind=Donor.Kind.GOVERNMENT, publicly_acknowledged=True)
    foundation = DonorFactory(name="Quiet Foundation", kind=Donor.Kind.FOUNDATION, publicly_acknowledged=False)
    person = DonorFactory(name="Jane Giver", kind=Donor.Kind.INDIVIDUAL, publicly_acknowledged=True)
    gov_pledge = PledgeFactory(
        donor=government,
        total=Decimal("1000.00"),
        currency="GBP",
        start_date=START,
        end_date=END,
        restricted_output=output,
    )
    quiet_pledge = PledgeFactory(
        donor=foundation,
        total=Decimal("500.00"),
        currency="USD",
        start_date=START,
        end_date=END,
        restricted_programme=programme,
    )
    post(
        by,
        donor=government,
        pledge=gov_pledge,
        amount=Decimal("400.00"),
        currency="GBP",
        received_on=dt.date(2025, 3, 1),
    )
    post(
        by,
        donor=foundation,
        pledge=quiet_pledge,
        amount=Decimal("200.00"),
        currency="USD",
        received_on=dt.date(2025, 4, 1),
    )
    post(by, donor=person, amount=Decimal("50.00"), currency="GBP", received_on=dt.date(2025, 5, 1))
    agreement = spending.agreement_create(
        pledge=gov_pledge, funder_ref="UK-1", start_date=START, end_date=END, status="active"
    )
    version = spending.budget_version_create(
        agreement=agreement,
        lines=[
            NewLine(code="E1", category="events", year=year, amount=Decimal(amount), output=output)
            for year, amount in ((2025, "600.00"), (2026, "400.00"))
        ],
    )
    spending.budget_version_approve(version=version, approved_on=START)
    line = spending.current_budget(agreement).lines.get(year=2025)
    expense_posted(
        by,
        reference="INV-1",
        paid_on=dt.date(2025, 6, 1),
        amount=Decimal("150.00"),
        currency="GBP",
        charges=[NewCharge(line=line, amount=Decimal("120.00"))],
    )
    return {"programme": programme, "output": output, "government": government, "foundation": foundation}


def parse(data: bytes):
    return etree.fromstring(data)


def activity(root, identifier: str):
    found = root.xpath("iati-activity[iati-identifier=$id]", id=identifier)
    assert found, f"no activity {identifier}"
    return found[0]


def transaction_totals(root) -> dict[tuple[str, str, str], Decimal]:
    """(activity identifier, transaction type, currency) → the sum of its transactions' values."""
    totals = defaultdict(Decimal)
    for a in root.iter("iati-activity"):
        name = a.findtext("iati-identifier")
        for t in a.iter("transaction"):
            value = t.find("value")
            totals[(name, t.find("transaction-type").get("code"), value.get("currency"))] += Decimal(value.text)
    return dict(totals)
