"""The import/export buttons on the admin's change lists, with their own permissions."""

import datetime as dt

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST
from import_export.admin import ImportExportMixin
from import_export.forms import ImportForm

from backoffice.admin_tools import RecordAdmin

from . import columns
from .engine import ImportInterrupted
from .export import CONTENT_TYPES
from .files import FileRejected, max_bytes
from .jobs import (
    ImportJobError,
    import_job_confirm,
    import_job_create,
    import_job_errors_csv,
    import_job_run,
    import_job_take,
    import_jobs_fail_stuck,
    kind_of,
)
from .models import ImportJob
from .registry import KINDS
from .resources import FORMATS
from .tasks import LIMITS


class TransferImportForm(ImportForm):
    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        if upload.size > max_bytes():
            # Refused before the upload is copied to temporary storage or read.
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; the limit is {max_bytes():,} bytes. Split it into parts."
            )
        return upload


class DonorImportForm(TransferImportForm):
    """The donor file's form: the confirmation that rows which likely duplicate recorded donors are new donors."""

    confirm_duplicates = forms.BooleanField(
        required=False,
        label="Import likely duplicates as new donors",
        help_text="Tick only after a check listed them and you have found they are different donors.",
    )


def _confirm_duplicates(form) -> bool:
    return bool(getattr(form, "cleaned_data", {}).get("confirm_duplicates"))


class _UploadAsSent:
    """What import-export's preview reads instead of a temporary file: the upload itself. Nothing
    is written anywhere unless the preview passes; then the file is kept as the user's import job
    (TransferAdminMixin.import_action), and the confirm form names that job's upload."""

    name = None

    def __init__(self, upload):
        self.upload = upload

    def read(self):
        self.upload.seek(0)
        return self.upload.read()


