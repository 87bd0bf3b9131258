"""Who speaks to donors: the organisation's name, and the sender of donor email.

One place to read them from (the ORGANISATION_NAME and DEFAULT_FROM_EMAIL settings), used by the
HTML versions of reports and by the donor email, so that the software's name never stands in for
the organisation's.
"""

from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr

from django.conf import settings


@dataclass(frozen=True)
class Organisation:
    name: str
    sender_address: str

    @property
    def sender(self) -> str:
        """`"Name" <address>` for a From header; the name is quoted where it needs to be."""
        name = " ".join(self.name.split())  # a header holds no line breaks
        return str(Address(display_name=name, addr_spec=self.sender_address))


def organisation() -> Organisation:
    return Organisation(name=settings.ORGANISATION_NAME, sender_address=parseaddr(settings.DEFAULT_FROM_EMAIL)[1])
