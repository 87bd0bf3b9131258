"""How a posted ledger entry (a donation, a write-off, an allocation) is corrected: by its reversal.

A reversal is a new entry with the original's amounts negated that points at the original
through `reversal_of`. A reversal is never itself reversed, and nothing is reversed twice.
"""

from collections.abc import Iterable

from django.db import models, transaction

from .errors import LedgerError


def reversal_check(original: models.Model, *, label: str) -> None:
    """Raise LedgerError when `original` cannot be reversed: it is a reversal, or it has been
    reversed. For pages that ask before reversing; `reversal_create` checks again under its lock."""
    if original.reversal_of_id is not None:
        raise LedgerError(f"{label} is a reversal; a reversal cannot be reversed.")
    if type(original)._default_manager.filter(reversal_of=original).exists():
        raise LedgerError(f"{label} has already been reversed.")


@transaction.atomic
def reversal_create(
    original: models.Model, *, label: str, copied: Iterable[str], negated: Iterable[str], **values
) -> models.Model:
    """Save the reversal of `original`: the `copied` fields as they are, the `negated` ones with
    the opposite sign, and `values` (dates, notes, who) as given. `label` names the original in
    the messages ("Donation BANK-1"). The original's row is locked first, so that two reversals
    of it cannot both pass the checks."""
    model = type(original)
    original = model._default_manager.select_for_update().get(pk=original.pk)
    reversal_check(original, label=label)
    fields = {name: getattr(original, name) for name in copied}
    for name in negated:
        value = getattr(original, name)
        fields[name] = None if value is None else -value
    reversal = model(**fields, **values, reversal_of=original)
    reversal.full_clean()
    reversal.save()
    return reversal