class TransferAdminMixin(ImportExportMixin):
    """Add to a ModelAdmin with `resource_classes = [SomeResource]`.

    Import needs `transfers.import_<kind>`, export `transfers.export_<kind>` (see
    backoffice.roles); without it there is no button and the URL answers 403.

    Import-export's temporary storage is not used: it keeps every upload, refused ones included,
    and its go-ahead reads and then deletes whatever file the form names. Here an upload that
    passes the preview is kept in private storage as an ImportJob of the user's, and the go-ahead
    imports only that (jobs.import_job_take). The views are not one transaction: the import has
    its own, and the job's state must be written even when the import's connection is lost.
    """

    skip_admin_log = True  # simple_history records every imported row
    import_form_class = TransferImportForm
    import_template_name = "transfers/import.html"

    def get_import_formats(self):
        return FORMATS

    def get_import_data_kwargs(self, **kwargs):
        """The import form's options for the importer (a donor file's confirm_duplicates)."""
        form = kwargs.get("form")
        kwargs = super().get_import_data_kwargs(**kwargs)
        if _confirm_duplicates(form):
            kwargs["confirm_duplicates"] = True
        return kwargs

    def get_export_formats(self):
        return FORMATS

    def _transfer_kind(self) -> str:
        return self.resource_classes[0].importer_class.kind

    def _import_url(self) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import")

    def write_to_tmp_storage(self, import_file, input_format):
        input_format.file_name = import_file.name  # so that messages about the file name the user's own
        return _UploadAsSent(import_file)

    def _kind_name(self) -> str:
        """The kind's command-line name: 'donations'."""
        return kind_of(self.resource_classes[0].importer_class)

    def get_import_context_data(self, **kwargs):
        importer_class = self.resource_classes[0].importer_class
        return {
            **super().get_import_context_data(**kwargs),
            "transfer_columns": columns.column_docs(importer_class),
            "template_name": columns.template_name(self._kind_name()),
            "template_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import_template"),
        }

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "import/template/",
                self.admin_site.admin_view(self.import_template_view),
                name="{}_{}_import_template".format(*info),
            ),
            *super().get_urls(),
        ]

    def import_template_view(self, request):
        """The header row to fill in, as CSV (transfers.columns says why there is no example row)."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        response = HttpResponse(
            columns.template_csv(self.resource_classes[0].importer_class), content_type=CONTENT_TYPES["csv"]
        )
        response["Content-Disposition"] = content_disposition_header(True, columns.template_name(self._kind_name()))
        return response

    @transaction.non_atomic_requests
    def import_action(self, request, **kwargs):
        """A file over IMPORT_BACKGROUND_BYTES is checked and imported on a worker (an ImportJob,
        with a progress page); smaller files get import-export's preview here, and are kept as a
        checked ImportJob for the confirm."""
        upload = request.FILES.get("import_file") if request.method == "POST" else None
        if upload is not None and upload.size > settings.IMPORT_BACKGROUND_BYTES:
            if not self.has_import_permission(request):
                raise PermissionDenied
            form = self.create_import_form(request)
            if form.is_valid():
                job = import_job_create(
                    kind=kind_of(self.resource_classes[0].importer_class),
                    upload=upload,
                    user=request.user,
                    confirm_duplicates=_confirm_duplicates(form),
                )
                messages.info(
                    request,
                    f"{job.file_name} ({upload.size:,} bytes) is being checked on a worker; "
                    "this page shows its progress. Nothing is imported until you confirm.",
                )
                return redirect("admin:transfers_importjob_change", job.pk)
        try:
            response = super().import_action(request, **kwargs)
        except ImportInterrupted as error:
            messages.error(request, str(error))
            return redirect(self._import_url())
        context = getattr(response, "context_data", None) or {}
        outcome = getattr(context.get("result"), "transfer_outcome", None)
        if outcome is not None:
            # Checked in the request: a clean file is kept for the go-ahead; a refused one keeps
            # only its errors, so that they can be downloaded without the upload.
            form = context.get("form")
            job = import_job_create(
                kind=self._kind_name(),
                upload=upload,
                user=request.user,
                checked=outcome,
                confirm_duplicates=_confirm_duplicates(form),
            )
            if "confirm_form" in context:
                context["confirm_form"].initial["import_file_name"] = job.upload_name
            else:
                context.update(_errors_context(job, request.user))
        return response

    @method_decorator(require_POST)
    @transaction.non_atomic_requests
    def process_import(self, request, **kwargs):
        """The go-ahead from the preview page, which names the upload kept for the preview: the
        user's own checked upload of this kind is imported here, once; any other name is refused."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        confirm_form = self.create_confirm_form(request)
        if not confirm_form.is_valid():
            return super().process_import(request, **kwargs)  # the form again, with its errors
        try:
            job = import_job_take(
                upload_name=confirm_form.cleaned_data["import_file_name"],
                kind=kind_of(self.resource_classes[0].importer_class),
                user=request.user,
            )
        except ImportJobError as error:
            messages.error(request, str(error))
            return redirect(self._import_url())
        job = import_job_run(job.pk, check=False)
        if job.status != ImportJob.Status.DONE:
            # The database changed since the preview, or stopped the import: the job's page says how.
            messages.error(request, job.failure or job.notes[0])
            return redirect("admin:transfers_importjob_change", job.pk)
        messages.success(request, job.notes[0])
        for note in job.notes[1:]:
            messages.info(request, note)
        return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")

    def has_import_permission(self, request):
        return request.user.has_perm(f"transfers.import_{self._transfer_kind()}")

    def has_export_permission(self, request):
        return request.user.has_perm(f"transfers.export_{self._transfer_kind()}")

    def add_data_read_fail_error_to_form(self, form, e):
        if isinstance(e, FileRejected):
            form.add_error("import_file", str(e))
        else:
            super().add_data_read_fail_error_to_form(form, e)


def _errors_context(job: ImportJob, user) -> dict:
    """The error table of a refused job: its first errors in file order, and the download of all
    that are kept for the user who uploaded the file."""
    return {
        "import_job": job,
        "errors_shown": job.errors[: ImportJob.SHOWN_ERRORS],
        "errors_not_shown": max(0, job.error_count - ImportJob.SHOWN_ERRORS),
        "errors_not_kept": max(0, job.error_count - len(job.errors)),
        "errors_url": (
            reverse("admin:transfers_importjob_errors", args=[job.pk]) if job.requested_by_id == user.pk else ""
        ),
    }


