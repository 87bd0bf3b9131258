"""What UK GDPR asks of the back office about a person: a subject access request answered with
everything held about them, made in the background as one ZIP on private storage."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class SubjectAccessRequest(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Being made"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    contact = models.ForeignKey(
        "donors.Contact", null=True, on_delete=models.SET_NULL, related_name="subject_access_requests"
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    finished_at = models.DateTimeField(null=True, blank=True)
    file = models.FileField(upload_to="subject-access/", blank=True)
    sha256 = models.CharField("SHA-256 of the file", max_length=64, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self):
        return f"Subject access request #{self.pk}"
