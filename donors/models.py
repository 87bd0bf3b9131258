"""The donors ledger: who gives, what they promised, and what arrived.

Posted donations and write-offs are immutable: the model refuses updates and deletes, and
a database trigger refuses them too, and any TRUNCATE (backoffice.db.ledger_triggers). Corrections are reversal entries
that point at the original.
"""

from decimal import Decimal

import pgtrigger
import phonenumbers
import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy
from simple_history.models import HistoricalRecords

from backoffice.db import ledger_triggers
from backoffice.money import (
    CURRENCY_CHOICES,
    MONEY_DIGITS,
    STORED_PLACES,
    TOTAL_DIGITS,
    format_money,
    money_places_errors,
    validate_currency,
)
from backoffice.text import validate_notes_text, validate_plain_text

from .names import name_key

COUNTRY_CHOICES = sorted((c.alpha_2, c.name) for c in pycountry.countries)


class ImmutableRecordError(Exception):
    """Raised when code tries to change or delete a posted money record."""


def money_field(validators=(), **kwargs):
    """An amount, stored with the places of the currency that has the most (three); each model's
    clean() checks it against its own currency's places (backoffice.money.money_places_check)."""
    return models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=STORED_PLACES, validators=list(validators), **kwargs
    )


class _CodeField(models.CharField):
    """A code from a standard list that pycountry keeps. Forms offer the list and validation
    checks against it, but the list stays out of the migrations (deconstruct leaves it out), so a
    new pycountry release changes no schema."""

    code_choices: list[tuple[str, str]] = []
    code_length = 0

    def __init__(self, *args, **kwargs):
        kwargs["max_length"] = self.code_length
        kwargs["choices"] = self.code_choices
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        del kwargs["max_length"], kwargs["choices"]
        return name, path, args, kwargs


class CurrencyField(_CodeField):
    """An ISO 4217 currency code of money a donor can give."""

    code_choices = CURRENCY_CHOICES
    code_length = 3

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("validators", [validate_currency, validate_plain_text])
        super().__init__(*args, **kwargs)


class CountryField(_CodeField):
    """An ISO 3166 alpha-2 country code."""

    code_choices = COUNTRY_CHOICES
    code_length = 2


def currency_field(**kwargs):
    return CurrencyField(**kwargs)


def rate_field(**kwargs):
    return models.DecimalField(
        max_digits=18, decimal_places=8, validators=[MinValueValidator(Decimal("0.00000001"))], **kwargs
    )


class DonorQuerySet(models.QuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        """Bulk writers (imports, seed_demo) skip save(): the name key is filled here too."""
        objs = list(objs)
        for donor in objs:
            donor.name_key = name_key(donor.name)
        return super().bulk_create(objs, *args, **kwargs)

    def unmerged(self):
        return self.filter(merged_into__isnull=True)


class Donor(models.Model):
    class Kind(models.TextChoices):
        GOVERNMENT = "government", "Government"
        COMPANY = "company", "Company"
        FOUNDATION = "foundation", "Foundation"
        CIVIL_SOCIETY = "civil_society", "Civil society"
        INTERGOVERNMENTAL = "intergovernmental", "Intergovernmental"
        INDIVIDUAL = "individual", "Individual"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        LAPSED = "lapsed", "Lapsed"
        PROSPECT = "prospect", "Prospect"
        CLOSED = "closed", "Closed"

    ref = models.CharField(
        "reference", max_length=20, unique=True, help_text="For example DON-0001.", validators=[validate_plain_text]
    )
    name = models.CharField(max_length=200, validators=[validate_plain_text])
    kind = models.CharField(max_length=20, choices=Kind.choices, validators=[validate_plain_text])
    country = CountryField(validators=[validate_plain_text])
    preferred_currency = currency_field()
    language = models.CharField(
        max_length=10,
        choices=settings.LANGUAGES,
        default="en-gb",
        help_text="The language of the donor's impact summaries and their emails.",
        validators=[validate_plain_text],
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.ACTIVE, validators=[validate_plain_text]
    )
    external_ref = models.CharField("external reference", max_length=100, blank=True, validators=[validate_plain_text])
    publicly_acknowledged = models.BooleanField(
        default=False,
        help_text="If set, other donors' reports may show this donor's name and amounts.",
    )
    notes = models.TextField(blank=True, validators=[validate_notes_text])
    created_at = models.DateTimeField(auto_now_add=True)
    name_key = models.CharField(
        max_length=400,
        editable=False,
        default="",
        validators=[validate_plain_text],
        help_text="The name without case, accents, punctuation, a leading 'The' or legal suffixes "
        "(donors.names.name_key): what duplicate detection compares.",
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_donors",
        editable=False,
        help_text="Set by a merge (DonorMerge): this record's references lead to that donor.",
    )

    objects = DonorQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.ref})"

    def save(self, *args, **kwargs):
        self.name_key = name_key(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)


