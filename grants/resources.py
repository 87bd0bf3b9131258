"""Import/export resources for outputs, indicators and allocations (rules: transfers.kinds_grants)."""

from transfers.kinds_grants import AllocationImporter, IndicatorImporter, OutputImporter
from transfers.resources import TransferResource

OutputResource = TransferResource.for_importer(OutputImporter)
IndicatorResource = TransferResource.for_importer(IndicatorImporter)
AllocationResource = TransferResource.for_importer(AllocationImporter)
