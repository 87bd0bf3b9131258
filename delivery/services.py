"""Delivering donor summaries: plan and request them for a period, send one delivery, revoke links.

Sending is at most once per (run, contact): the unique constraint makes one Delivery per pair,
and only the worker whose conditional UPDATE moves it from pending to sending may send it.
"""

import datetime as dt
import logging
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import make_msgid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Upper
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.text import get_text_list
from django.utils.translation import gettext as _

from backoffice.formats import format_day
from backoffice.models import Organisation
from donors.models import Contact, Donation, Donor
from reports.models import ReportRun, period_name
from reports.renderers.base import LANGUAGE_TAGS, fmt_money
from reports.services import report_run_supersede, report_runs_fail_stuck
from reports.stale import runs_stale
from reports.tasks import STUCK_AFTER

from .links import delivery_link
from .models import Delivery, DeliveryAttempt
from .smtp_errors import RetryableSendError, is_in_doubt, is_retryable, smtp_code

logger = logging.getLogger(__name__)


class DeliveryError(ValidationError):
    """Summaries cannot be sent as asked; the message says why."""


# Planning and requesting -------------------------------------------------------------------------


@dataclass
class SummaryPlan:
    """What a mailing would do for one donor: its run (None: a new one) and its reporting contacts.

    A contact is in at most one of the sets; the ones in none of them would be sent the summary."""

    donor: Donor
    run: ReportRun | None
    contacts: list[Contact] = field(default_factory=list)
    already_sent: set[int] = field(default_factory=set)
    in_doubt: set[int] = field(default_factory=set)  # sending, or sent without an answer: a human decides
    revoked: set[int] = field(default_factory=set)  # the delivery's link was revoked: not sent
    objected: set[int] = field(default_factory=set)  # the contact objected to email: not sent

    def contact_state(self, contact: Contact) -> str:
        states = (
            ("sent", self.already_sent), ("in_doubt", self.in_doubt), ("revoked", self.revoked),
            ("objected", self.objected),
        )  # fmt: skip
        for state, ids in states:
            if contact.pk in ids:
                return state
        return "send"

    @property
    def recipients(self) -> list[Contact]:
        return [c for c in self.contacts if self.contact_state(c) == "send"]


def donors_by_refs(refs: list[str]):
    """The donors with these references, in any case; every unknown reference is named."""
    wanted = {ref.upper() for ref in refs}
    donors = Donor.objects.annotate(ref_upper=Upper("ref")).filter(ref_upper__in=wanted)
    found = set(donors.values_list("ref_upper", flat=True))
    unknown = list(dict.fromkeys(ref for ref in refs if ref.upper() not in found))
    if unknown:
        raise DeliveryError(f"Unknown donor reference{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.")
    return donors


def donors_active(*, start: dt.date, end: dt.date, refs: list[str] | None = None):
    """Donors with at least one posted donation received in the period (of `refs`, in any case, when given)."""
    if end < start:
        raise DeliveryError(f"The period ends ({end}) before it starts ({start}).")
    active = Donation.objects.filter(status=Donation.Status.POSTED, received_on__range=(start, end))
    donors = Donor.objects.filter(pk__in=active.values("donor_id")).order_by("ref")
    if refs:
        donors = donors.filter(pk__in=donors_by_refs(refs).values("pk"))
    return donors


OBJECTED = "Not sent: the contact objected to email (their record gives the day); nothing goes to them while it stands."
STALE = (
    "Not sent: the report names a donor who has since been renamed or withdrawn acknowledgement. "
    "The next mailing for the period makes a new report and sends that."
)
DONE_OR_IN_DOUBT = (Delivery.Status.SENT, Delivery.Status.SENDING, Delivery.Status.UNANSWERED)


def _runs_current(donors, start: dt.date, end: dt.date):
    """The mailing's runs of `donors` for the period that no later run replaced."""
    return ReportRun.objects.filter(
        kind=ReportRun.Kind.DONOR_SUMMARY, donor__in=donors, period_start=start, period_end=end, currency="",
        external=True, superseded_by__isnull=True,
    ).defer("snapshot")  # fmt: skip


def _contacts_served_before(donors, start: dt.date, end: dt.date) -> set[int]:
    """Contacts who were sent (or may have been sent) a replaced run of the period: its link now
    serves the new run, and a mailing sends nothing already sent."""
    earlier = Delivery.objects.filter(
        run__kind=ReportRun.Kind.DONOR_SUMMARY, run__donor__in=donors, run__period_start=start, run__period_end=end,
        run__currency="", run__external=True, run__superseded_by__isnull=False, status__in=DONE_OR_IN_DOUBT,
    )  # fmt: skip
    return set(earlier.values_list("contact_id", flat=True))


