"""The snapshot format: canonical JSON, its SHA-256, and money written as strings."""

import hashlib
import json
from decimal import Decimal

from backoffice.money import money_round

SNAPSHOT_VERSION = 1


def canonical_json(snapshot: dict) -> bytes:
    """One byte sequence per snapshot: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def snapshot_sha256(snapshot: dict) -> str:
    return hashlib.sha256(canonical_json(snapshot)).hexdigest()


def money(amount: Decimal | None, currency: str) -> dict:
    """Money in a snapshot: the amount as a string in its currency's places ('1234.50' GBP,
    '24967757' JPY, '1234.500' KWD) with its currency beside it."""
    amount = Decimal("0") if amount is None else amount
    return {"amount": str(money_round(amount, currency)), "currency": currency}


def share(value: Decimal | None) -> str:
    return str((value or Decimal("0")).quantize(Decimal("0.0001")))


def day(value) -> str | None:
    return value.isoformat() if value else None