class DonorMerge(models.Model):
    """One donor merged into another: the audited event that moved the loser's rows to the survivor.

    `moved` lists, by model label, the ids of every row whose donor link the merge changed; undo
    moves exactly those back. It is also what the donation trigger checks: a posted donation's
    donor may change only to or from this merge's pair, only for a donation listed here, and only
    while the merge service has named this event in its transaction (donors.merge).
    """

    survivor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="merges_in")
    loser = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="merges_out")
    moved = models.JSONField(default=dict, editable=False)
    kept = models.JSONField(
        default=dict, editable=False, help_text="Rows left with the loser, by model label, and why."
    )
    loser_fields = models.JSONField(default=dict, editable=False, help_text="The loser's fields when merged.")
    reason = models.TextField(blank=True, validators=[validate_notes_text])
    merged_at = models.DateTimeField(default=timezone.now, editable=False)
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    undone_at = models.DateTimeField(null=True, blank=True, editable=False)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )

    class Meta:
        ordering = ["-merged_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(survivor=F("loser")), name="donor_merge_two_donors"),
            # A donor is merged away at most once at a time; undo frees it.
            models.UniqueConstraint(fields=["loser"], condition=Q(undone_at__isnull=True), name="donor_merged_once"),
        ]

    def __str__(self):
        return f"{self.loser.ref} merged into {self.survivor.ref}"


class DuplicateDismissal(models.Model):
    """A pair of donors Finance reviewed and found to be two donors: never offered as duplicates again."""

    donor_low = models.ForeignKey(Donor, on_delete=models.CASCADE, related_name="+")
    donor_high = models.ForeignKey(Donor, on_delete=models.CASCADE, related_name="+")
    dismissed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    dismissed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["donor_low", "donor_high"], name="duplicate_dismissed_once"),
            models.CheckConstraint(condition=Q(donor_low__lt=F("donor_high")), name="duplicate_dismissal_ordered"),
        ]

    def __str__(self):
        return f"Not duplicates: {self.donor_low_id} and {self.donor_high_id}"


