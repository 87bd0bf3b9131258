"""The organisation profile: whose name, logo and address the reports, emails and pages carry.

One row (id 1, made by migration 0003), changed only by an administrator. Reports copy what they
print into their snapshot when they are made (`Organisation.snapshot`), so a later edit never
changes an old report's bytes; the logo is kept under a name made of its SHA-256 and never
overwritten, so the file a snapshot names is still there to draw it again.
"""

import base64
from email.utils import formataddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from .checks import public_url_problem
from .logo import logo_check, logo_sha256
from .text import validate_notes_text, validate_plain_text

# The profile the row starts with (migration 0003, and again after a flush): the demo alliance's.
# An administrator replaces it in the admin; seed_demo adds a logo.
FIRST_PROFILE = {
    "name": "Safe Online Alliance",
    "address": "1 Example Street\nLondon EC1A 1AA\nUnited Kingdom",
    "email": "partnerships@alliance.example.org",
    "website": "https://alliance.example.org",
    "registration": "Registered charity 1234567 (England and Wales)",
    "sender_email": "reports@alliance.example.org",
}


# An IATI organisation identifier: the registration agency's prefix (e.g. GB-CHC) and the number it
# gave, with no spaces or the characters IATI forbids in identifiers (/ & | ?).
validate_iati_identifier = RegexValidator(
    r"^[A-Z]{2}-[A-Za-z0-9]+-[A-Za-z0-9._-]+$",
    "An IATI organisation identifier is the agency prefix and the number, e.g. GB-CHC-1234567 "
    "(letters, digits, dots, dashes; no spaces).",
)


class IatiOrganisationType(models.TextChoices):
    """IATI's OrganisationType codelist (the codes an alliance or its funders are)."""

    GOVERNMENT = "10", "Government"
    LOCAL_GOVERNMENT = "11", "Local Government"
    OTHER_PUBLIC = "15", "Other Public Sector"
    INTERNATIONAL_NGO = "21", "International NGO"
    NATIONAL_NGO = "22", "National NGO"
    REGIONAL_NGO = "23", "Regional NGO"
    PUBLIC_PRIVATE = "30", "Public Private Partnership"
    MULTILATERAL = "40", "Multilateral"
    FOUNDATION = "60", "Foundation"
    PRIVATE_SECTOR = "70", "Private Sector"
    ACADEMIC = "80", "Academic, Training and Research"
    OTHER = "90", "Other"


def organisation_row_ensure(model) -> None:
    """Make the one row if it is missing (`model`: the migration's historical model, or Organisation)."""
    model.objects.get_or_create(pk=1, defaults=FIRST_PROFILE)


def organisation_ensure_on_migrate(sender, **kwargs) -> None:
    """`flush` (tests that use a live server) empties every table and then sends post_migrate."""
    organisation_row_ensure(Organisation)


def logo_upload_to(organisation, filename) -> str:
    return f"organisation/logo-{organisation.logo_sha256}.{organisation.logo_format}"


class Organisation(models.Model):
    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    name = models.CharField(
        max_length=200, validators=[validate_plain_text], help_text="As reports, emails and pages print it."
    )
    logo = models.FileField(
        upload_to=logo_upload_to,
        blank=True,
        help_text="PNG or SVG, at most 512 KB; a PNG 64 to 4,000 pixels a side. Printed in every report's header.",
    )
    logo_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    logo_format = models.CharField(max_length=3, blank=True, editable=False)
    address = models.TextField(blank=True, validators=[validate_notes_text], help_text="Postal address, one line each.")
    email = models.EmailField("contact email", help_text="Where a donor writes with a question about a report.")
    website = models.URLField(blank=True)
    registration = models.CharField(
        "charity or registration number",
        max_length=200,
        blank=True,
        validators=[validate_plain_text],
        help_text="As it must appear, e.g. “Registered charity 1234567 (England and Wales)”.",
    )
    sender_email = models.EmailField(
        "sender address for donor email",
        help_text="Donor summaries come from this address, under the organisation's name. "
        "The mail server must be allowed to send for its domain (SPF, DKIM).",
    )
    public_url = models.URLField(
        "site's public URL",
        blank=True,
        help_text="Printed in reports and emails (e.g. the /verify/ page). Blank: the SITE_URL setting.",
    )
    iati_identifier = models.CharField(
        "IATI organisation identifier",
        max_length=100,
        blank=True,
        validators=[validate_iati_identifier],
        help_text="As registered with IATI, e.g. GB-CHC-1234567. Every published activity's identifier begins with it.",
    )
    iati_type = models.CharField(
        "IATI organisation type",
        max_length=2,
        choices=IatiOrganisationType.choices,
        default=IatiOrganisationType.PUBLIC_PRIVATE,
        help_text="The organisation's type in IATI's OrganisationType codelist.",
    )

    class Meta:
        verbose_name = "organisation profile"
        verbose_name_plural = "organisation profile"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="organisation_single_row")]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        if self.public_url and (problem := public_url_problem(self.public_url)):
            raise ValidationError({"public_url": problem})
        upload = self.logo
        if upload and not getattr(upload, "_committed", True):  # a new file from the form
            upload.seek(0)
            data = upload.read()
            try:
                self.logo_format = logo_check(data, name=upload.name)
            except ValidationError as error:
                raise ValidationError({"logo": error.messages}) from None
            self.logo_sha256 = logo_sha256(data)
        elif not upload:
            self.logo_sha256 = self.logo_format = ""

    @classmethod
    def current(cls) -> "Organisation":
        """The profile (migration 0003 makes its row; a missing row is a broken database, not a default)."""
        return cls.objects.get(pk=1)

    def site_url(self) -> str:
        """The public address reports and emails print: the profile's, else SITE_URL."""
        return (self.public_url or settings.SITE_URL).rstrip("/")

    def sender(self) -> str:
        """The From header of donor email: the organisation's name and its sender address."""
        return formataddr((self.name, self.sender_email))

    def logo_data_uri(self) -> str:
        """The logo as a data: URI for an <img> (the storage is private, with no URL); "" without a logo."""
        if not self.logo:
            return ""
        with self.logo.open("rb") as f:
            data = base64.b64encode(f.read()).decode()
        return f"data:{'image/svg+xml' if self.logo_format == 'svg' else 'image/png'};base64,{data}"

    def snapshot(self) -> dict:
        """What a report prints of the profile, copied into its snapshot when it is made."""
        return {
            "name": self.name,
            "address": self.address,
            "email": self.email,
            "website": self.website,
            "registration": self.registration,
            "verify_url": f"{self.site_url()}/verify/",
            "logo": {"name": self.logo.name, "sha256": self.logo_sha256, "format": self.logo_format}
            if self.logo
            else None,
        }
