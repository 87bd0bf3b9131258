"""Every kind of import/export file by the name used on the command line and in docs."""

from .kinds_donors import (
    ContactImporter,
    DonationImporter,
    DonorImporter,
    ExchangeRateImporter,
    InstalmentImporter,
    PledgeImporter,
)

KINDS = {
    "donors": DonorImporter,
    "contacts": ContactImporter,
    "pledges": PledgeImporter,
    "instalments": InstalmentImporter,
    "donations": DonationImporter,
    "rates": ExchangeRateImporter,
}

try:  # outputs, indicators and allocations: see grants/resources.py
    from grants.resources import GRANT_KINDS

    KINDS.update(GRANT_KINDS)
except ImportError:
    pass
