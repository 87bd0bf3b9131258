"""Signals grants sends to the apps above it, which connect to them in their AppConfig.ready()."""

from django.dispatch import Signal

# Sent by seed_demo after the ledgers and grants are seeded, in the same transaction, with `rng` and
# `by`: an app above grants (spending) seeds its demo data and returns a dict of what it created.
demo_seeded = Signal()
