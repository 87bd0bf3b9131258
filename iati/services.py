"""Publishing to IATI: build the two files, validate them (the official 2.03 schemas, then the standard's
rules), and refuse an export that fails either, with the messages that say where."""

import datetime as dt
import hashlib

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from backoffice.archives import zip_bytes
from backoffice.errors import LedgerError
from backoffice.models import Organisation

from .builder import IatiBuildError, IatiFiles, iati_files_build
from .models import IatiExport
from .validation import rule_errors, schema_errors

ACTIVITIES_FILE, ORGANISATION_FILE = "iati-activities.xml", "iati-organisation.xml"


class IatiError(LedgerError):
    """An export refused: `messages` are the schema's and the rules' messages, each saying where."""

    def __init__(self, messages: list[str]):
        super().__init__(list(messages))


def iati_files_check(files: IatiFiles, *, on: dt.date) -> None:
    identifier = Organisation.current().iati_identifier
    messages = []
    for kind, name, data in (
        ("organisation", ORGANISATION_FILE, files.organisation),
        ("activities", ACTIVITIES_FILE, files.activities),
    ):
        problems = schema_errors(kind, data)
        if not problems:
            problems = rule_errors(kind, data, identifier=identifier, on=on)
        messages += [f"{name} {problem}" for problem in problems]
    if messages:
        raise IatiError(messages)


def iati_export(*, as_of: dt.datetime) -> dict[str, bytes]:
    """The two files by name, valid, for the ledger as of `as_of`; IatiError when they would not be."""
    try:
        files = iati_files_build(as_of=as_of)
    except IatiBuildError as error:
        raise IatiError(error.messages) from None
    iati_files_check(files, on=timezone.localdate(as_of))
    return {ORGANISATION_FILE: files.organisation, ACTIVITIES_FILE: files.activities}


@transaction.atomic
def iati_export_request(*, by, as_of: dt.datetime | None = None) -> IatiExport:
    """Ask for an export; a worker makes it once this commits."""
    from .tasks import iati_export_make

    export = IatiExport.objects.create(requested_by=by, as_of=as_of or timezone.now())
    transaction.on_commit(lambda: iati_export_make.delay(export.pk))
    return export


def iati_export_make(*, export_id: int) -> IatiExport:
    """Make an export's ZIP; safe to run twice (a finished export is left as it is)."""
    export = IatiExport.objects.get(pk=export_id)
    if export.status != IatiExport.Status.QUEUED:
        return export
    try:
        files = iati_export(as_of=export.as_of)
    except IatiError as error:
        export.status, export.error = IatiExport.Status.FAILED, "\n".join(error.messages)
    else:
        data = zip_bytes(files, made_at=export.as_of)
        export.file.save(f"iati-export-{export.pk}.zip", ContentFile(data), save=False)
        export.sha256, export.status = hashlib.sha256(data).hexdigest(), IatiExport.Status.DONE
        export.activities = files[ACTIVITIES_FILE].count(b"<iati-activity ")
    export.finished_at = timezone.now()
    export.save()
    return export
