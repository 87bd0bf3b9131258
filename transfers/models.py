"""Who may import and export which kind of record.

The permissions live on one unmanaged model (no table) so that the donors and grants apps
keep their own migrations; `backoffice.roles` hands them to the roles.
"""

from pathlib import PurePath

from django.conf import settings
from django.db import models

from backoffice.text import validate_notes_text, validate_plain_text

KINDS = (
    "donor", "contact", "pledge", "instalment", "donation", "exchangerate", "output", "indicator", "allocation",
    "expense",
)  # fmt: skip


class Transfer(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [(f"import_{kind}", f"Can import {kind} files") for kind in KINDS] + [
            (f"export_{kind}", f"Can export {kind} files") for kind in KINDS
        ]


class ImportJob(models.Model):
    """A large file imported from the admin on a Celery worker: checked first, then, once a
    user confirms, imported. The file is kept in private storage under a random name until the
    job ends; progress and the outcome (a summary, the first errors and the first rows'
    statuses) are recorded here. The admin's preview of a small file is a job too, checked in
    the request."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to be checked"
        CHECKING = "checking", "Checking"
        CHECKED = "checked", "Checked: ready to import"
        REFUSED = "refused", "Refused: nothing was imported"
        CONFIRMED = "confirmed", "Waiting to be imported"
        IMPORTING = "importing", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Failed: nothing was imported"
        EXPIRED = "expired", "Expired: not confirmed within a day"

    RUNNING = (Status.QUEUED, Status.CHECKING, Status.CONFIRMED, Status.IMPORTING)
    # Every error the engine lists is kept, for the download; the page shows the first ones.
    KEPT_ERRORS = 10_000  # transfers.engine.MAX_REPORTED_ERRORS
    SHOWN_ERRORS = 100
    KEPT_ROWS = 20  # the first rows' statuses shown: a taste of the file, not the file
    UPLOAD_FOLDER = "imports"  # in private storage; nothing else is kept there

    kind = models.CharField(
        max_length=20,
        help_text="The kind of file, as for import_data: donations, donors, …",
        validators=[validate_plain_text],
    )
    file = models.FileField(
        upload_to=UPLOAD_FOLDER + "/%Y/%m/", max_length=255, blank=True, help_text="The upload, until the job ends."
    )
    file_name = models.CharField(max_length=255, validators=[validate_plain_text])
    file_size = models.BigIntegerField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, validators=[validate_plain_text]
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirm_duplicates = models.BooleanField(
        default=False,
        help_text="Donor files: the uploader confirmed that likely duplicates of recorded donors are new donors.",
    )
    rows_read = models.PositiveIntegerField(default=0)
    percent = models.PositiveSmallIntegerField(default=0, help_text="How much of the file has been read.")
    rows = models.PositiveIntegerField(default=0)
    new = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="The first errors: line, column, value read, message."
    )
    row_statuses = models.JSONField(default=list, blank=True, help_text="The first rows: line, key, new or unchanged.")
    notes = models.JSONField(default=list, blank=True)
    failure = models.TextField(
        blank=True,
        help_text="What stopped the job, when it was not the file's content.",
        validators=[validate_notes_text],
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When the current step began or was queued.")
    checked_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        default_permissions = ("view",)  # view: every job; an importer also sees its own kinds' (transfers.admin)

    def __str__(self):
        return f"{self.file_name} ({self.kind}, {self.get_status_display().lower()})"

    @property
    def upload_name(self) -> str:
        """The kept upload's random name, which the admin's confirm form carries."""
        return PurePath(self.file.name).name if self.file else ""

    @property
    def running(self) -> bool:
        return self.status in self.RUNNING
