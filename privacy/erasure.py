"""Erasure (UK GDPR, Article 17): remove a person from the back office and keep every financial row.

The person is a contact, or an individual donor with their contacts (and any donor merged into
them). One user asks (`erasure_request`), a second approves (`erasure_approve`), and the approval
erases them in its transaction:

- the person's records keep their place and their money under a pseudonym: the donor becomes
  "Erased donor 0042", each contact "Erased contact 0107" (their ids), with every personal field
  blanked, in every version of their history too;
- records about them lose their words: activities with them, the notes on an individual donor's
  donations and the reasons of their write-offs (through the ledger's one sanctioned path for
  words, donors.models.ERASURE_TEXT_SQL: no amount can change), the addresses their reports went
  to, the IP addresses their links were opened from, their subject access ZIPs;
- records that mention them elsewhere (other activities, SMTP messages, the admin's log, a donor
  merge's record, pledge titles, report snapshots) have each mention replaced by the pseudonym;
- report runs that named them are redacted in place, their PDFs deleted, their fingerprints kept
  (reports.services.report_run_redact), so a PDF the reader holds still verifies, as redacted.

Donations, pledges, instalments, write-offs, allocations and kept totals stay as they were: every
figure and total is the same after an erasure. The request is the log: once done it names the
person only by the pseudonym, with who asked, who approved, when, and counts of what was erased.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import phonenumbers
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q, Sum, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from backoffice.money import format_money
from delivery.models import Delivery, DeliveryAttempt, DownloadLog
from donors.models import Activity, Contact, Donation, Donor, DonorMerge, Pledge, WriteOff
from reports.models import ReportRun
from reports.services import report_run_redact, snapshot_redact

from .models import ErasureRequest, SubjectAccessRequest

REQUEST, APPROVE = "privacy.add_erasurerequest", "privacy.approve_erasurerequest"
# Shorter strings would match inside unrelated words; a person's own rows are blanked whole anyway.
SHORTEST_MENTION = 4


class ErasureError(ValidationError):
    """An erasure cannot be asked for, approved or refused; the message says why."""


def donor_label(donor: Donor) -> str:
    return f"Erased donor {donor.pk:04d}"


def contact_label(contact: Contact) -> str:
    return f"Erased contact {contact.pk:04d}"


def contact_address(contact: Contact) -> str:
    """The address an erased contact keeps: unique per contact (as emails are per donor), delivers nowhere."""
    return f"erased-contact-{contact.pk:04d}@erased.invalid"


def phone_forms(phone: str) -> list[str]:
    """The ways a phone number is written in text: as stored, international with and without spaces,
    and national ("020 7946 0813")."""
    if not phone:
        return []
    forms = [phone]
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return forms
    for style in (phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.E164,
                  phonenumbers.PhoneNumberFormat.NATIONAL):  # fmt: skip
        forms.append(phonenumbers.format_number(number, style))
    return forms


def erased_words(erasure: ErasureRequest) -> str:
    return f"Erased under erasure request #{erasure.pk}."


@dataclass
class Scope:
    """Who an erasure covers and every row it touches, as querysets: the preview counts them, the
    erasure changes them (one home for what an erasure reaches)."""

    donors: list[Donor]
    contacts: list[Contact]
    replacements: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, *, contact: Contact | None = None, donor: Donor | None = None) -> "Scope":
        if donor is not None:
            donors = [donor, *Donor.objects.filter(merged_into=donor).order_by("pk")]
            contacts = list(Contact.objects.filter(donor__in=donors).order_by("pk"))
        else:
            donors, contacts = [], [contact]
        scope = cls(donors=donors, contacts=contacts)
        for person in donors:
            scope._mention(person.name, donor_label(person))
        for person in contacts:
            label = contact_label(person)
            scope._mention(person.name, label)
            scope._mention(person.email, contact_address(person))
            for written in phone_forms(person.phone):
                scope._mention(written, "[phone erased]")
            for line in [person.address.strip(), *person.address.splitlines()]:
                # The whole address, and its lines that carry a number (street, postcode); a town alone
                # names nobody and appears in unrelated text.
                if line.strip() and (line == person.address.strip() or any(c.isdigit() for c in line)):
                    scope._mention(line.strip().rstrip(","), "[address erased]")
        return scope

    def _mention(self, text: str, replacement: str) -> None:
        text = text.strip()
        if len(text) >= SHORTEST_MENTION:
            self.replacements.setdefault(text, replacement)
            # As JSON writes it without its non-ASCII letters (the admin's change messages): "Zo\u00eb".
            self.replacements.setdefault(json.dumps(text)[1:-1], replacement)

    @property
    def donor_ids(self) -> list[int]:
        return [d.pk for d in self.donors]

    @property
    def contact_ids(self) -> list[int]:
        return [c.pk for c in self.contacts]

    # What the person's strings look like, for the database and for Python.

    def mentions(self, *columns: str) -> Q:
        """Rows where any of `columns` (text, or JSON cast to text as `<name>_text`) mentions the person."""
        q = Q(pk__in=[])
        for text in self.replacements:
            for column in columns:
                q |= Q(**{f"{column}__icontains": text})
        return q

    def redactor(self) -> Callable[[str], str]:
        if not self.replacements:
            return lambda text: text
        keys = sorted(self.replacements, key=len, reverse=True)  # a longer mention wins over one inside it
        pattern = re.compile("|".join(re.escape(k) for k in keys), re.IGNORECASE)
        lower = {k.lower(): v for k, v in self.replacements.items()}
        return lambda text: pattern.sub(lambda m: lower.get(m.group(0).lower(), "[erased]"), text)

    # The rows.

    def activities_with(self):
        """Activities with the person: their words are about them, so they go whole."""
        return Activity.objects.filter(Q(contact__in=self.contact_ids) | Q(donor__in=self.donor_ids))

    def activities_mentioning(self):
        return Activity.objects.exclude(pk__in=self.activities_with()).filter(self.mentions("summary", "next_step"))

    def deliveries(self):
        return Delivery.objects.filter(contact__in=self.contact_ids)

    def attempts(self):
        return DeliveryAttempt.objects.filter(Q(delivery__contact__in=self.contact_ids) | self.mentions("error"))

    def deliveries_mentioning(self):
        return Delivery.objects.exclude(contact__in=self.contact_ids).filter(self.mentions("last_error", "email"))

    def downloads(self):
        return DownloadLog.objects.filter(delivery__contact__in=self.contact_ids)

    def subject_access(self):
        return SubjectAccessRequest.objects.filter(contact__in=self.contact_ids)

    def report_runs(self):
        runs = ReportRun.objects.annotate(snapshot_text=Cast("snapshot", TextField()))
        return runs.filter(Q(donor__in=self.donor_ids) | self.mentions("snapshot_text")).order_by("pk")

    def log_entries(self):
        own = Q(pk__in=[])
        for model, ids in ((Donor, self.donor_ids), (Contact, self.contact_ids)):
            if ids:
                ct = ContentType.objects.get_for_model(model)
                own |= Q(content_type=ct, object_id__in=[str(i) for i in ids])
        return LogEntry.objects.filter(own | self.mentions("object_repr", "change_message"))

    def donations(self):
        return Donation.objects.filter(donor__in=self.donor_ids)

    def donations_with_words(self):
        return self.donations().filter(~Q(note="") | ~Q(reversal_reason=""))

    def write_offs_with_reasons(self):
        return WriteOff.objects.filter(pledge__donor__in=self.donor_ids).exclude(reason="")

    def pledges(self):
        return Pledge.objects.filter(donor__in=self.donor_ids)

    def merges(self):
        merges = DonorMerge.objects.annotate(
            fields_text=Cast("loser_fields", TextField()), kept_text=Cast("kept", TextField())
        )
        return merges.filter(
            Q(loser__in=self.donor_ids)
            | Q(survivor__in=self.donor_ids)
            | self.mentions("fields_text", "kept_text", "reason")
        )


@dataclass(frozen=True)
class ErasurePreview:
    """What an erasure will remove and what it keeps, for the pages where it is asked for and approved."""

    label: str
    people: list[str]
    erased: dict[str, int]
    kept: list[str]


def erasure_preview(*, contact: Contact | None = None, donor: Donor | None = None) -> ErasurePreview:
    scope = Scope.of(contact=contact, donor=donor)
    donations = scope.donations().filter(status=Donation.Status.POSTED)
    given = donations.values("currency").annotate(total=Sum("amount")).order_by("currency")
    if scope.donors:
        amounts = ", ".join(format_money(g["total"], g["currency"]) for g in given)
        kept = [
            f"{donations.count()} posted donations ({amounts})" if given else "no posted donations",
            f"{scope.pledges().count()} pledges, with their instalments, write-offs and allocations",
            "every total and figure, in every report and on the dashboard",
        ]
    else:
        kept = ["the donor, its donations, pledges and every total: only this person goes"]
    label = donor_label(donor) if donor else contact_label(contact)
    people = [str(d) for d in scope.donors] + [str(c) for c in scope.contacts]
    return ErasurePreview(label=label, people=people, erased=_counts(scope), kept=kept)


def _counts(scope: Scope) -> dict[str, int]:
    return {
        "donors": len(scope.donors),
        "contacts": len(scope.contacts),
        "activities": scope.activities_with().count() + scope.activities_mentioning().count(),
        "deliveries": scope.deliveries().count() + scope.deliveries_mentioning().count(),
        "delivery attempts": scope.attempts().count(),
        "link downloads": scope.downloads().count(),
        "subject access exports": scope.subject_access().exclude(file="").count(),
        "report runs redacted": scope.report_runs().count(),
        "admin log entries": scope.log_entries().count(),
        "donation notes": scope.donations_with_words().count(),
        "write-off reasons": scope.write_offs_with_reasons().count(),
        "pledges": scope.pledges().filter(scope.mentions("title")).count(),
        "donor merges": scope.merges().count(),
    }


# Asking, refusing, approving ----------------------------------------------------------------------


@transaction.atomic
def erasure_request(*, by, reason: str, contact: Contact | None = None, donor: Donor | None = None) -> ErasureRequest:
    """Ask for a person's erasure; nothing is erased until someone else approves."""
    if not by.has_perm(REQUEST):
        raise ErasureError("Only the Finance role may ask for an erasure.")
    if donor is not None and donor.kind != Donor.Kind.INDIVIDUAL:
        raise ErasureError(
            f"{donor.name} is not an individual: an organisation is not erased. Erase its contacts one by one."
        )
    if donor is not None and donor.merged_into_id:
        raise ErasureError(f"{donor.name} was merged into {donor.merged_into}: erase that donor.")
    subject = {"donor": donor} if donor is not None else {"contact": contact}
    done = ErasureRequest.objects.filter(status=ErasureRequest.Status.DONE)
    if done.filter(**subject).exists() or (contact is not None and done.filter(donor=contact.donor_id).exists()):
        raise ErasureError("This person has already been erased.")
    if ErasureRequest.objects.filter(status=ErasureRequest.Status.REQUESTED, **subject).exists():
        raise ErasureError("An erasure of this person is already waiting for approval.")
    erasure = ErasureRequest(
        **subject,
        reason=reason.strip(),
        requested_by=by,
        label=donor_label(donor) if donor is not None else contact_label(contact),
    )
    erasure.full_clean()
    erasure.save()
    return erasure