def summaries_plan(*, start: dt.date, end: dt.date, refs: list[str] | None = None) -> list[SummaryPlan]:
    """Who would receive what, as `summaries_request` would decide it; writes nothing (the --dry-run
    and the reports page's preview). A stale run shows as a new run. The queries do not grow with
    the number of donors."""
    donors = list(donors_active(start=start, end=end, refs=refs))
    runs = {}
    for run in _runs_current(donors, start, end).order_by("-pk"):  # the oldest run per donor, as a mailing takes
        runs[run.donor_id] = run
    stale = runs_stale([run for run in runs.values() if run.status == ReportRun.Status.DONE])
    contacts = {}
    for contact in Contact.objects.filter(donor__in=donors, receives_reports=True).order_by("email"):
        contacts.setdefault(contact.donor_id, []).append(contact)
    served = _contacts_served_before(donors, start, end)
    deliveries = Delivery.objects.filter(run__in=list(runs.values())).values_list(
        "run__donor_id", "contact_id", "status", "revoked_at"
    )
    states = {}
    for donor_id, contact_id, status, revoked_at in deliveries:
        states.setdefault(donor_id, []).append((contact_id, status, revoked_at))
    plans = []
    for donor in donors:
        run = runs.get(donor.pk)
        receiving = contacts.get(donor.pk, [])
        ids = {c.pk for c in receiving}
        plan = SummaryPlan(
            donor=donor, run=run, contacts=receiving, already_sent=ids & served,
            objected={c.pk for c in receiving if c.objected_to_email_on is not None},
        )  # fmt: skip
        for contact_id, status, revoked_at in states.get(donor.pk, []):
            if contact_id not in ids:
                continue  # no longer receives reports: not part of this mailing
            if status == Delivery.Status.SENT:
                plan.already_sent.add(contact_id)
            elif status in DONE_OR_IN_DOUBT:
                plan.in_doubt.add(contact_id)
            elif revoked_at is not None and run.pk not in stale:  # a stale run's contacts get a new delivery
                plan.revoked.add(contact_id)
        if run is not None and run.pk in stale:
            plan.run = None
        plans.append(plan)
    return plans


@transaction.atomic
def summaries_request(*, start: dt.date, end: dt.date, refs: list[str] | None = None, by=None) -> list[int]:
    """Make (or reuse) one donor summary run per active donor and a delivery per reporting contact.

    Idempotent per donor and period: a second call reuses the run and the deliveries, sends
    nothing already sent, gives failed deliveries a fresh round of attempts and leaves
    deliveries stuck in sending to a human. A run that has become stale (reports/stale.py) is
    not reused: a new run replaces it, for the contacts it had not reached. Generation and
    sending start once this commits. The queries do not grow with the number of donors.
    """
    donors = list(donors_active(start=start, end=end, refs=refs))
    # One request per donor at a time: all of them locked in one statement, always in the same order.
    list(Donor.objects.select_for_update().filter(pk__in=[d.pk for d in donors]).order_by("pk").values_list("pk"))
    runs = {}
    for run in _runs_current(donors, start, end).order_by("-pk"):  # the oldest run per donor wins
        runs[run.donor_id] = run
    stale = runs_stale([run for run in runs.values() if run.status == ReportRun.Status.DONE])
    new, replaced = [], {}
    for donor in donors:
        if donor.pk in runs and runs[donor.pk].pk in stale:
            replaced[donor.pk] = runs.pop(donor.pk)
        if donor.pk not in runs:
            run = ReportRun(
                kind=ReportRun.Kind.DONOR_SUMMARY, donor=donor, period_start=start, period_end=end, requested_by=by
            )
            if not new:  # the new runs differ only in their donor, a row just read: one validation covers all
                run.full_clean(exclude=["donor", "requested_by"])
            new.append(run)
            runs[donor.pk] = run
    ReportRun.objects.bulk_create(new)
    for donor_pk, old in replaced.items():  # rare: a name or an acknowledgement changed
        report_run_supersede(old=old, new=runs[donor_pk])
    if replaced:
        Delivery.objects.filter(
            run__in=list(replaced.values()), status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED]
        ).update(status=Delivery.Status.FAILED, last_error=STALE)
    served = _contacts_served_before(donors, start, end)
    contacts = Contact.objects.filter(donor__in=donors, receives_reports=True).order_by("pk")
    Delivery.objects.bulk_create(
        [
            Delivery(run=runs[c.donor_id], contact=c, email=c.email, message_id=message_id_new())
            for c in contacts
            if c.pk not in served
        ],
        ignore_conflicts=True,  # an existing delivery for (run, contact) stays as it is
    )
    run_ids = [runs[donor.pk].pk for donor in donors]
    # A run whose worker died mid-generation is failed here too (not only by the beat task), so this mailing makes it.
    report_runs_fail_stuck(older_than=STUCK_AFTER, runs=ReportRun.objects.filter(pk__in=run_ids))
    Delivery.objects.filter(run__in=run_ids, status=Delivery.Status.FAILED, revoked_at__isnull=True).update(
        status=Delivery.Status.PENDING, attempts=0
    )
    deliveries = Delivery.objects.filter(run__in=run_ids)
    deliveries.filter(
        status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED], contact__objected_to_email_on__isnull=False
    ).update(status=Delivery.Status.SKIPPED, last_error=OBJECTED)
    deliveries.filter(status=Delivery.Status.SKIPPED, contact__objected_to_email_on__isnull=True).update(
        status=Delivery.Status.PENDING, attempts=0, last_error=""
    )  # the objection was withdrawn
    from .tasks import summary_prepare

    for run_id in run_ids:
        transaction.on_commit(lambda run_id=run_id: summary_prepare.delay(run_id))
    return run_ids


