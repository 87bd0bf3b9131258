"""Every kind of import/export file by the name used on the command line and in docs."""

from .kinds_donors import (
    ContactImporter,
    DonationImporter,
    DonorImporter,
    ExchangeRateImporter,
    InstalmentImporter,
    PledgeImporter,
)
from .kinds_grants import AllocationImporter, IndicatorImporter, OutputImporter
from .kinds_spending import ExpenseImporter

KINDS = {
    "donors": DonorImporter,
    "contacts": ContactImporter,
    "pledges": PledgeImporter,
    "instalments": InstalmentImporter,
    "donations": DonationImporter,
    "rates": ExchangeRateImporter,
    "outputs": OutputImporter,
    "indicators": IndicatorImporter,
    "allocations": AllocationImporter,
    "expenses": ExpenseImporter,
}
