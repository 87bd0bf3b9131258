"""Money out: grant agreements, their versioned budgets, expenses and the charges of expenses to budgets.

An expense is a ledger entry held to a donation's rules: draft, then posted with its rate and base
amount frozen (`donors.services.posting_amounts`), then immutable (the model, its queryset and a
PostgreSQL trigger refuse changes); a mistake is corrected by a reversal. An approved budget version
is immutable in the same way: a revision is a new version. See docs/spending.md.
"""

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from backoffice.db import ledger_triggers
from backoffice.money import format_money, money_places_errors
from backoffice.text import validate_notes_text, validate_plain_text
from donors.models import (
    ImmutableQuerySet,
    ImmutableRecordError,
    currency_field,
    money_field,
    rate_field,
    total_field,
)

PERCENT = {"max_digits": 5, "decimal_places": 2, "validators": [MinValueValidator(0), MaxValueValidator(100)]}

# Evidence files: what finance attaches (a scanned receipt, an invoice), known by their first bytes.
EVIDENCE_TYPES = {".pdf": b"%PDF-", ".png": b"\x89PNG\r\n\x1a\n", ".jpg": b"\xff\xd8\xff", ".jpeg": b"\xff\xd8\xff"}


def validate_evidence(file) -> None:
    """A receipt or invoice: PDF, PNG or JPEG (by its name and its first bytes), at most EVIDENCE_MAX_BYTES."""
    name = (file.name or "").lower()
    suffix = name[name.rfind(".") :] if "." in name else ""
    if suffix not in EVIDENCE_TYPES:
        raise ValidationError(f"{file.name}: evidence is a PDF, PNG or JPEG file (.pdf, .png, .jpg).")
    if file.size > settings.EVIDENCE_MAX_BYTES:
        raise ValidationError(
            f"{file.name} is {file.size:,} bytes; evidence files are at most {settings.EVIDENCE_MAX_BYTES:,} bytes."
        )
    file.seek(0)
    head = file.read(8)
    file.seek(0)
    if not head.startswith(EVIDENCE_TYPES[suffix]):
        raise ValidationError(f"{file.name} is not a {suffix[1:].upper()} file: its content does not match its name.")


def evidence_upload_to(expense, filename):
    return f"expenses/evidence/{expense.reference}/{filename}"


def refused_when(parent_table: str, parent_column: str, status: str, what: str) -> pgtrigger.Trigger:
    """A trigger that refuses UPDATE and DELETE of a row whose parent row (by `parent_column`) is in
    `status`: the rows of a posted expense, the lines of an approved budget version."""
    # The names are the models' own tables and constants, never user input.
    return pgtrigger.Trigger(
        name="parent_immutable",
        when=pgtrigger.Before,
        operation=pgtrigger.Update | pgtrigger.Delete,
        func=pgtrigger.Func(
            f"IF EXISTS (SELECT 1 FROM {parent_table} WHERE id = OLD.{parent_column} AND status = '{status}') THEN"  # noqa: S608
            f" RAISE EXCEPTION '{{meta.db_table}} row % belongs to {what} and is immutable', OLD.id"
            " USING ERRCODE = 'integrity_constraint_violation'; END IF;"
            " IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW;"
        ),
    )


