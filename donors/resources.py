"""Import/export resources for the donors ledger (rules: transfers.kinds_donors)."""

from transfers.kinds_donors import (
    ContactImporter,
    DonationImporter,
    DonorImporter,
    ExchangeRateImporter,
    InstalmentImporter,
    PledgeImporter,
)
from transfers.resources import TransferResource

DonorResource = TransferResource.for_importer(DonorImporter)
ContactResource = TransferResource.for_importer(ContactImporter)
PledgeResource = TransferResource.for_importer(PledgeImporter)
InstalmentResource = TransferResource.for_importer(InstalmentImporter)
DonationResource = TransferResource.for_importer(DonationImporter)
ExchangeRateResource = TransferResource.for_importer(ExchangeRateImporter)
