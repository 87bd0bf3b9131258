"""Delivery of report runs to donor contacts: one Delivery per (run, contact), every attempt logged.

A delivery moves pending → sending → sent | failed. The move to sending is a conditional UPDATE,
so only one worker ever holds a delivery; a delivery left in sending (a worker died between the
SMTP answer and our write) is never sent again automatically: see docs/delivery.md.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # The message was sent and the server never answered: it may have been stored. Never resent
        # automatically; a human checks the mail log, as for a delivery stuck in sending.
        UNANSWERED = "unanswered", "No answer after sending"
        # Never sent, and never sent while its reason stands: the contact objected to email.
        SKIPPED = "skipped", "Not sent: objected to email"

    run = models.ForeignKey("reports.ReportRun", on_delete=models.PROTECT, related_name="deliveries")
    contact = models.ForeignKey("donors.Contact", on_delete=models.PROTECT, related_name="deliveries")
    email = models.EmailField(help_text="The address the report went to, as it was when the delivery was made.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sending_since = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["run", "contact"], name="delivery_once_per_run_contact")]
        permissions = [
            ("send_donor_summaries", "Can send donor summaries"),
            ("revoke_delivery", "Can revoke download links"),
        ]

    def __str__(self):
        return f"Delivery #{self.pk} of run {self.run_id} to {self.email} ({self.get_status_display()})"

    @property
    def is_stuck(self) -> bool:
        """A human must check the mail log before resending: see `stuck`."""
        if self.status == self.Status.UNANSWERED:
            return True
        if self.status != self.Status.SENDING or self.sending_since is None:
            return False
        return timezone.now() - self.sending_since > timezone.timedelta(minutes=settings.DELIVERY_STUCK_MINUTES)

    @classmethod
    def stuck(cls) -> Q:
        """Sent or maybe sent, and not known to be: in sending for longer than a send can take (a
        worker died mid-send), or sent without an answer from the server."""
        before = timezone.now() - timezone.timedelta(minutes=settings.DELIVERY_STUCK_MINUTES)
        return Q(status=cls.Status.UNANSWERED) | Q(status=cls.Status.SENDING, sending_since__lt=before)


class DeliveryAttempt(models.Model):
    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"
        RETRY = "retry", "Failed, will retry"
        FAILED = "failed", "Failed"
        UNANSWERED = "unanswered", "Sent, no answer: check the mail log"
        SKIPPED = "skipped", "Not sent: objected to email"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error = models.TextField(blank=True)
    smtp_code = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["delivery", "number", "id"]

    def __str__(self):
        return f"Attempt {self.number}: {self.outcome}"


class DownloadLog(models.Model):
    """One opening of a donor's link: the PDF downloaded, or its HTML version read."""

    class Format(models.TextChoices):
        PDF = "pdf", "PDF"
        HTML = "html", "HTML version"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="downloads")
    downloaded_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    format = models.CharField(max_length=4, choices=Format.choices, default=Format.PDF)

    class Meta:
        ordering = ["-downloaded_at", "-id"]

    def __str__(self):
        return f"{self.get_format_display()} of delivery {self.delivery_id} at {self.downloaded_at:%Y-%m-%d %H:%M}"


class ReminderSent(models.Model):
    """The weekly Finance reminder: one row per ISO week, claimed before the email goes out."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"

    week = models.CharField(max_length=8, unique=True, help_text="ISO week, e.g. 2025-W09.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    recipients = models.PositiveIntegerField(default=0)
    overdue_instalments = models.PositiveIntegerField(default=0)
    obligations_due = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-week"]

    def __str__(self):
        return f"Reminder {self.week} ({self.get_status_display()})"


class Mailing(models.Model):
    """A mailing of donor summaries that someone confirmed after its preview: who, when, for what.

    `nonce` comes from the signed confirmation the preview gave; being unique, it makes each
    confirmation good for one mailing, so a second click or a replayed form sends nothing."""

    nonce = models.CharField(max_length=32, unique=True, editable=False)
    period_start = models.DateField()
    period_end = models.DateField()
    everyone = models.BooleanField(help_text="Every donor with posted donations in the period, rather than a list.")
    refs = models.TextField("donor references", blank=True, help_text="The donors listed, when not every donor.")
    reports = models.PositiveIntegerField(help_text="Donor summaries sent or queued.")
    contacts = models.PositiveIntegerField(help_text="Deliveries queued, one per contact.")
    skipped = models.PositiveIntegerField(help_text="Contacts and donors left out, each with its reason on the page.")
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-confirmed_at", "-id"]

    def __str__(self):
        return f"Mailing of {self.period_start} to {self.period_end}, {self.confirmed_at:%Y-%m-%d %H:%M}"