def summaries_progress(*, run_ids=None, start: dt.date | None = None, end: dt.date | None = None) -> dict:
    """Counts of runs and deliveries per status, for the page and the command's progress line."""
    runs = ReportRun.objects.filter(kind=ReportRun.Kind.DONOR_SUMMARY, superseded_by__isnull=True)
    if run_ids is not None:
        runs = runs.filter(pk__in=run_ids)
    if start and end:
        runs = runs.filter(period_start=start, period_end=end)
    run_counts = dict(runs.order_by().values_list("status").annotate(n=Count("pk")))
    deliveries = Delivery.objects.filter(run__in=runs)
    delivery_counts = dict(deliveries.order_by().values_list("status").annotate(n=Count("pk")))
    return {
        "runs": {s: run_counts.get(s, 0) for s in ReportRun.Status.values},
        "deliveries": {s: delivery_counts.get(s, 0) for s in Delivery.Status.values},
        "stuck": deliveries.filter(Delivery.stuck()).count(),
    }


# Sending one delivery ----------------------------------------------------------------------------


def message_id_new() -> str:
    return make_msgid(domain=settings.DELIVERY_MESSAGE_ID_DOMAIN)


def header_text(text: str) -> str:
    """`text` as one line for an email header: control characters and line breaks become spaces,
    runs of spaces one. Headers are built from names (a donor's), and Django refuses CR or LF in a
    header (BadHeaderError): one such name would fail every delivery for its donor."""
    spaced = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    return " ".join(spaced.split())


def summary_headline(run: ReportRun) -> str:
    """What the summary covers, in a sentence with its headline figure, from the run's snapshot:
    "In 2025 you gave GBP 1,250,000.00. Your funding supported Child Safety and Research." Only the
    two keys it needs are read when the caller deferred the snapshot."""
    if "snapshot" in run.get_deferred_fields():
        keys = ReportRun.objects.filter(pk=run.pk).values("snapshot__figures", "snapshot__by_programme").get()
        figures, programmes = keys["snapshot__figures"], keys["snapshot__by_programme"]
    else:
        figures, programmes = run.snapshot["figures"], run.snapshot["by_programme"]
    period = period_name(run.period_start, run.period_end)
    given = next(f["value"] for f in figures if f["key"] == "received_in_period")
    if Decimal(given["amount"]) > 0:
        if period.isdigit():
            gave = _("In %(period)s you gave %(amount)s.")
        else:
            gave = _("From %(period)s you gave %(amount)s.")
        sentence = gave % {"period": period, "amount": fmt_money(given)}
    else:  # returns outweigh gifts in the period
        sentence = _("This summary covers %(period)s.") % {"period": period}
    names = [p["label"] for p in programmes]
    if names:
        sentence += " " + _("Your funding supported %(programmes)s.") % {"programmes": get_text_list(names, _("and"))}
    return sentence