def _decision_check(erasure: ErasureRequest, by) -> None:
    if not by.has_perm(APPROVE):
        raise ErasureError("Only the Finance and Leadership roles may approve or refuse an erasure.")
    if by.pk == erasure.requested_by_id:
        raise ErasureError("You asked for this erasure: someone else must approve or refuse it.")
    if erasure.status != ErasureRequest.Status.REQUESTED:
        raise ErasureError(f"This erasure request is already {erasure.get_status_display().lower()}.")


def _locked(erasure: ErasureRequest) -> ErasureRequest:
    return ErasureRequest.objects.select_for_update().get(pk=erasure.pk)


@transaction.atomic
def erasure_refuse(*, erasure: ErasureRequest, by, reason: str) -> ErasureRequest:
    erasure = _locked(erasure)
    _decision_check(erasure, by)
    if not reason.strip():
        raise ErasureError({"refusal_reason": "Say why the erasure is refused."})
    erasure.status, erasure.decided_by, erasure.decided_at = ErasureRequest.Status.REFUSED, by, timezone.now()
    erasure.refusal_reason = reason.strip()
    erasure.full_clean()
    erasure.save()
    return erasure


@transaction.atomic
def erasure_approve(*, erasure: ErasureRequest, by) -> ErasureRequest:
    """Approve the request and erase the person, all in this transaction: nothing is half erased."""
    erasure = _locked(erasure)
    _decision_check(erasure, by)
    scope = Scope.of(contact=erasure.contact, donor=erasure.donor)
    erasure.removed = _erase(scope, erasure)
    erasure.status, erasure.decided_by, erasure.decided_at = ErasureRequest.Status.DONE, by, timezone.now()
    redact = scope.redactor()
    erasure.reason = redact(erasure.reason)
    erasure.full_clean()
    erasure.save()
    # Earlier requests about them (refused ones) may name them too.
    earlier_requests = ErasureRequest.objects.exclude(pk=erasure.pk)
    for earlier in earlier_requests.filter(Q(contact__in=scope.contact_ids) | Q(donor__in=scope.donor_ids)):
        ErasureRequest.objects.filter(pk=earlier.pk).update(
            reason=redact(earlier.reason), refusal_reason=redact(earlier.refusal_reason)
        )
    return erasure


