"""Subject access (UK GDPR, Article 15): everything the back office holds about one contact, as a
ZIP of JSON files and the report PDFs sent to them. Asked for in the admin, made by a worker.

The ZIP holds:
- contact.json: the contact's record as it is now;
- contact-history.json: every earlier version of it, with when and by whom it changed;
- activities.json: the meetings, calls, emails and notes recorded with them, and those records' history;
- deliveries.json: each report emailed to them: the address, the outcome, every attempt and every
  download of its link (with the address it came from);
- reports/: the PDF of each report that was sent to them;
- README.txt: this list, for the person reading it.
"""

import hashlib
import json

from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from backoffice.archives import zip_bytes
from delivery.models import Delivery
from donors.models import Activity, Contact

from .models import SubjectAccessRequest

README = __doc__.split("The ZIP holds:\n", 1)[1]
SENT = (Delivery.Status.SENT, Delivery.Status.UNANSWERED)  # it reached them, or may have


def record(obj, *, exclude=()) -> dict:
    """A row's fields by name; a link to another row as that row's name."""
    values = {}
    for field in obj._meta.concrete_fields:
        if field.name in exclude:
            continue
        if isinstance(field, models.ForeignKey):
            related = getattr(obj, field.name)
            values[field.name] = None if related is None else str(related)
        elif isinstance(field, models.FileField):
            values[field.name] = getattr(obj, field.name).name or None
        else:
            values[field.name] = getattr(obj, field.attname)
    return values


def history(obj) -> list[dict]:
    return [
        {
            "changed_at": version.history_date,
            "change": version.get_history_type_display(),
            "changed_by": str(version.history_user) if version.history_user_id else None,
            "values": record(version.instance),
        }
        for version in obj.history.order_by("history_date", "history_id").select_related("history_user")
    ]


def dumps(value) -> bytes:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2, sort_keys=True).encode()


def subject_access_files(contact: Contact) -> dict[str, bytes]:
    """The ZIP's files by name: what is held about `contact`, read now."""
    activities = Activity.objects.filter(contact=contact).order_by("happened_on", "pk")
    deliveries = (
        Delivery.objects.filter(contact=contact).select_related("run").prefetch_related("attempt_log", "downloads")
    ).order_by("created_at", "pk")
    files = {
        "README.txt": README.encode(),
        "contact.json": dumps(record(contact)),
        "contact-history.json": dumps(history(contact)),
        "activities.json": dumps([{**record(a), "history": history(a)} for a in activities]),
        "deliveries.json": dumps(
            [
                {
                    **record(d),
                    "report": d.run.subject,
                    "attempts": [record(a, exclude=("delivery",)) for a in d.attempt_log.order_by("number")],
                    "downloads": [record(x, exclude=("delivery",)) for x in d.downloads.order_by("downloaded_at")],
                }
                for d in deliveries
            ]
        ),
    }
    for delivery in deliveries:
        if delivery.status in SENT and delivery.run.pdf:
            with delivery.run.pdf.open("rb") as pdf:
                files[f"reports/{delivery.run.filename}"] = pdf.read()
    return files


@transaction.atomic
def subject_access_request(*, contact: Contact, by) -> SubjectAccessRequest:
    """Ask for the export; a worker makes it once this commits."""
    from .tasks import subject_access_make

    request = SubjectAccessRequest.objects.create(contact=contact, requested_by=by)
    transaction.on_commit(lambda: subject_access_make.delay(request.pk))
    return request


def subject_access_make(*, request_id: int) -> SubjectAccessRequest:
    """Make a request's ZIP; safe to run twice (a finished request is left as it is)."""
    request = SubjectAccessRequest.objects.select_related("contact").get(pk=request_id)
    if request.status != SubjectAccessRequest.Status.QUEUED:
        return request
    if request.contact is None:
        request.status, request.error = SubjectAccessRequest.Status.FAILED, "The contact no longer exists."
    else:
        data = zip_bytes(subject_access_files(request.contact), made_at=request.requested_at)
        request.file.save(f"subject-access-{request.pk}.zip", ContentFile(data), save=False)
        request.sha256, request.status = hashlib.sha256(data).hexdigest(), SubjectAccessRequest.Status.DONE
    request.finished_at = timezone.now()
    request.save()
    return request