class Agreement(models.Model):
    """The terms of one pledge: what the funder's grant agreement says about spending its money."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        CLOSED = "closed", "Closed"

    class IndirectBase(models.TextChoices):
        ELIGIBLE = "eligible", "Eligible direct costs (budget lines marked eligible)"
        DIRECT = "direct", "All direct costs"

    class Frequency(models.IntegerChoices):
        NONE = 0, "No scheduled reports"
        ANNUAL = 12, "Annual"
        SEMIANNUAL = 6, "Every six months"
        QUARTERLY = 3, "Quarterly"

    pledge = models.OneToOneField("donors.Pledge", on_delete=models.PROTECT, related_name="agreement")
    funder_ref = models.CharField(
        "funder's reference", max_length=100, help_text="The agreement's number at the funder.",
        validators=[validate_plain_text],
    )  # fmt: skip
    start_date = models.DateField()
    end_date = models.DateField()
    currency = currency_field(editable=False, help_text="The pledge's currency.")
    variance_threshold = models.DecimalField(
        "variance threshold (%)", default=Decimal("10.00"),
        help_text="A budget line whose variance passes this needs an explanation to the funder.", **PERCENT,
    )  # fmt: skip
    indirect_rate = models.DecimalField(
        "indirect cost rate (%)", default=Decimal("0.00"), help_text="Zero when the funder pays no indirect costs.",
        **PERCENT,
    )  # fmt: skip
    indirect_base = models.CharField(
        max_length=10, choices=IndirectBase.choices, default=IndirectBase.ELIGIBLE, validators=[validate_plain_text]
    )
    reporting_frequency = models.PositiveSmallIntegerField(
        choices=Frequency.choices, default=Frequency.ANNUAL,
        help_text="Creates the financial and narrative reporting obligations of the pledge.",
    )  # fmt: skip
    reporting_days_after = models.PositiveSmallIntegerField(
        default=60, help_text="Reports fall due this many days after each reporting period ends."
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, validators=[validate_plain_text]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-start_date", "funder_ref"]
        constraints = [
            models.CheckConstraint(condition=Q(end_date__gte=models.F("start_date")), name="agreement_dates_ordered"),
        ]

    def __str__(self):
        return f"{self.funder_ref} ({self.pledge.ref})"

    def clean(self):
        errors = {}
        if self.start_date and self.end_date and self.end_date < self.start_date:
            errors["end_date"] = "The end date is before the start date."
        if self.pledge_id and self.currency and self.currency != self.pledge.currency:
            errors["currency"] = f"An agreement is in its pledge's currency, {self.pledge.currency}."
        if errors:
            raise ValidationError(errors)


class BudgetVersionQuerySet(ImmutableQuerySet):
    posted_filter = Q(status="approved")

    def approved(self):
        return self.filter(status="approved")


class BudgetVersion(models.Model):
    """One version of an agreement's budget: number 1 is the original, each later one a revision.
    Approved, it is immutable; a change is the next version."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        APPROVED = "approved", "Approved"

    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="budget_versions")
    number = models.PositiveSmallIntegerField(editable=False, help_text="1 is the original budget.")
    reason = models.TextField(blank=True, help_text="Why the budget was revised.", validators=[validate_notes_text])
    approved_by_funder = models.CharField(
        "approved by (funder)", max_length=200, blank=True, help_text="Who approved this version at the funder.",
        validators=[validate_plain_text],
    )  # fmt: skip
    approved_on = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False, validators=[validate_plain_text]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BudgetVersionQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["agreement", "number"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "number"], name="budget_version_number_unique"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(approved_on__isnull=False), name="approved_budget_has_date"
            ),
        ]
        permissions = [("approve_budgetversion", "Can approve budget versions")]
        triggers = ledger_triggers(posted=pgtrigger.Q(old__status="approved"))

    def __str__(self):
        kind = "original" if self.number == 1 else f"revision {self.number - 1}"
        return f"{self.agreement.funder_ref} budget v{self.number} ({kind})"

    @property
    def is_approved(self) -> bool:
        return self.status == self.Status.APPROVED

    def save(self, *args, **kwargs):
        if self.pk and BudgetVersion.objects.filter(pk=self.pk, status=self.Status.APPROVED).exists():
            raise ImmutableRecordError(f"{self} is approved and cannot be changed; make a revision.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.pk and BudgetVersion.objects.filter(pk=self.pk, status=self.Status.APPROVED).exists():
            raise ImmutableRecordError(f"{self} is approved and cannot be deleted; make a revision.")
        return super().delete(*args, **kwargs)


class BudgetLineQuerySet(ImmutableQuerySet):
    posted_filter = Q(version__status="approved")


class BudgetLine(models.Model):
    class Category(models.TextChoices):
        PERSONNEL = "personnel", "Personnel"
        TRAVEL = "travel", "Travel"
        EQUIPMENT = "equipment", "Equipment"
        SUPPLIES = "supplies", "Supplies"
        CONTRACTUAL = "contractual", "Contractual services"
        EVENTS = "events", "Events and meetings"
        OTHER = "other", "Other direct costs"
        INDIRECT = "indirect", "Indirect costs"

    version = models.ForeignKey(BudgetVersion, on_delete=models.CASCADE, related_name="lines")
    code = models.CharField(max_length=30, help_text="The line's code in the funder's budget.",
                            validators=[validate_plain_text])  # fmt: skip
    category = models.CharField(max_length=12, choices=Category.choices, validators=[validate_plain_text])
    description = models.CharField(max_length=200, blank=True, validators=[validate_plain_text])
    output = models.ForeignKey(
        "grants.Output", null=True, blank=True, on_delete=models.PROTECT, related_name="budget_lines"
    )
    year = models.PositiveSmallIntegerField(help_text="The calendar year this amount is budgeted for.")
    amount = money_field(validators=[MinValueValidator(Decimal("0"))], help_text="In the agreement's currency.")
    indirect_eligible = models.BooleanField(
        "in the indirect cost base", default=True,
        help_text="Spend on this line counts towards the base the indirect cost rate applies to.",
    )  # fmt: skip

    objects = BudgetLineQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["version", "code", "year"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code", "year"], name="budget_line_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="budget_line_amount_not_negative"),
        ]
        triggers = [
            refused_when("spending_budgetversion", "version_id", "approved", "an approved budget version"),
            ledger_triggers()[1],  # no TRUNCATE
        ]

    def __str__(self):
        return f"{self.code} {self.description or self.get_category_display()} ({self.year})".replace("  ", " ")

    def clean(self):
        if self.category == self.Category.INDIRECT and self.indirect_eligible:
            self.indirect_eligible = False  # indirect costs are never their own base
        if self.version_id and (
            errors := money_places_errors({"amount": (self.amount, self.version.agreement.currency)})
        ):
            raise ValidationError(errors)

    def _locked(self) -> bool:
        return BudgetVersion.objects.filter(pk=self.version_id, status=BudgetVersion.Status.APPROVED).exists()

    def save(self, *args, **kwargs):
        if self._locked():
            raise ImmutableRecordError(f"Line {self.code}: its budget version is approved; make a revision.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self._locked():
            raise ImmutableRecordError(f"Line {self.code}: its budget version is approved; make a revision.")
        return super().delete(*args, **kwargs)


class ExpenseQuerySet(ImmutableQuerySet):
    posted_filter = Q(status="posted")

    def posted(self):
        return self.filter(status="posted")


class Expense(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        POSTED = "posted", "Posted"

    reference = models.CharField(max_length=100, help_text="The invoice or payment reference.",
                                 validators=[validate_plain_text])  # fmt: skip
    incurred_on = models.DateField("date incurred")
    paid_on = models.DateField("date paid")
    payee = models.CharField(max_length=200, validators=[validate_plain_text])
    description = models.TextField(validators=[validate_notes_text])
    amount = money_field()
    currency = currency_field()
    evidence = models.FileField(
        upload_to=evidence_upload_to, blank=True, validators=[validate_evidence],
        help_text="The receipt or invoice (PDF, PNG or JPEG). Stored privately.",
    )  # fmt: skip

    # Set on posting by donors.services.posting_amounts (the donations' rule); frozen afterwards.
    rate = rate_field(null=True, blank=True, help_text="Units of base currency per unit; blank to look up.")
    rate_date = models.DateField(null=True, blank=True, editable=False)
    rate_source = models.CharField(max_length=100, blank=True, editable=False, validators=[validate_plain_text])
    base_amount = money_field(null=True, blank=True, editable=False)

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False, validators=[validate_plain_text]
    )
    posted_at = models.DateTimeField(null=True, blank=True, editable=False)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    reversal_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by", editable=False
    )
    reversal_reason = models.TextField(
        "reason for the reversal", blank=True, default="", editable=False, validators=[validate_notes_text]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ExpenseQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-incurred_on", "-id"]
        indexes = [models.Index(fields=["status", "incurred_on"])]
        constraints = [
            models.UniqueConstraint(fields=["reference"], name="expense_reference_unique"),
            models.CheckConstraint(
                condition=(Q(reversal_of__isnull=True) & Q(amount__gt=0))
                | (Q(reversal_of__isnull=False) & Q(amount__lt=0)),
                name="expense_amount_sign",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | (Q(base_amount__isnull=False) & Q(rate__isnull=False)),
                name="posted_expense_has_base_amount",
            ),
        ]
        permissions = [("post_expense", "Can post expenses"), ("reverse_expense", "Can reverse expenses")]
        triggers = ledger_triggers(posted=pgtrigger.Q(old__status="posted"))

    def __str__(self):
        return f"{self.reference}: {format_money(self.amount, self.currency)}"

    @property
    def is_posted(self) -> bool:
        return self.status == self.Status.POSTED

    def clean(self):
        errors = {}
        if self.reversal_of_id is None and self.amount is not None and self.amount <= 0:
            errors["amount"] = "The amount must be greater than zero."
        if self.incurred_on and self.paid_on and self.reversal_of_id is None and self.paid_on < self.incurred_on:
            errors["paid_on"] = "The date paid is before the date incurred."
        if self.reversal_of_id is not None and not (self.reversal_reason or "").strip():
            errors["reversal_reason"] = "A reversal needs a reason: say why the expense is reversed."
        errors |= money_places_errors({"amount": (self.amount, self.currency)})
        if errors:
            raise ValidationError(errors)

    def _posted(self) -> bool:
        return bool(self.pk) and Expense.objects.filter(pk=self.pk, status=self.Status.POSTED).exists()

    def save(self, *args, **kwargs):
        if self._posted():
            raise ImmutableRecordError(f"Expense {self.reference} is posted and cannot be changed; reverse it.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self._posted():
            raise ImmutableRecordError(f"Expense {self.reference} is posted and cannot be deleted; reverse it.")
        return super().delete(*args, **kwargs)


class ExpenseChargeQuerySet(ImmutableQuerySet):
    posted_filter = Q(expense__status="posted")


class ExpenseCharge(models.Model):
    """A part of an expense charged to a line of an agreement's budget (and so to its funder).

    `amount` is in the expense's currency; at posting the expense's base amount is split over its
    charges (largest remainder), and `spot_amount` freezes the charge in the agreement's currency
    at the rate of the day paid, for reports that convert at the spot rate.
    """

    expense = models.ForeignKey(Expense, on_delete=models.CASCADE, related_name="charges")
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="charges", editable=False)
    line = models.ForeignKey(BudgetLine, on_delete=models.PROTECT, related_name="charges")
    output = models.ForeignKey(
        "grants.Output", null=True, blank=True, on_delete=models.PROTECT, related_name="expense_charges"
    )
    amount = money_field(help_text="In the expense's currency.")
    share = models.DecimalField(
        "share (%)", max_digits=5, decimal_places=2, null=True, blank=True,
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(100)],
        help_text="Instead of an amount: this percentage of the expense.",
    )  # fmt: skip
    base_amount = money_field(null=True, blank=True, editable=False)
    spot_amount = money_field(
        null=True, blank=True, editable=False, help_text="In the agreement's currency, at the rate of the day paid."
    )

    objects = ExpenseChargeQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["expense", "id"]
        indexes = [models.Index(fields=["agreement", "line"])]
        triggers = [refused_when("spending_expense", "expense_id", "posted", "a posted expense"), ledger_triggers()[1]]

    def __str__(self):
        return f"{format_money(self.amount, self.expense.currency)} to {self.line.code} of {self.agreement.funder_ref}"

    def clean(self):
        if self.expense_id and (errors := money_places_errors({"amount": (self.amount, self.expense.currency)})):
            raise ValidationError(errors)

    def _locked(self) -> bool:
        return Expense.objects.filter(pk=self.expense_id, status=Expense.Status.POSTED).exists()

    def save(self, *args, **kwargs):
        if self._locked():
            raise ImmutableRecordError("The charges of a posted expense cannot be changed; reverse the expense.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self._locked():
            raise ImmutableRecordError("The charges of a posted expense cannot be deleted; reverse the expense.")
        return super().delete(*args, **kwargs)


class PostedChargeDayTotal(models.Model):
    """Posted charges (reversals included) summed per agreement, budget line, day incurred and the
    expense's currency: `amount` in that currency, `base_amount` and `spot_amount` as frozen at posting.

    Derived from the ledger and kept in step by every path that posts expenses (spending.totals:
    `charge_totals_add` one expense at a time, `ExpensesBulk.finish` in bulk); `charge_totals_rebuild`
    recomputes it from the ledger. Budget against actual reads these rows instead of every charge.
    """

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(BudgetLine, on_delete=models.CASCADE, related_name="+")
    incurred_on = models.DateField()
    currency = currency_field()
    count = models.IntegerField(default=0)
    amount = total_field()
    base_amount = total_field()
    spot_amount = total_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "line", "incurred_on", "currency"], name="posted_charge_day_total_unique"
            ),
        ]

    def __str__(self):
        return f"{self.incurred_on} {self.line_id} {self.currency}: {self.count} posted, {self.amount} {self.currency}"


