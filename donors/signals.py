"""What the money-in ledger tells the apps above it, which it never imports."""

from django.dispatch import Signal

# Sent by `donors.services.donation_reverse` inside the reversal's transaction, with
# `donation` (the original), `reversal` and `by`. Money applied from the donation (the grants
# app's allocations) is reversed by its receiver, in the same transaction.
donation_reversed = Signal()