def delivery_message(delivery: Delivery) -> EmailMultiAlternatives:
    """The donor's email, in the donor's language (Donor.language), with the run's PDF attached."""
    with translation.override(delivery.run.donor.language):
        return _delivery_message(delivery)


def _delivery_message(delivery: Delivery) -> EmailMultiAlternatives:
    run = delivery.run
    who = Organisation.current()
    context = {
        "contact": delivery.contact,
        "donor": run.donor,
        "run": run,
        "organisation": who,
        "period": period_name(run.period_start, run.period_end),
        "headline": summary_headline(run),
        "link": delivery_link(delivery.pk),
        "report_link": delivery_link(delivery.pk, page="delivery:report"),
        "link_days": settings.DELIVERY_LINK_MAX_AGE_DAYS,
        "language": LANGUAGE_TAGS[run.donor.language],
    }
    subject = _("%(donor)s: your impact summary, %(start)s to %(end)s") % {
        "donor": run.donor.name,
        "start": format_day(run.period_start),
        "end": format_day(run.period_end),
    }
    message = EmailMultiAlternatives(
        subject=header_text(subject),
        body=render_to_string("delivery/email/summary.txt", context),
        from_email=who.sender(),  # donor email speaks for the organisation
        to=[delivery.email],
        headers={"Message-ID": delivery.message_id},
    )
    message.attach_alternative(render_to_string("delivery/email/summary.html", context), "text/html")
    with run.pdf.open("rb") as pdf:
        message.attach(run.reader_filename, pdf.read(), "application/pdf")
    return message


def delivery_claim(delivery_id: int, *, done_run_id: int | None = None) -> bool:
    """pending → sending, for exactly one caller.

    The UPDATE filters on the delivery's own columns only: with a join Django writes
    `WHERE id IN (subquery)`, and on PostgreSQL a second, blocked updater would not re-check
    the status in that subquery after the first commits, so both would "win". `done_run_id`: the
    caller has just read that run as done (a done run stays done), so only a delivery of that run
    is claimed and the run is not read again.
    """
    claimable = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING, revoked_at__isnull=True)
    if done_run_id is not None:
        claimable = claimable.filter(run_id=done_run_id)
    elif not ReportRun.objects.filter(deliveries=delivery_id, status=ReportRun.Status.DONE).exists():
        return False
    return (
        claimable.update(status=Delivery.Status.SENDING, sending_since=timezone.now(), attempts=F("attempts") + 1) == 1
    )


