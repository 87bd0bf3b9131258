import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from donors.models import Donation, DonationBatch, Donor, ExchangeRate, Pledge
from tests.factories import DonorFactory, PledgeFactory, RateFactory

DATA = Path(__file__).resolve().parent.parent / "data" / "imports"

HEADER = "reference,donor_ref,received_on,amount,currency,method,pledge_ref,rate,note\n"


@pytest.fixture
def ledger(db):
    """Two donors, a pledge of the first, and USD rates."""
    first = DonorFactory(ref="DON-0001", name="Oakridge Foundation")
    second = DonorFactory(ref="DON-0002", name="Northstar Cloud")
    PledgeFactory(ref="PLG-0001", donor=first, currency="GBP")
    PledgeFactory(ref="PLG-0002", donor=second, currency="USD")
    RateFactory(currency="USD", date=dt.date(2025, 1, 1), rate=Decimal("0.80000000"))
    RateFactory(currency="USD", date=dt.date(2025, 3, 1), rate=Decimal("0.79000000"))
    return {"first": first, "second": second}


def counts() -> dict:
    return {model.__name__: model.objects.count() for model in (Donor, Pledge, Donation, DonationBatch, ExchangeRate)}


def write_file(tmp_path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return str(path)
