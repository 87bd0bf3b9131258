"""The import/export buttons on the admin's change lists, with their own permissions."""

from django import forms
from django.contrib import messages
from import_export.admin import ImportExportMixin
from import_export.forms import ImportForm

from .files import FileRejected, max_bytes
from .resources import FORMATS


class TransferImportForm(ImportForm):
    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        if upload.size > max_bytes():
            # Refused before the upload is copied to temporary storage or read.
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; the limit is {max_bytes():,} bytes. Split it into parts."
            )
        return upload


class TransferAdminMixin(ImportExportMixin):
    """Add to a ModelAdmin with `resource_classes = [SomeResource]`.

    Import needs `transfers.import_<kind>`, export `transfers.export_<kind>` (see
    backoffice.roles); without it there is no button and the URL answers 403.
    """

    skip_admin_log = True  # simple_history records every imported row
    import_form_class = TransferImportForm

    def get_import_formats(self):
        return FORMATS

    def get_export_formats(self):
        return FORMATS

    def _transfer_kind(self) -> str:
        return self.resource_classes[0].importer_class.kind

    def has_import_permission(self, request):
        return request.user.has_perm(f"transfers.import_{self._transfer_kind()}")

    def has_export_permission(self, request):
        return request.user.has_perm(f"transfers.export_{self._transfer_kind()}")

    def add_data_read_fail_error_to_form(self, form, e):
        if isinstance(e, FileRejected):
            form.add_error("import_file", str(e))
        else:
            super().add_data_read_fail_error_to_form(form, e)

    def add_success_message(self, result, request):
        outcome = getattr(result, "transfer_outcome", None)
        if outcome is None:
            return super().add_success_message(result, request)
        messages.success(request, outcome.summary())
        for note in outcome.notes:
            messages.info(request, note)