# The erasure ----------------------------------------------------------------------------------


def _history_update(model, ids, **values) -> int:
    """Every version of these rows in the model's history (django-simple-history), changed alike."""
    return model.history.model.objects.filter(id__in=ids).update(**values)


def _history_redact(model, scope: Scope, redact, *columns) -> None:
    """Each mention of the person in any version of `model`'s rows becomes the pseudonym."""
    for version in model.history.model.objects.filter(scope.mentions(*columns)):
        _row_redact(version, redact, *columns)


def _erase(scope: Scope, erasure: ErasureRequest) -> dict[str, int]:
    counts = _counts(scope)  # before: what is reached is what is counted
    redact = scope.redactor()
    words = erased_words(erasure)
    today = timezone.localdate()

    # Records that mention the person elsewhere: each mention becomes the pseudonym.
    for activity in scope.activities_mentioning():
        _row_redact(activity, redact, "summary", "next_step")
    _history_redact(Activity, scope, redact, "summary", "next_step")  # an older version may name them
    for delivery in scope.deliveries_mentioning():
        _row_redact(delivery, redact, "last_error", "email")
    for attempt in scope.attempts():
        _row_redact(attempt, redact, "error")
    for entry in scope.log_entries():
        entry.object_repr = redact(entry.object_repr)
        entry.change_message = redact(entry.change_message)
        LogEntry.objects.filter(pk=entry.pk).update(object_repr=entry.object_repr, change_message=entry.change_message)
    for merge in scope.merges():
        DonorMerge.objects.filter(pk=merge.pk).update(
            loser_fields=snapshot_redact(merge.loser_fields, redact),
            kept=snapshot_redact(merge.kept, redact),
            reason=redact(merge.reason),
        )
    for pledge in scope.pledges():
        _row_redact(pledge, redact, "title")
    _history_redact(Pledge, scope, redact, "title")
    for run in scope.report_runs():
        report_run_redact(run=run, redact=redact, erasure=erasure, on=today)

    # Records about them lose their words.
    with_them = list(scope.activities_with().values_list("pk", flat=True))
    Activity.objects.filter(pk__in=with_them).update(summary=words, next_step="")
    _history_update(Activity, with_them, summary=words, next_step="")
    if scope.donors:
        with connection.cursor() as cursor:  # what the ledger's trigger checks: ERASURE_TEXT_SQL
            for donor in scope.donors:
                cursor.execute("SELECT set_config('fundtrace.donor_erasure', %s, true)", [str(donor.pk)])
                donations = Donation.objects.filter(donor=donor)
                donations.exclude(note="").text_erase(note=words)
                donations.exclude(reversal_reason="").text_erase(reversal_reason=words)
                WriteOff.objects.filter(pledge__donor=donor).exclude(reason="").text_erase(reason=words)
            cursor.execute("SELECT set_config('fundtrace.donor_erasure', '', true)")
        ids = list(scope.donations().values_list("pk", flat=True))
        Donation.history.model.objects.filter(id__in=ids).exclude(note="").update(note=words)
        Donation.history.model.objects.filter(id__in=ids).exclude(reversal_reason="").update(reversal_reason=words)
        write_offs = list(WriteOff.objects.filter(pledge__donor__in=scope.donor_ids).values_list("pk", flat=True))
        WriteOff.history.model.objects.filter(id__in=write_offs).exclude(reason="").update(reason=words)
    DownloadLog.objects.filter(pk__in=scope.downloads()).update(ip=None)
    for made in scope.subject_access():
        if made.file:
            storage, name = made.file.storage, made.file.name
            transaction.on_commit(lambda storage=storage, name=name: storage.delete(name))
    scope.subject_access().update(file="", error="")

    # The person's own records keep their place, under the pseudonym.
    for contact in scope.contacts:
        blank = {
            "name": contact_label(contact),
            "email": contact_address(contact),
            "role": "",
            "phone": "",
            "address": "",
            "consent_method": "",
        }
        Contact.objects.filter(pk=contact.pk).update(**blank, receives_reports=False)
        _history_update(Contact, [contact.pk], **blank)
        Delivery.objects.filter(contact=contact).update(email=contact_address(contact), last_error="")
    for donor in scope.donors:
        label = donor_label(donor)
        # No name key: an erased donor is never offered as a likely duplicate (donors.duplicates).
        blank = {"name": label, "name_key": "", "external_ref": "", "notes": ""}
        Donor.objects.filter(pk=donor.pk).update(**blank)
        _history_update(Donor, [donor.pk], **blank)
    return counts


def _row_redact(row, redact, *columns) -> None:
    values = {c: redact(getattr(row, c)) for c in columns}
    if any(values[c] != getattr(row, c) for c in columns):
        type(row)._base_manager.filter(pk=row.pk).update(**values)
