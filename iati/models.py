"""An IATI export asked for on the reports page: made by a worker as one ZIP (the organisation file and
the activities file) on private storage, or refused with the reasons the files break the standard."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class IatiExport(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Being made"
        DONE = "done", "Ready"
        FAILED = "failed", "Refused"

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now, editable=False)
    as_of = models.DateTimeField(help_text="The ledger as of this time; the files' generated-datetime.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    finished_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(upload_to="iati/", blank=True)
    sha256 = models.CharField("SHA-256 of the file", max_length=64, blank=True)
    activities = models.PositiveIntegerField(default=0, help_text="How many activities the file publishes.")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = "IATI export"
        permissions = [("export_iati", "Can publish IATI files"), ("download_iati", "Can download IATI files")]

    def __str__(self):
        return f"IATI export #{self.pk}"

    @property
    def filename(self) -> str:
        return f"iati-{timezone.localtime(self.as_of):%Y%m%d-%H%M%S}.zip"
