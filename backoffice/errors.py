"""The one error type the ledger's services raise, at the bottom so that every app can use it."""

from django.core.exceptions import ValidationError


class LedgerError(ValidationError):
    """A ledger rule was broken. Carries field names where a field is to blame."""
