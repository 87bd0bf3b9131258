"""Import/export resources for outputs and indicators (rules: transfers.kinds_grants).

Allocations are not importable yet: they are to go through grants.services.allocation_create.
"""

from transfers.kinds_grants import IndicatorImporter, OutputImporter
from transfers.resources import TransferResource

OutputResource = TransferResource.for_importer(OutputImporter)
IndicatorResource = TransferResource.for_importer(IndicatorImporter)
