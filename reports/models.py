"""A report run: the parameters asked for, the immutable snapshot of figures, and its PDF.

The PDF is rendered from the snapshot alone, so the stored snapshot and its SHA-256 are the
proof of what a PDF showed; the file lives on the private default storage, never public media.
"""

import datetime as dt
import re

import pgtrigger
from django.conf import settings
from django.db import models
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from backoffice.formats import format_day

# What a file name cannot hold on common systems, and control characters.
NOT_IN_FILENAMES = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def period_name(start: dt.date, end: dt.date) -> str:
    """A period as a reader names it, in the active language: "2025" for a calendar year, else
    "1 Apr 2025 to 31 Mar 2026" ("1er avril 2025 au 31 mars 2026")."""
    if (start.month, start.day, end.month, end.day) == (1, 1, 12, 31) and start.year == end.year:
        return str(start.year)
    return _("%(start)s to %(end)s") % {"start": format_day(start), "end": format_day(end)}


class FrozenRunError(RuntimeError):
    """A submitted run is the record of what the funder received: it is never changed or deleted."""


def report_upload_to(run, filename):
    return f"reports/{run.kind}/{run.pk}-{filename}"


class ReportRun(models.Model):
    class Kind(models.TextChoices):
        DONOR_SUMMARY = "donor_summary", "Donor summary"
        PORTFOLIO = "portfolio", "Portfolio"
        OUTPUT_STATEMENT = "output_statement", "Output statement"
        FINANCIAL_REPORT = "financial_report", "Financial report"

    # Each kind's title as a reader sees it (the snapshot's "title").
    READER_TITLES = {
        "donor_summary": gettext_noop("Impact summary"),
        "portfolio": "Funding portfolio",
        "output_statement": "Output statement",
        "financial_report": "Financial report",
    }

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    donor = models.ForeignKey("donors.Donor", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    output = models.ForeignKey("grants.Output", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    agreement = models.ForeignKey(
        "spending.Agreement", null=True, blank=True, on_delete=models.PROTECT, related_name="report_runs"
    )
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, help_text="Blank: the donor's preferred currency.")
    external = models.BooleanField(
        default=True, help_text="For readers outside the alliance: unacknowledged donors are not named."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sign_off = models.JSONField(
        default=dict, blank=True, editable=False,
        help_text="Financial report: who prepared and who approved it (names and roles), as asked; blank ones "
        "print as lines to sign.",
    )  # fmt: skip

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    snapshot = models.JSONField(null=True, blank=True, editable=False)
    snapshot_sha256 = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    pdf = models.FileField(upload_to=report_upload_to, blank=True, editable=False)
    pdf_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    names_shown = models.JSONField(
        default=dict, blank=True, editable=False,
        help_text="The donor names the PDF shows (its donor's, the acknowledged co-funders'): see reports/stale.py.",
    )  # fmt: skip
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False,
        help_text="The run made because this one had become stale; its download links serve that run.",
    )  # fmt: skip
    # A financial report sent to its funder: the obligation it answered, when and by whom. Submitted, the run
    # is frozen: the model and a PostgreSQL trigger refuse any change to it and its deletion.
    obligation = models.ForeignKey(
        "grants.ReportingObligation", null=True, blank=True, on_delete=models.PROTECT, related_name="report_runs",
        editable=False,
    )  # fmt: skip
    submitted_at = models.DateTimeField(null=True, blank=True, editable=False)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    renderer_version = models.PositiveSmallIntegerField(
        default=1, editable=False, help_text="The version of the renderer that drew the PDF (1: before versions)."
    )

    # An erasure (privacy/erasure.py) redacts a snapshot that named the person in place and deletes
    # its PDF; the SHA-256s stay those of the original, so the PDF the reader holds still verifies.
    redacted_on = models.DateField(
        null=True, blank=True, editable=False,
        help_text="The snapshot was redacted under an erasure request on this day; its PDF was deleted.",
    )  # fmt: skip
    redacted_by_erasure = models.ForeignKey(
        "privacy.ErasureRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )

    queued_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-queued_at", "-id"]
        permissions = [
            ("generate_report", "Can generate reports"),
            ("download_report", "Can download reports"),
            ("view_dashboard", "Can view the leadership dashboard"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="donor_summary") | models.Q(donor__isnull=False),
                name="donor_summary_has_donor",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="output_statement") | models.Q(output__isnull=False),
                name="output_statement_has_output",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="financial_report")
                | models.Q(agreement__isnull=False, period_start__isnull=False, period_end__isnull=False),
                name="financial_report_has_agreement_and_period",
            ),
            models.CheckConstraint(
                condition=models.Q(submitted_at__isnull=True) | models.Q(obligation__isnull=False, status="done"),
                name="submitted_run_is_done_with_obligation",
            ),
            models.UniqueConstraint(
                fields=["obligation"], condition=models.Q(submitted_at__isnull=False), name="obligation_submitted_once"
            ),
        ]
        triggers = [
            pgtrigger.Trigger(
                name="submitted_frozen",
                when=pgtrigger.Before,
                operation=pgtrigger.Update | pgtrigger.Delete,
                condition=pgtrigger.Condition("OLD.submitted_at IS NOT NULL"),
                func=pgtrigger.Func(
                    "RAISE EXCEPTION 'report run % was submitted to its funder and is frozen', OLD.id"
                    " USING ERRCODE = 'integrity_constraint_violation';"
                ),
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk} ({self.get_status_display()})"

    @property
    def is_frozen(self) -> bool:
        return self.submitted_at is not None

    def _frozen_in_db(self) -> bool:
        return bool(self.pk) and ReportRun.objects.filter(pk=self.pk, submitted_at__isnull=False).exists()

    def save(self, *args, **kwargs):
        if self._frozen_in_db():
            raise FrozenRunError(f"Report run {self.pk} was submitted to its funder and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self._frozen_in_db():
            raise FrozenRunError(f"Report run {self.pk} was submitted to its funder and cannot be deleted.")
        return super().delete(*args, **kwargs)

    @property
    def fingerprint(self) -> str:
        return self.snapshot_sha256[:12]

    @property
    def subject(self) -> str:
        if self.kind == self.Kind.DONOR_SUMMARY and self.donor_id:
            return str(self.donor)
        if self.kind == self.Kind.OUTPUT_STATEMENT and self.output_id:
            return str(self.output)
        if self.kind == self.Kind.FINANCIAL_REPORT and self.agreement_id:
            return str(self.agreement)
        return "All funding"

    @property
    def filename(self) -> str:
        """Staff's name for the PDF: kind, run and fingerprint."""
        return f"{self.kind.replace('_', '-')}-{self.pk}-{self.fingerprint or 'pending'}.pdf"

    @property
    def reader_filename(self) -> str:
        """The PDF's name for a donor: "Impact summary 2025 – Global Affairs Canada.pdf", in the donor's
        language for a donor summary ("Rapport d'impact 2025 – …"). Characters a file name cannot hold
        become spaces; Django encodes the rest (RFC 2231) where a header needs it."""
        if self.kind == self.Kind.DONOR_SUMMARY:
            with translation.override(self.donor.language):
                return self._reader_filename()
        return self._reader_filename()

    def _reader_filename(self) -> str:
        title = _(self.READER_TITLES[self.kind])
        if self.kind == self.Kind.OUTPUT_STATEMENT:
            when = f"as of {self.period_end.day} {self.period_end:%b %Y}" if self.period_end else ""
            name = f"{title} {when} – {self.output.title}"
        elif self.kind == self.Kind.FINANCIAL_REPORT:
            name = f"{title} {period_name(self.period_start, self.period_end)} – {self.agreement.funder_ref}"
        elif self.kind == self.Kind.DONOR_SUMMARY:
            name = f"{title} {period_name(self.period_start, self.period_end)} – {self.donor.name}"
        else:
            name = f"{title} {period_name(self.period_start, self.period_end)}"
        name = " ".join(NOT_IN_FILENAMES.sub(" ", name).split())
        return f"{name[:150].rstrip(' .–')}.pdf"