def delivery_send(*, delivery_id: int, run: ReportRun | None = None, may_retry: bool = False) -> str:
    """Send one delivery if this caller wins the claim; log the attempt and its outcome.

    Returns sent, failed, unanswered, objected (the contact objected to email: not sent), skipped
    (someone else holds it, or it is finished) or waiting (its run has no PDF yet). A failure that
    a later attempt can fix (smtp_errors.is_retryable) puts the delivery back in pending and raises
    RetryableSendError when `may_retry`, for the calling task to retry it; without `may_retry` it
    fails the delivery.
    `run`: the delivery's run, done, with its donor, when the caller has it in hand (it has just
    generated it), so that it is not read again.
    """
    run_done = run is not None and run.status == ReportRun.Status.DONE
    if not delivery_claim(delivery_id, done_run_id=run.pk if run_done else None):
        waiting = Delivery.objects.filter(
            pk=delivery_id, status=Delivery.Status.PENDING, revoked_at__isnull=True
        ).exclude(run__status=ReportRun.Status.DONE)
        return "waiting" if waiting.exists() else "skipped"
    logged = DeliveryAttempt.objects.filter(delivery=OuterRef("pk")).order_by().values("delivery")
    deliveries = Delivery.objects.annotate(logged=Subquery(logged.annotate(n=Count("pk")).values("n")))
    if run_done:
        delivery = deliveries.select_related("contact").get(pk=delivery_id)
        delivery.run = run
    else:  # the message needs the run's donor, period and PDF, not its snapshot
        delivery = deliveries.select_related("run__donor", "contact").defer("run__snapshot").get(pk=delivery_id)
    number = (delivery.logged or 0) + 1

    def attempt(outcome, **fields):
        return DeliveryAttempt(
            delivery=delivery, number=number, started_at=delivery.sending_since, outcome=outcome, **fields
        )

    if (objected_on := delivery.contact.objected_to_email_on) is not None:  # since the mailing was requested
        error = f"Not sent: the contact objected to email on {objected_on:%-d %B %Y}."
        _finish(delivery, Delivery.Status.SKIPPED, error, attempt=attempt(DeliveryAttempt.Outcome.SKIPPED, error=error))
        return "objected"
    if not delivery.contact.receives_reports:
        _finish(
            delivery, Delivery.Status.FAILED, "The contact no longer receives reports; nothing was sent.",
            attempt=attempt(DeliveryAttempt.Outcome.FAILED, error="Contact no longer receives reports."),
        )  # fmt: skip
        return "failed"
    if not run_done and (delivery.run.superseded_by_id or runs_stale([delivery.run])):
        _finish(
            delivery, Delivery.Status.FAILED, STALE,
            attempt=attempt(DeliveryAttempt.Outcome.FAILED, error="The report had become stale; nothing was sent."),
        )  # fmt: skip
        return "failed"
    if not delivery.message_id:
        # Fixed before the first attempt, so the mail server's log can be searched for it if a send is in doubt.
        delivery.message_id = message_id_new()
        Delivery.objects.filter(pk=delivery.pk).update(message_id=delivery.message_id)
    try:
        message_send(delivery_message(delivery))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if is_in_doubt(exc):
            # Sending again could deliver a second copy: at most once, so a human decides (docs/delivery.md).
            logger.warning("Delivery %s: no answer after the message was sent; for a human: %s", delivery.pk, error)
            error = f"{error} Check the mail server's log for {delivery.message_id} before resending."
            logged = attempt(DeliveryAttempt.Outcome.UNANSWERED, error=error)
            _finish(delivery, Delivery.Status.UNANSWERED, error, attempt=logged)
            return "unanswered"
        retryable = is_retryable(exc)
        if retryable and may_retry:
            logged = attempt(DeliveryAttempt.Outcome.RETRY, error=error, smtp_code=smtp_code(exc))
            _finish(delivery, Delivery.Status.PENDING, error, attempt=logged)
            raise RetryableSendError(error) from exc
        if not retryable:
            logger.warning("Delivery %s failed permanently: %s", delivery.pk, error)
        logged = attempt(DeliveryAttempt.Outcome.FAILED, error=error, smtp_code=smtp_code(exc))
        _finish(delivery, Delivery.Status.FAILED, error, attempt=logged)
        return "failed"
    _finish(
        delivery, Delivery.Status.SENT, "", sent_at=timezone.now(),
        attempt=attempt(DeliveryAttempt.Outcome.SENT),
    )  # fmt: skip
    return "sent"


SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
DELIVERY_SMTP_BACKEND = "delivery.smtp_backend.EmailBackend"


def message_send(message) -> None:
    """Send over a connection of its own, opened and closed here: after an error nothing is left
    whose state is unknown. Where email goes by SMTP, through delivery.smtp_backend, which tells a
    message the server never answered from a connection lost before it was sent."""
    backend = DELIVERY_SMTP_BACKEND if settings.EMAIL_BACKEND == SMTP_BACKEND else None
    get_connection(backend, fail_silently=False).send_messages([message])


@transaction.atomic  # the outcome and its attempt row in one commit
def _finish(delivery: Delivery, status: str, error: str, *, attempt: DeliveryAttempt, **fields) -> None:
    # Only from sending: a human who reset or revoked it meanwhile is not overwritten.
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
        status=status, last_error=error, **fields
    )
    attempt.save(force_insert=True)


def deliveries_stale_hold(run_id: int) -> int:
    """The pending deliveries of a stale run are not sent; the next mailing sends a new run instead."""
    return Delivery.objects.filter(run_id=run_id, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.FAILED, last_error=STALE
    )


def deliveries_pending(run_id: int) -> list[int]:
    return list(
        Delivery.objects.filter(run_id=run_id, status=Delivery.Status.PENDING, revoked_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# Human decisions ---------------------------------------------------------------------------------


def deliveries_revoke(*, deliveries, by) -> int:
    return deliveries.filter(revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_by=by)


def deliveries_resend(*, deliveries) -> list[int]:
    """Failed or stuck deliveries back to pending, after a human checked the mail log (see docs/delivery.md)."""
    resendable = Q(status=Delivery.Status.FAILED) | Delivery.stuck()
    ids = list(deliveries.filter(resendable, revoked_at__isnull=True).values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=ids).update(status=Delivery.Status.PENDING, attempts=0)
    from .tasks import delivery_send as task

    for pk in ids:
        transaction.on_commit(lambda pk=pk: task.delay(pk))
    return ids
