"""Signed download links: the token carries only the delivery's id, signed and timestamped."""

import datetime as dt

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "delivery-link"


def delivery_token(delivery_id: int) -> str:
    return signing.dumps(delivery_id, salt=SALT)


def delivery_token_read(token: str) -> int | None:
    """The delivery id in a valid, unexpired token; None for anything else (tampered, expired, garbage)."""
    max_age = dt.timedelta(days=settings.DELIVERY_LINK_MAX_AGE_DAYS)
    try:
        value = signing.loads(token, salt=SALT, max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def delivery_link(delivery_id: int, *, page: str = "delivery:download") -> str:
    """The absolute link to the delivery's PDF, or to another page behind the same token
    (`delivery:report`, its HTML version)."""
    path = reverse(page, args=[delivery_token(delivery_id)])
    return settings.SITE_URL.rstrip("/") + path