def phone_written(value: str) -> str | None:
    """`value` written the one way the contact pages show phone numbers (+44 20 7946 0000), or None
    when it is not a possible number with its country code."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def validate_phone(value: str) -> None:
    if phone_written(value) is None:
        raise ValidationError(
            f"“{value}” is not a phone number with its country code; write it as, for example, +44 20 7946 0000.",
            code="phone",
        )


class Contact(models.Model):
    """A person at a donor. What UK GDPR asks a charity to know of them sits beside their details:
    the lawful basis for processing their data, how and when they consented where that is the
    basis, and whether they objected to email (then no report email goes to them)."""

    class LawfulBasis(models.TextChoices):
        LEGITIMATE_INTERESTS = "legitimate_interests", "Legitimate interests"
        CONSENT = "consent", "Consent"
        CONTRACT = "contract", "Contract"

    donor = models.ForeignKey(Donor, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200, validators=[validate_plain_text])
    email = models.EmailField(validators=[validate_plain_text])
    role = models.CharField(max_length=100, blank=True, validators=[validate_plain_text])
    phone = models.CharField(
        max_length=40, blank=True, validators=[validate_plain_text, validate_phone],
        help_text="With its country code, for example +44 20 7946 0000.",
    )  # fmt: skip
    address = models.TextField(blank=True, validators=[validate_notes_text], help_text="The postal address, as lines.")
    receives_reports = models.BooleanField(default=False)
    created_at = models.DateTimeField("on record since", default=timezone.now, editable=False)
    lawful_basis = models.CharField(
        max_length=20, choices=LawfulBasis.choices, default=LawfulBasis.LEGITIMATE_INTERESTS,
        validators=[validate_plain_text],
        help_text="The UK GDPR basis on which the alliance processes this person's data.",
    )  # fmt: skip
    consent_given_on = models.DateField(
        null=True, blank=True, help_text="Where the basis is consent: when it was given."
    )
    consent_method = models.CharField(
        "how consent was given", max_length=200, blank=True, validators=[validate_plain_text],
        help_text="Where the basis is consent: how it was given, for example “signed form at the 2025 summit”.",
    )  # fmt: skip
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="contacts_owned",
        help_text="Who at the alliance looks after this person: their next steps show on that user's dashboard.",
    )  # fmt: skip
    objected_to_email_on = models.DateField(
        null=True, blank=True,
        help_text="The person objected to email on this day: no report email goes to them; the delivery log says why.",
    )  # fmt: skip

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["donor", "email"], name="contact_email_unique_per_donor"),
            models.CheckConstraint(
                condition=~Q(lawful_basis="consent") | Q(consent_given_on__isnull=False) & ~Q(consent_method=""),
                name="contact_consent_recorded",
                violation_error_message="Where the lawful basis is consent, record when and how it was given.",
            ),
        ]

    def __str__(self):
        return f"{self.name} <{self.email}>"

    def clean(self):
        super().clean()
        problems = {}
        if self.lawful_basis == self.LawfulBasis.CONSENT:
            if self.consent_given_on is None:
                problems["consent_given_on"] = "Where the lawful basis is consent, record when it was given."
            if not self.consent_method:
                problems["consent_method"] = "Where the lawful basis is consent, record how it was given."
        today = timezone.localdate()
        for name in ("consent_given_on", "objected_to_email_on"):
            day = getattr(self, name)
            if day is not None and day > today:
                problems[name] = f"{day:%-d %B %Y} is after today."
        if problems:
            raise ValidationError(problems)
        if self.phone and (written := phone_written(self.phone)):  # one way of writing it, to read and match
            self.phone = written


class DonorRelationship(models.Model):
    """One donor is part of another: a government's ministry or agency, a company's foundation, a
    member of a pooled fund. The donors joined this way, at any distance, are a group, and the donor
    page shows the group's giving (selectors.donor_group)."""

    class Kind(models.TextChoices):
        MINISTRY = "ministry", "Ministry of"
        AGENCY = "agency", "Agency of"
        FOUNDATION = "foundation", "Foundation of"
        SUBSIDIARY = "subsidiary", "Subsidiary of"
        MEMBER = "member", "Member of"

    donor = models.ForeignKey(Donor, on_delete=models.CASCADE, related_name="part_of")
    kind = models.CharField(max_length=20, choices=Kind.choices, validators=[validate_plain_text])
    parent = models.ForeignKey(Donor, on_delete=models.CASCADE, related_name="parts")

    history = HistoricalRecords()

    class Meta:
        ordering = ["parent__name", "donor__name"]
        constraints = [
            models.UniqueConstraint(fields=["donor", "parent"], name="donor_relationship_once"),
            models.CheckConstraint(
                condition=~Q(donor=models.F("parent")),
                name="donor_relationship_not_itself",
                violation_error_message="A donor cannot be part of itself.",
            ),
        ]

    def __str__(self):
        return f"{self.donor.name}: {self.get_kind_display().lower()} {self.parent.name}"

    def clean(self):
        super().clean()
        if self.donor_id is None or self.parent_id is None:
            return
        above, seen = {self.parent_id}, set()
        while above:  # the parent's own parents, up to the top: the donor must not be among them
            if self.donor_id in above:
                problem = (
                    f"{self.parent.name} is already part of {self.donor.name}: a donor cannot be part of its own part."
                )
                raise ValidationError({"parent": problem})
            seen |= above
            above = (
                set(
                    DonorRelationship.objects.filter(donor_id__in=above)
                    .exclude(pk=self.pk)
                    .values_list("parent_id", flat=True)
                )
                - seen
            )


class Activity(models.Model):
    """A meeting, call, email or note with a donor, and the next step it leaves. Emails that
    Fundtrace sends are in the delivery log and show beside these on the donor's page."""

    class Kind(models.TextChoices):
        MEETING = "meeting", "Meeting"
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        NOTE = "note", "Note"

    donor = models.ForeignKey(Donor, on_delete=models.CASCADE, related_name="activities")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities",
        help_text="Who it was with, if one person.",
    )  # fmt: skip
    kind = models.CharField(max_length=10, choices=Kind.choices, validators=[validate_plain_text])
    happened_on = models.DateField()
    summary = models.TextField(validators=[validate_notes_text])
    next_step = models.CharField(max_length=200, blank=True, validators=[validate_plain_text])
    next_step_on = models.DateField("next step by", null=True, blank=True)
    next_step_done_on = models.DateField("next step done on", null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="activities_owned",
        help_text="Whose dashboard shows the next step; blank: the contact's owner, else whoever recorded it.",
    )  # fmt: skip
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "activities"
        ordering = ["-happened_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(next_step_on__isnull=True) | ~Q(next_step=""),
                name="activity_next_step_said",
                violation_error_message="Say what the next step is.",
            ),
        ]
        indexes = [models.Index(fields=["owner", "next_step_on"], name="activity_next_steps")]

    def __str__(self):
        return f"{self.get_kind_display()} with {self.donor.name} on {self.happened_on}"

    def clean(self):
        super().clean()
        problems = {}
        today = timezone.localdate()
        if self.happened_on and self.happened_on > today:
            problems["happened_on"] = f"{self.happened_on:%-d %B %Y} is after today: record what happened."
        if self.next_step and self.next_step_on is None:
            problems["next_step_on"] = "Give the day the next step is due, so that it is shown as a reminder."
        if self.next_step_on and not self.next_step:
            problems["next_step"] = "Say what the next step is."
        if self.contact_id and self.donor_id and self.contact.donor_id != self.donor_id:
            problems["contact"] = f"{self.contact.name} is a contact of {self.contact.donor.name}, not of this donor."
        if problems:
            raise ValidationError(problems)


