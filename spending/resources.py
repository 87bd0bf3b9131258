"""Import/export resources for money out (rules: transfers.kinds_spending)."""

from transfers.kinds_spending import ExpenseImporter
from transfers.resources import TransferResource

ExpenseResource = TransferResource.for_importer(ExpenseImporter)