def _importable_kinds(user) -> list[str]:
    return [name for name, cls in KINDS.items() if user.has_perm(f"transfers.import_{cls.kind}")]


@admin.register(ImportJob)
class ImportJobAdmin(RecordAdmin):
    """Large imports from the admin: who may import a kind sees its jobs. Read-only; the one
    action is the go-ahead for a checked file."""

    list_display = [
        "file_name",
        "kind",
        "status",
        "rows",
        "new",
        "unchanged",
        "error_count",
        "requested_by",
        "created_at",
    ]
    list_filter = ["status", "kind"]
    list_select_related = ["requested_by"]
    actions = ["fail_stuck"]

    @admin.action(description="Mark stuck jobs failed (working or waiting longer than the task time limit)")
    def fail_stuck(self, request, queryset):
        limit = dt.timedelta(seconds=LIMITS["time_limit"])
        jobs = queryset.filter(kind__in=_importable_kinds(request.user))
        count = import_jobs_fail_stuck(older_than=limit, jobs=jobs)
        self.message_user(request, f"{count} stuck job(s) marked failed; nothing of them was imported.")

    def get_actions(self, request):
        return super().get_actions(request) if _importable_kinds(request.user) else {}

    @staticmethod
    def _reads_all(request) -> bool:
        return request.user.has_perm("transfers.view_importjob")

    def has_module_permission(self, request):
        return self._reads_all(request) or bool(_importable_kinds(request.user))

    def has_view_permission(self, request, obj=None):
        if self._reads_all(request):
            return True
        kinds = _importable_kinds(request.user)
        return bool(kinds) and (obj is None or obj.kind in kinds)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/confirm/",
                self.admin_site.admin_view(self.confirm_view),
                name="transfers_importjob_confirm",
            ),
            path(
                "<int:object_id>/errors/",
                self.admin_site.admin_view(self.errors_view),
                name="transfers_importjob_errors",
            ),
            *super().get_urls(),
        ]

    def get_queryset(self, request):
        jobs = super().get_queryset(request).select_related("requested_by", "confirmed_by")
        return jobs if self._reads_all(request) else jobs.filter(kind__in=_importable_kinds(request.user))

    def _job(self, request, object_id) -> ImportJob:
        # get_object answers None for an id that is not a number ("import", "add"), not an error.
        job = self.get_object(request, unquote(str(object_id)))
        if job is None:
            raise Http404("There is no such import job.")
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        return job

    def errors_view(self, request, object_id):
        """The job's errors as CSV, for the user who uploaded the file only: the values read
        are that user's data."""
        job = self._job(request, object_id)
        if job.requested_by_id != request.user.pk:
            raise PermissionDenied
        response = HttpResponse(import_job_errors_csv(job), content_type=CONTENT_TYPES["csv"])
        stem = job.file_name.rsplit(".", 1)[0] or "import"
        response["Content-Disposition"] = content_disposition_header(True, f"{stem}-errors.csv")
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self._job(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Import of {job.file_name}",
            "job": job,
            **_errors_context(job, request.user),
            "more_rows": max(0, job.new + job.unchanged - len(job.row_statuses)),
            "changelist_url": reverse(f"admin:{self._target_changelist(job)}"),
        }
        return TemplateResponse(request, "transfers/import_job.html", context)

    @staticmethod
    def _target_changelist(job: ImportJob) -> str:
        model = KINDS[job.kind].model
        return f"{model._meta.app_label}_{model._meta.model_name}_changelist"

    def confirm_view(self, request, object_id):
        job = self._job(request, object_id)
        if job.kind not in _importable_kinds(request.user):
            raise PermissionDenied
        if request.method != "POST":
            return redirect("admin:transfers_importjob_change", job.pk)
        try:
            import_job_confirm(job=job, user=request.user)
        except ImportJobError as error:
            messages.error(request, str(error))
        else:
            messages.info(request, format_html("Importing {}: this page shows its progress.", job.file_name))
        return redirect("admin:transfers_importjob_change", job.pk)