class Pledge(models.Model):
    """A donor's commitment. Its status and outstanding amount are derived, never typed in."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        OVERDUE = "overdue", "Overdue"
        FULFILLED = "fulfilled", "Fulfilled"
        WRITTEN_OFF = "written_off", "Written off"
        CANCELLED = "cancelled", "Cancelled"

    ref = models.CharField(
        "reference", max_length=20, unique=True, help_text="For example PLG-0001.", validators=[validate_plain_text]
    )
    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="pledges")
    title = models.CharField(max_length=200, validators=[validate_plain_text])
    total = money_field(validators=[MinValueValidator(Decimal("0.001"))])
    currency = currency_field()
    start_date = models.DateField()
    end_date = models.DateField()
    restricted_programme = models.ForeignKey(
        "grants.Programme", null=True, blank=True, on_delete=models.PROTECT, related_name="restricted_pledges"
    )
    restricted_output = models.ForeignKey(
        "grants.Output", null=True, blank=True, on_delete=models.PROTECT, related_name="restricted_pledges"
    )
    agreement_ref = models.CharField(
        "agreement reference", max_length=100, blank=True, validators=[validate_plain_text]
    )
    cancelled_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-start_date", "ref"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gt=0), name="pledge_total_positive"),
            models.CheckConstraint(condition=Q(end_date__gte=models.F("start_date")), name="pledge_dates_ordered"),
            models.CheckConstraint(
                condition=Q(restricted_programme__isnull=True) | Q(restricted_output__isnull=True),
                name="pledge_one_restriction",
            ),
        ]

    def __str__(self):
        return f"{self.ref}: {self.title}"

    def clean(self):
        errors = {}
        if self.start_date and self.end_date and self.end_date < self.start_date:
            errors["end_date"] = "The end date is before the start date."
        if self.restricted_programme_id and self.restricted_output_id:
            errors["restricted_output"] = "Restrict a pledge to a programme or to an output, not both."
        errors |= money_places_errors({"total": (self.total, self.currency)})
        if errors:
            raise ValidationError(errors)

    @property
    def restriction_label(self) -> str:
        if self.restricted_output_id:
            return f"Output: {self.restricted_output}"
        if self.restricted_programme_id:
            return f"Programme: {self.restricted_programme}"
        return "Unrestricted"


class Instalment(models.Model):
    pledge = models.ForeignKey(Pledge, on_delete=models.CASCADE, related_name="instalments")
    due_date = models.DateField()
    amount = money_field(validators=[MinValueValidator(Decimal("0.001"))])

    history = HistoricalRecords()

    class Meta:
        ordering = ["pledge", "due_date", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="instalment_amount_positive"),
        ]

    def __str__(self):
        return f"{self.pledge.ref} due {self.due_date}: {format_money(self.amount, self.pledge.currency)}"

    def clean(self):
        if self.pledge_id and (errors := money_places_errors({"amount": (self.amount, self.pledge.currency)})):
            raise ValidationError(errors)


class ExchangeRate(models.Model):
    """How many units of the base currency one unit of `currency` was worth on `date`."""

    currency = currency_field()
    date = models.DateField()
    rate = rate_field()
    source = models.CharField(max_length=100, default="manual", validators=[validate_plain_text])

    history = HistoricalRecords()

    class Meta:
        ordering = ["currency", "-date"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "date"], name="one_rate_per_currency_and_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="rate_positive"),
        ]
        indexes = [models.Index(fields=["currency", "date"])]

    def __str__(self):
        return f"1 {self.currency} = {self.rate} {settings.BASE_CURRENCY} on {self.date}"

    def clean(self):
        if self.currency == settings.BASE_CURRENCY:
            raise ValidationError({"currency": f"{self.currency} is the base currency; its rate is always 1."})


class DonationBatch(models.Model):
    """A finance batch: one bank deposit, so one currency. It posts only when its donations
    match the expected count and control total (the sum the bank statement shows)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        POSTED = "posted", "Posted"

    reference = models.CharField(max_length=100, unique=True, validators=[validate_plain_text])
    expected_count = models.PositiveIntegerField()
    expected_total = money_field(help_text="Control total: the sum of the amounts as entered, in the batch currency.")
    # Required. Blank only on batches recorded in several currencies before a batch had one
    # (migration 0013): those take no new donations and are not posted.
    currency = currency_field(help_text="Every donation in the batch is in this currency.")
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, validators=[validate_plain_text]
    )
    posted_at = models.DateTimeField(null=True, blank=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "donation batches"

    def __str__(self):
        return self.reference

    def clean(self):
        if errors := money_places_errors({"expected_total": (self.expected_total, self.currency)}):
            raise ValidationError(errors)
        if self.pk and self.currency:
            others = sorted(
                set(self.donations.exclude(currency=self.currency).values_list("currency", flat=True).distinct())
            )
            if others:
                raise ValidationError(
                    {
                        "currency": (
                            f"The batch holds donations in {', '.join(others)}: a batch is in one currency. "
                            "Move those donations to another batch first."
                        )
                    }
                )

    def refusal(self) -> str:
        """Why the batch takes no donations and cannot be posted, or '' when it can."""
        if self.status == self.Status.POSTED:
            return f"Batch {self.reference} is posted; it takes no more donations."
        if not self.currency:
            return (
                f"Batch {self.reference} has no currency (it was recorded before a batch had one); "
                "it takes no new donations and cannot be posted until one is set on the batch page."
            )
        return ""


class ImmutableQuerySet(models.QuerySet):
    """Refuses bulk updates and deletes of posted rows, which bypass Model.save/delete."""

    posted_filter = Q()

    def update(self, **kwargs):
        if self.filter(self.posted_filter).exists():
            raise ImmutableRecordError(f"Posted {self.model._meta.verbose_name_plural} cannot be changed.")
        return super().update(**kwargs)

    def delete(self):
        if self.filter(self.posted_filter).exists():
            raise ImmutableRecordError(f"Posted {self.model._meta.verbose_name_plural} cannot be deleted.")
        return super().delete()


class DonationQuerySet(ImmutableQuerySet):
    posted_filter = Q(status="posted")

    def posted(self):
        return self.filter(status="posted")

    def donor_relink(self, *, donor_id: int) -> int:
        """The one sanctioned change to posted donations: their donor, by a donor merge or its undo.

        Only `donors.merge` calls it, inside the transaction where it has named the merge event;
        the database trigger (MERGE_RELINK_SQL) refuses it anywhere else.
        """
        return models.QuerySet.update(self, donor_id=donor_id)

    def text_erase(self, **words: str) -> int:
        """The one sanctioned change to posted donations' words: their note and reversal reason, by the
        erasure of an individual donor (privacy.erasure), inside the transaction where it has named
        that donor (SET LOCAL fundtrace.donor_erasure); the trigger (ERASURE_TEXT_SQL) refuses it
        anywhere else, and any change to another column with it."""
        if not words or set(words) - {"note", "reversal_reason"}:
            raise ImmutableRecordError("An erasure replaces only a donation's note and reversal reason.")
        return models.QuerySet.update(self, **words)


# True only for an UPDATE that changes nothing but donor_id, inside a donor merge or its undo: the
# transaction has named the merge event (SET LOCAL fundtrace.donor_merge), the event lists this
# donation among the rows it moved, and the donor changes between that event's two donors.
MERGE_RELINK_SQL = """
    TG_OP = 'UPDATE'
    AND (to_jsonb(NEW) - 'donor_id') = (to_jsonb(OLD) - 'donor_id')
    AND EXISTS (
        SELECT 1 FROM donors_donormerge m
        WHERE m.id = NULLIF(current_setting('fundtrace.donor_merge', true), '')::bigint
        AND (m.moved -> 'donors.donation') @> to_jsonb(OLD.id)
        AND ((m.loser_id = OLD.donor_id AND m.survivor_id = NEW.donor_id AND m.undone_at IS NULL)
             OR (m.survivor_id = OLD.donor_id AND m.loser_id = NEW.donor_id))
    )
"""


# True only for an UPDATE that changes nothing but a posted donation's note and reversal reason,
# inside the erasure of its donor: the transaction has named that donor (SET LOCAL
# fundtrace.donor_erasure). Amounts, rates, dates and links cannot change this way.
ERASURE_TEXT_SQL = """
    TG_OP = 'UPDATE'
    AND (to_jsonb(NEW) - 'note' - 'reversal_reason') = (to_jsonb(OLD) - 'note' - 'reversal_reason')
    AND current_setting('fundtrace.donor_erasure', true) = OLD.donor_id::text
"""


class Donation(models.Model):
    class Method(models.TextChoices):
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        CARD = "card", "Card"
        CHEQUE = "cheque", "Cheque"
        IN_KIND = "in_kind", "In kind"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        POSTED = "posted", "Posted"

    # Unique by a constraint (Meta), not unique=True, which on PostgreSQL adds a second,
    # LIKE-pattern index that nothing here reads and every imported row pays for.
    reference = models.CharField(
        max_length=100, help_text="Bank or source reference.", validators=[validate_plain_text]
    )
    # No single-column indexes on donor and pledge: the (donor, status, received_on) and
    # (pledge, status) indexes below serve those lookups, and every index costs each import.
    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="donations", db_index=False)
    pledge = models.ForeignKey(
        Pledge, null=True, blank=True, on_delete=models.PROTECT, related_name="donations", db_index=False
    )
    instalment = models.ForeignKey(
        Instalment, null=True, blank=True, on_delete=models.PROTECT, related_name="donations", db_index=False
    )  # indexed where set (Meta.indexes): imported donations have none
    batch = models.ForeignKey(
        DonationBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="donations", db_index=False
    )  # indexed with id (Meta.indexes): an import reads its rows back chunk by chunk
    received_on = models.DateField()
    amount = money_field()
    currency = currency_field()
    method = models.CharField(
        max_length=20, choices=Method.choices, default=Method.BANK_TRANSFER, validators=[validate_plain_text]
    )
    note = models.TextField(blank=True, validators=[validate_notes_text])

    # Set on posting; frozen afterwards. A rate typed on a draft is used as given.
    rate = rate_field(null=True, blank=True, help_text="Units of base currency per unit; blank to look up.")
    rate_date = models.DateField(null=True, blank=True)
    rate_source = models.CharField(max_length=100, blank=True, validators=[validate_plain_text])
    base_amount = money_field(null=True, blank=True, editable=False)
    pledge_amount = money_field(
        null=True, blank=True, editable=False, help_text="What this donation counts for in the pledge's currency."
    )

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, validators=[validate_plain_text]
    )
    posted_at = models.DateTimeField(null=True, blank=True, editable=False)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        db_index=False,  # never searched by; users are deactivated, not deleted
    )
    # At most one reversal per donation: a unique constraint on the reversals only (Meta), so
    # the index holds the few reversals, not a NULL entry for every donation.
    reversal_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
        editable=False,
        db_index=False,
    )
    # A database default too: the bulk writer's COPY names only the columns it fills.
    reversal_reason = models.TextField(
        "reason for the reversal",
        blank=True,
        default="",
        db_default="",
        editable=False,  # given on the reversal's confirmation page, never typed on a draft
        validators=[validate_notes_text],
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DonationQuerySet.as_manager()
    # The history is read by donation (id) and by date; indexes on its other columns only
    # slowed every import (a 100,000-row file: 1.2 s of index upkeep, 0.4 s without).
    history = HistoricalRecords(
        no_db_index=["reference", "donor", "pledge", "instalment", "batch", "posted_by", "reversal_of"]
    )

    class Meta:
        ordering = ["-received_on", "-id"]
        indexes = [
            models.Index(fields=["donor", "status", "received_on"]),
            # Only donations against a pledge: most are not, and a NULL entry helps no lookup.
            models.Index(fields=["pledge", "status"], condition=Q(pledge__isnull=False), name="donation_pledge_set"),
            models.Index(fields=["received_on"]),
            models.Index(fields=["instalment"], condition=Q(instalment__isnull=False), name="donation_instalment_set"),
            models.Index(fields=["batch", "id"], name="donation_batch_id"),
            # Period figures (portfolio, dashboard) read only these columns of posted donations:
            # on PostgreSQL they come from this index alone, without visiting the table.
            models.Index(
                fields=["received_on"],
                include=["donor", "pledge", "currency", "amount", "base_amount"],
                condition=Q(status="posted"),
                name="donation_posted_by_day",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["reference"], name="donation_reference_unique"),
            models.UniqueConstraint(
                fields=["reversal_of"], condition=Q(reversal_of__isnull=False), name="donation_reversed_once"
            ),
            models.CheckConstraint(
                condition=(Q(reversal_of__isnull=True) & Q(amount__gt=0))
                | (Q(reversal_of__isnull=False) & Q(amount__lt=0)),
                name="donation_amount_sign",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | (Q(base_amount__isnull=False) & Q(rate__isnull=False)),
                name="posted_donation_has_base_amount",
            ),
        ]
        permissions = [
            ("post_donation", "Can post donations"),
            ("reverse_donation", "Can reverse donations"),
        ]
        # The exceptions to immutability: a recorded donor merge relinks a posted donation's donor, and
        # the erasure of an individual donor replaces the words on their donations.
        triggers = ledger_triggers(
            posted=pgtrigger.Q(old__status="posted"), allowed_update=f"({MERGE_RELINK_SQL}) OR ({ERASURE_TEXT_SQL})"
        )

    def __str__(self):
        return f"{self.reference}: {format_money(self.amount, self.currency)}"

    @property
    def is_posted(self) -> bool:
        return self.status == self.Status.POSTED

    @property
    def is_reversal(self) -> bool:
        return self.reversal_of_id is not None

    def clean(self):
        errors = {}
        errors |= money_places_errors(
            {
                "amount": (self.amount, self.currency),
                "base_amount": (self.base_amount, settings.BASE_CURRENCY),
                "pledge_amount": (self.pledge_amount, self.pledge.currency if self.pledge_id else None),
            }
        )
        if self.reversal_of_id is None and self.amount is not None and self.amount <= 0:
            errors["amount"] = "The amount must be greater than zero."
        if self.pledge_id and self.donor_id and self.pledge.donor_id != self.donor_id:
            errors["pledge"] = (
                f"Pledge {self.pledge.ref} belongs to {self.pledge.donor}, not to {self.donor}: "
                "choose one of this donor's pledges."
            )
        if self.instalment_id:
            if not self.pledge_id:
                errors["instalment"] = "An instalment needs its pledge."
            elif self.instalment.pledge_id != self.pledge_id:
                errors["instalment"] = "This instalment belongs to another pledge."
        if self.reversal_of_id is not None and not (self.reversal_reason or "").strip():
            errors["reversal_reason"] = "A reversal needs a reason: say why the donation is reversed."
        if self.batch_id and self.status == self.Status.DRAFT:
            refusal = self.batch.refusal()
            if refusal:
                errors["batch"] = refusal
            elif self.currency and self.batch.currency != self.currency:
                errors["currency"] = (
                    f"Batch {self.batch.reference} is in {self.batch.currency}; "
                    f"this donation is in {self.currency}. Choose a {self.currency} batch, or no batch."
                )
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        if self.pk and Donation.objects.filter(pk=self.pk, status=self.Status.POSTED).exists():
            raise ImmutableRecordError(f"Donation {self.reference} is posted and cannot be changed; reverse it.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.pk and Donation.objects.filter(pk=self.pk, status=self.Status.POSTED).exists():
            raise ImmutableRecordError(f"Donation {self.reference} is posted and cannot be deleted; reverse it.")
        return super().delete(*args, **kwargs)


class SoftCredit(models.Model):
    """A donation, or a part of it, credited to another donor than the one who paid it: a government
    paying through its agency or a pooled fund, a company's foundation paying for the company, a
    gift matched for another donor. The payer keeps the hard credit (the donation's donor, in every
    total); the credited donor's summary shows the gift as received through the payer.

    Its own row pointing at the donation, so crediting never edits a posted donation. Recorded on
    posted donations only (the base part needs the frozen rate); it counts while the donation
    stands: a reversed donation's soft credits fall away from every figure (donors.selectors).
    """

    class Kind(models.TextChoices):
        ON_BEHALF = "on_behalf", gettext_lazy("Paid on behalf of")
        MATCHED = "matched", gettext_lazy("Matched")
        POOLED_MEMBER = "pooled_member", gettext_lazy("Pooled fund member")

    donation = models.ForeignKey(Donation, on_delete=models.PROTECT, related_name="soft_credits")
    donor = models.ForeignKey(
        Donor, on_delete=models.PROTECT, related_name="soft_credits", verbose_name="credited donor"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, validators=[validate_plain_text])
    amount = money_field(help_text="In the donation's currency: the whole donation or a part of it.")
    base_amount = money_field(editable=False, help_text="The amount at the donation's posted rate (base currency).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["donation", "id"]
        constraints = [
            models.UniqueConstraint(fields=["donation", "donor"], name="soft_credit_once_per_donor"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="soft_credit_amount_positive"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.donor.name}: {format_money(self.amount, self.donation.currency)}"

    def clean(self):
        if self.donation_id and (errors := money_places_errors({"amount": (self.amount, self.donation.currency)})):
            raise ValidationError(errors)


class WriteOffQuerySet(ImmutableQuerySet):
    posted_filter = Q()  # every write-off is posted when it is made

    def text_erase(self, *, reason: str) -> int:
        """Replace the reason of write-offs of an erased individual donor's pledges: the one change the
        trigger lets through (WRITEOFF_ERASURE_TEXT_SQL), as Donation's text_erase."""
        return models.QuerySet.update(self, reason=reason)


# A write-off's reason, and nothing else, inside the erasure of its pledge's donor.
WRITEOFF_ERASURE_TEXT_SQL = """
    TG_OP = 'UPDATE'
    AND (to_jsonb(NEW) - 'reason') = (to_jsonb(OLD) - 'reason')
    AND current_setting('fundtrace.donor_erasure', true)
        = (SELECT p.donor_id::text FROM donors_pledge p WHERE p.id = OLD.pledge_id)
"""


class WriteOff(models.Model):
    """A part of a pledge that will not be received. Posted when made; corrected by reversal."""

    pledge = models.ForeignKey(Pledge, on_delete=models.PROTECT, related_name="write_offs")
    amount = money_field(help_text="In the pledge's currency. Negative only on a reversal.")
    reason = models.TextField(validators=[validate_notes_text])
    written_off_on = models.DateField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reversal_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WriteOffQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-written_off_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(reversal_of__isnull=True) & Q(amount__gt=0))
                | (Q(reversal_of__isnull=False) & Q(amount__lt=0)),
                name="writeoff_amount_sign",
            ),
        ]
        permissions = [("reverse_writeoff", "Can reverse write-offs")]
        triggers = ledger_triggers(allowed_update=WRITEOFF_ERASURE_TEXT_SQL)

    def __str__(self):
        return f"Write-off of {format_money(self.amount, self.pledge.currency)} on {self.pledge.ref}"

    def clean(self):
        if self.pledge_id and (errors := money_places_errors({"amount": (self.amount, self.pledge.currency)})):
            raise ValidationError(errors)

    def save(self, *args, **kwargs):
        if self.pk and WriteOff.objects.filter(pk=self.pk).exists():
            raise ImmutableRecordError("A write-off cannot be changed; reverse it.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecordError("A write-off cannot be deleted; reverse it.")


def total_field():
    """A sum of many amounts: wider than one amount, so a busy day cannot overflow it."""
    return models.DecimalField(max_digits=TOTAL_DIGITS, decimal_places=STORED_PLACES, default=Decimal("0"))


class PostedDayTotal(models.Model):
    """Posted donations (reversals included) summed per day received and currency.

    Derived from the ledger and kept in step by `donors.totals.posted_totals_add`, called by
    every path that posts donations; `posted_totals_rebuild` recomputes it from the ledger.
    Period figures read these few rows instead of every donation.
    """

    received_on = models.DateField()
    currency = currency_field()
    count = models.IntegerField(default=0)
    amount = total_field()
    base_amount = total_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["received_on", "currency"], name="posted_day_total_unique"),
        ]

    def __str__(self):
        return f"{self.received_on} {self.currency}: {self.count} posted, {self.amount} {self.currency}"