class AuditPack(models.Model):
    """An auditor's pack for one agreement and period: a ZIP made in the background on private
    storage (spending/audit_pack.py), downloaded from the agreement's admin page. A pack whose making
    failed says why (`error`) and can be made again."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Being made"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="audit_packs")
    period_start = models.DateField()
    period_end = models.DateField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, validators=[validate_plain_text]
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(upload_to="audit-packs/", blank=True)
    sha256 = models.CharField("SHA-256 of the file", max_length=64, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="audit_pack_period_ordered"
            ),
        ]

    def __str__(self):
        return f"Audit pack #{self.pk}: {self.agreement.funder_ref}, {self.period_start} to {self.period_end}"

    @property
    def filename(self) -> str:
        ref = "".join(c if c.isalnum() or c in "-_" else "-" for c in self.agreement.funder_ref)
        return f"audit-pack-{ref}-{self.period_start:%Y%m%d}-{self.period_end:%Y%m%d}.zip"


class VarianceExplanation(models.Model):
    """Finance's explanation to the funder of a budget line whose variance in a reporting period passes
    the agreement's threshold. The financial report copies it into its snapshot, so a later edit never
    changes a report already made; a report of a period with an unexplained flagged line is refused."""

    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="variance_explanations")
    period_start = models.DateField()
    period_end = models.DateField()
    line_code = models.CharField("budget line code", max_length=30, validators=[validate_plain_text])
    text = models.TextField("explanation", validators=[validate_notes_text])
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    written_at = models.DateTimeField(editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["agreement", "-period_end", "line_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "period_start", "period_end", "line_code"], name="variance_explanation_unique"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="variance_explanation_period_ordered"
            ),
        ]

    def __str__(self):
        return f"{self.agreement.funder_ref} {self.line_code}, {self.period_start} to {self.period_end}"

    def clean(self):
        if not (self.text or "").strip():
            raise ValidationError({"text": "Write the explanation the funder will read."})
