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


class ErasureRequest(models.Model):
    """A request to erase a person (UK GDPR, Article 17): a contact, or an individual donor with their
    contacts. One user asks, a second approves; the approval erases them in the same transaction
    (privacy/erasure.py). Once done, this row names the person only by their pseudonym."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Waiting for approval"
        DONE = "done", "Erased"
        REFUSED = "refused", "Refused"

    contact = models.ForeignKey(
        "donors.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="erasure_requests"
    )
    donor = models.ForeignKey(
        "donors.Donor", null=True, blank=True, on_delete=models.PROTECT, related_name="erasure_requests",
        help_text="An individual donor: erasing them erases their contacts too.",
    )  # fmt: skip
    label = models.CharField(
        "pseudonym", max_length=40, editable=False, help_text="What the person is called once erased."
    )
    reason = models.TextField(help_text="Why: for example, the date and channel of the person's request.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Who approved (and so erased) or refused it: never who asked.",
    )  # fmt: skip
    decided_at = models.DateTimeField(null=True, blank=True)
    refusal_reason = models.TextField(blank=True)
    # A request is about the donor it names: a merge never moves it to the survivor (donors.merge).
    merge_keeps_donor = True

    removed = models.JSONField(
        default=dict, blank=True, editable=False, help_text="How many of each kind of record were erased or redacted."
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        permissions = [("approve_erasurerequest", "Can approve or refuse erasure requests")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(contact__isnull=True, donor__isnull=False)
                | models.Q(contact__isnull=False, donor__isnull=True),
                name="erasure_one_subject",
                violation_error_message="An erasure request is for one contact or one individual donor.",
            ),
            models.CheckConstraint(
                condition=~models.Q(decided_by=models.F("requested_by")),
                name="erasure_second_person",
                violation_error_message="Whoever asked for an erasure cannot approve or refuse it.",
            ),
            # One open request per person at a time.
            models.UniqueConstraint(
                fields=["contact"], condition=models.Q(status="requested"), name="erasure_contact_open_once"
            ),
            models.UniqueConstraint(
                fields=["donor"], condition=models.Q(status="requested"), name="erasure_donor_open_once"
            ),
        ]

    def __str__(self):
        return f"Erasure request #{self.pk}: {self.label}"