class PostedDonorTotal(models.Model):
    """Posted donations (reversals included) of one donor summed over a calendar period, in base currency."""

    donor = models.ForeignKey(Donor, on_delete=models.CASCADE, related_name="+")
    count = models.IntegerField(default=0)
    base_amount = total_field()

    class Meta:
        abstract = True


class PostedDonorMonthTotal(PostedDonorTotal):
    """Per donor and month received; kept like `PostedDayTotal`. Per-donor figures for a period (top
    donors, totals by kind of donor) read whole months here and whole years in `PostedDonorYearTotal`."""

    month = models.DateField(help_text="The first day of the month.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["donor", "month"], name="posted_donor_month_total_unique"),
        ]
        indexes = [
            models.Index(
                fields=["month"], include=["donor", "count", "base_amount"], name="posted_donor_month_by_month"
            ),
        ]

    def __str__(self):
        return f"{self.donor_id} {self.month:%Y-%m}: {self.count} posted, {self.base_amount} (base)"


class PostedDonorYearTotal(PostedDonorTotal):
    """Per donor and calendar year received; kept like `PostedDayTotal`. A period's whole years are
    read here, its other whole months from `PostedDonorMonthTotal`, only its other days from the ledger."""

    year = models.DateField(help_text="1 January of the year.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["donor", "year"], name="posted_donor_year_total_unique"),
        ]
        indexes = [
            models.Index(fields=["year"], include=["donor", "count", "base_amount"], name="posted_donor_year_by_year"),
        ]

    def __str__(self):
        return f"{self.donor_id} {self.year:%Y}: {self.count} posted, {self.base_amount} (base)"
