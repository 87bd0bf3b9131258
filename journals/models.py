"""The general ledger's side of Fundtrace: where each posting goes (AccountMap), and the log of the
journals sent there (JournalExport, its JournalEntry rows and the records each entry carries).

A posted donation or expense belongs to at most one journal entry (JournalItem's one-to-one links):
that is what makes every posting reach the ledger exactly once. The log is immutable: the models and
a database trigger refuse changes, so a file once exported can always be given again, byte for byte.
See docs/journals.md.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from backoffice.db import ledger_triggers
from backoffice.text import validate_plain_text
from donors.models import Donation, DonationBatch, ImmutableRecordError, currency_field, total_field
from spending.models import BudgetLine, Expense

UNCHARGED = "uncharged"
COST_CATEGORIES = [*BudgetLine.Category.choices, (UNCHARGED, "Not charged to a budget line")]


class AccountMap(models.Model):
    """One row of the account map Finance keeps: a kind of posting, its key, and where it goes."""

    class Kind(models.TextChoices):
        INCOME = "income", "Donation income (by restriction and method)"
        COST = "cost", "Expense cost (by budget category)"
        BANK = "bank", "Bank (by currency)"
        PROGRAMME = "programme", "Programme (tracking category or cost centre)"

    class Restriction(models.TextChoices):
        UNRESTRICTED = "unrestricted", "Unrestricted"
        RESTRICTED = "restricted", "Restricted"

    kind = models.CharField(max_length=10, choices=Kind.choices, validators=[validate_plain_text])
    restriction = models.CharField(
        max_length=12, choices=Restriction.choices, blank=True, validators=[validate_plain_text],
        help_text="Income rows: restricted means the donation's pledge is restricted to a programme or an output.",
    )  # fmt: skip
    method = models.CharField(
        max_length=20, choices=Donation.Method.choices, blank=True, validators=[validate_plain_text],
        help_text="Income rows: how the donation was given.",
    )  # fmt: skip
    category = models.CharField(
        "budget category", max_length=12, choices=COST_CATEGORIES, blank=True, validators=[validate_plain_text],
        help_text="Cost rows: the category of the budget line an expense is charged to.",
    )  # fmt: skip
    currency = currency_field(blank=True, help_text="Bank rows: the currency of the bank account.")
    programme = models.ForeignKey(
        "grants.Programme", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Programme rows: the programme whose postings carry this tracking option.",
    )  # fmt: skip
    account_code = models.CharField(
        "code", max_length=50, validators=[validate_plain_text],
        help_text="The account's code in the ledger (Xero's AccountCode); for a programme, its cost centre code.",
    )  # fmt: skip
    account_name = models.CharField(
        "name",
        max_length=200,
        validators=[validate_plain_text],
        help_text="The account's name exactly as the ledger shows it (QuickBooks imports by name); for a "
        "programme, the tracking option (Xero) or class (QuickBooks).",
    )
    tracking_category = models.CharField(
        max_length=100, blank=True, default="Programme", validators=[validate_plain_text],
        help_text="Programme rows: the name of the tracking category in Xero (TrackingName1).",
    )  # fmt: skip
    tax_rate = models.CharField(
        max_length=100,
        blank=True,
        default="No VAT",
        validators=[validate_plain_text],
        help_text="Account rows: Xero's TaxRate name for lines to this account (donations and grants are "
        "usually outside the scope of VAT).",
    )

    class Meta:
        ordering = ["kind", "restriction", "method", "category", "currency", "programme__name"]
        verbose_name = "account mapping"
        constraints = [
            models.UniqueConstraint(
                fields=["restriction", "method"], condition=Q(kind="income"), name="account_map_income_once"
            ),
            models.UniqueConstraint(fields=["category"], condition=Q(kind="cost"), name="account_map_cost_once"),
            models.UniqueConstraint(fields=["currency"], condition=Q(kind="bank"), name="account_map_bank_once"),
            models.UniqueConstraint(
                fields=["programme"], condition=Q(kind="programme"), name="account_map_programme_once"
            ),
        ]

    # The fields that make each kind's key; every other key field stays blank.
    KEYS = {
        Kind.INCOME: ("restriction", "method"),
        Kind.COST: ("category",),
        Kind.BANK: ("currency",),
        Kind.PROGRAMME: ("programme",),
    }

    def __str__(self):
        return f"{self.key_label()} → {self.account_code} {self.account_name}"

    def key_label(self) -> str:
        if self.kind == self.Kind.INCOME:
            return income_label(self.restriction, self.method)
        if self.kind == self.Kind.COST:
            return cost_label(self.category)
        if self.kind == self.Kind.BANK:
            return bank_label(self.currency)
        return programme_label(self.programme)

    def clean(self):
        super().clean()
        if not self.kind:
            return
        wanted = self.KEYS[self.kind]
        errors = {}
        for field in ("restriction", "method", "category", "currency", "programme"):
            value = getattr(self, field + ("_id" if field == "programme" else ""))
            if field in wanted and not value:
                errors[field] = f"A {self.get_kind_display().split(' (')[0].lower()} mapping needs this."
            elif field not in wanted and value:
                errors[field] = f"Leave this blank on a {self.get_kind_display().split(' (')[0].lower()} mapping."
        if errors:
            raise ValidationError(errors)


def income_label(restriction: str, method: str) -> str:
    method_name = Donation.Method(method).label.lower() if method in Donation.Method.values else method
    return f"{restriction} donations by {method_name}"


def cost_label(category: str) -> str:
    return f"budget category “{dict(COST_CATEGORIES).get(category, category)}”"


def bank_label(currency: str) -> str:
    return f"the {currency} bank account"


def programme_label(programme) -> str:
    return f"programme {programme.code} {programme.name}"


class ImmutableLogQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableRecordError(f"The {self.model._meta.verbose_name} log cannot be changed.")

    def delete(self):
        raise ImmutableRecordError(f"The {self.model._meta.verbose_name} log cannot be deleted.")


class ImmutableLog(models.Model):
    objects = ImmutableLogQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk and type(self).objects.filter(pk=self.pk).exists():
            raise ImmutableRecordError(f"{self} is in the journal log and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRecordError(f"{self} is in the journal log and cannot be deleted.")


class JournalExport(ImmutableLog):
    """One journal file as it was exported: its bytes, their SHA-256, who made it and when."""

    class Format(models.TextChoices):
        XERO = "xero", "Xero manual journal (CSV)"
        QUICKBOOKS = "quickbooks", "QuickBooks Online journal entries (CSV)"
        GENERIC = "generic", "Generic journal (CSV)"

    format = models.CharField(max_length=10, choices=Format.choices, validators=[validate_plain_text])
    since = models.DateField(null=True, blank=True, help_text="Postings from this day on, when asked for so.")
    filename = models.CharField(max_length=200, validators=[validate_plain_text])
    content = models.BinaryField(editable=False)
    sha256 = models.CharField("SHA-256", max_length=64, validators=[validate_plain_text])
    currency = currency_field(help_text="The base currency every amount of the file is in.")
    entry_count = models.PositiveIntegerField()
    total_debits = total_field()
    exported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    exported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-exported_at", "-id"]
        verbose_name = "journal export"
        permissions = [
            ("export_journal", "Can export journals"),
            ("download_journal", "Can download exported journal files"),
        ]
        triggers = ledger_triggers()

    def __str__(self):
        return f"Journal export #{self.pk} ({self.filename})"


class JournalEntry(ImmutableLog):
    """One balanced entry of an export: a posted donation batch, a day's postings outside a batch, or
    a reversal. `key` names the group, so that no group is ever exported twice."""

    class Kind(models.TextChoices):
        DONATION_BATCH = "donation_batch", "Donation batch"
        DONATION_DAY = "donation_day", "Donations posted outside a batch, by day"
        DONATION_REVERSAL = "donation_reversal", "Donation reversal"
        EXPENSE_DAY = "expense_day", "Expenses posted on a day"
        EXPENSE_REVERSAL = "expense_reversal", "Expense reversal"

    export = models.ForeignKey(JournalExport, on_delete=models.PROTECT, related_name="entries")
    key = models.CharField(max_length=150, unique=True, validators=[validate_plain_text])
    kind = models.CharField(max_length=20, choices=Kind.choices, validators=[validate_plain_text])
    day = models.DateField(help_text="The journal's date: the day its postings were posted.")
    narration = models.CharField(max_length=300, validators=[validate_plain_text])
    batch = models.OneToOneField(
        DonationBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="journal_entry"
    )
    total_debits = total_field()

    class Meta:
        ordering = ["export", "id"]
        verbose_name_plural = "journal entries"
        triggers = ledger_triggers()

    def __str__(self):
        return f"{self.number}: {self.narration}"

    @property
    def number(self) -> str:
        return f"FT-J{self.pk:06d}"


class JournalItem(ImmutableLog):
    """A posted donation or expense carried by a journal entry: each one at most once, ever."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="items")
    donation = models.OneToOneField(
        Donation, null=True, blank=True, on_delete=models.PROTECT, related_name="journal_item"
    )
    expense = models.OneToOneField(
        Expense, null=True, blank=True, on_delete=models.PROTECT, related_name="journal_item"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(donation__isnull=False, expense__isnull=True)
                | Q(donation__isnull=True, expense__isnull=False),
                name="journal_item_one_record",
            ),
        ]
        triggers = ledger_triggers()

    def __str__(self):
        return f"{self.entry_id}: {self.donation_id or self.expense_id}"


class LedgerBatch(DonationBatch):
    """Donation batches as the general ledger sees them: posted or not, exported or not (the batch
    list whose action exports their journal, journals/admin.py)."""

    class Meta:
        proxy = True
        verbose_name = "donation batch for the ledger"
        verbose_name_plural = "donation batches for the ledger"
