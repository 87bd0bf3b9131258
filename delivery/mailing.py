"""A mailing from the reports page: a preview of who gets what, then a confirmation bound to it.

The preview writes nothing and sends nothing. It signs what it showed (the period, the donors
asked for, and a digest of the donors and contacts it would send to) into a confirmation token.
A confirmation whose signature fails, that has expired, that was already used (`Mailing.nonce`
is unique), or whose donors or contacts changed since the preview is refused, and nothing is
sent. Which contacts a mailing sends to is `services.summaries_plan`'s to say, as for the
command's --dry-run; sending is `services.summaries_request`, exactly once per run and contact.
"""

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass, field

from django.core import signing
from django.db import IntegrityError, transaction

from donors.models import Donor
from reports.models import ReportRun
from reports.renderers import render
from reports.services import snapshot_build

from .models import Delivery, Mailing
from .services import DeliveryError, SummaryPlan, donors_by_refs, summaries_plan, summaries_request

SALT = "delivery.mailing-confirm"
CONFIRM_MAX_AGE = dt.timedelta(hours=1)  # a preview older than this may no longer be what the user read
SEPARATORS = re.compile(r"[\s,;]+")
STATES = {
    "send": "will be sent",
    "sent": "already sent for this period: skipped",
    "in_doubt": "in sending, or sent without an answer from the mail server: skipped (check the mail log)",
    "revoked": "download link revoked: skipped",
    "objected": "objected to email: not sent",
}


def refs_parse(text: str) -> list[str]:
    """Donor references as typed: separated by commas, semicolons, spaces or new lines; each once."""
    refs = {}
    for ref in SEPARATORS.split(text or ""):
        if ref:
            refs.setdefault(ref.upper(), ref)  # references match in any case: DON-0001 and don-0001 are one
    return list(refs.values())


@dataclass
class MailingPreview:
    start: dt.date
    end: dt.date
    refs: list[str] | None  # None: every donor with posted donations in the period
    plans: list[SummaryPlan]
    idle: list[Donor] = field(default_factory=list)  # listed, but no posted donation in the period

    @property
    def sending(self) -> list[SummaryPlan]:
        return [plan for plan in self.plans if plan.recipients]

    @property
    def reports(self) -> int:
        return len(self.sending)

    @property
    def contacts(self) -> int:
        return sum(len(plan.recipients) for plan in self.plans)

    def skipped(self) -> dict[str, int]:
        """Why contacts or donors are left out, with how many of each; only the reasons that apply."""
        counts = {
            "sent": sum(len(p.already_sent) for p in self.plans),
            "in_doubt": sum(len(p.in_doubt) for p in self.plans),
            "revoked": sum(len(p.revoked) for p in self.plans),
            "objected": sum(len(p.objected - p.already_sent - p.in_doubt - p.revoked) for p in self.plans),
            "no_contacts": sum(1 for p in self.plans if not p.contacts),
            "idle": len(self.idle),
        }
        return {reason: n for reason, n in counts.items() if n}

    def skipped_text(self) -> str:
        texts = {
            "sent": "{n} contact{s} already sent this period's summary",
            "in_doubt": "{n} contact{s} in sending or without an answer from the mail server (check the mail log)",
            "revoked": "{n} contact{s} whose download link was revoked",
            "objected": "{n} contact{s} who objected to email",
            "no_contacts": "{n} donor{s} with no contact who receives reports",
            "idle": "{n} listed donor{s} with no posted donation in the period",
        }
        parts = [texts[r].format(n=n, s="" if n == 1 else "s") for r, n in self.skipped().items()]
        return "; ".join(parts)

    def rows(self) -> list[dict]:
        """The page's table: each donor, its report, and each reporting contact with what happens to it."""
        return [
            {"plan": plan, "contacts": [(contact, STATES[plan.contact_state(contact)]) for contact in plan.contacts]}
            for plan in self.plans
        ]

    def digest(self) -> str:
        """What the confirmation promises: the period, the donors and every contact it sends to, by address."""
        rows = [f"{self.start}|{self.end}"]
        rows += [f"{p.donor.pk}:" + ",".join(f"{c.pk}={c.email}" for c in p.recipients) for p in self.plans]
        return hashlib.sha256("\n".join(rows).encode()).hexdigest()

    def sample(self) -> SummaryPlan | None:
        """The donor whose summary the preview offers as a sample: the first that will be sent one."""
        return next(iter(self.sending), None)

    def token(self) -> str:
        payload = {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "refs": self.refs,
            "reports": self.reports,
            "contacts": self.contacts,
            "digest": self.digest(),
            "nonce": uuid.uuid4().hex,
        }
        return signing.dumps(payload, salt=SALT, compress=True)


def mailing_preview(*, start: dt.date, end: dt.date, refs: list[str] | None) -> MailingPreview:
    """Who would get what for the period: every donor with posted donations (`refs` None), or those
    listed (any case; every unknown reference is named in the DeliveryError). Writes nothing."""
    if refs is not None and not refs:
        raise DeliveryError("List at least one donor reference, or choose every donor.")
    plans = summaries_plan(start=start, end=end, refs=refs)
    idle = []
    if refs:
        active = {plan.donor.pk for plan in plans}
        idle = [donor for donor in donors_by_refs(refs).order_by("ref") if donor.pk not in active]
    return MailingPreview(start=start, end=end, refs=refs, plans=plans, idle=idle)


@dataclass
class MailingDone:
    preview: MailingPreview
    mailing: Mailing | None  # None: there was nothing to send
    queued: int

    def message(self) -> str:
        period = f"{self.preview.start:%-d %b %Y} to {self.preview.end:%-d %b %Y}"
        skipped = self.preview.skipped_text()
        if not self.queued:
            return f"Nothing new was sent for {period}" + (f": {skipped}." if skipped else ".")
        reports = self.preview.reports
        text = (
            f"Queued {reports} donor summar{'y' if reports == 1 else 'ies'} for {period} "
            f"to {self.queued} contact{'' if self.queued == 1 else 's'}; they are generated and sent in the background."
        )
        return text + (f" Skipped: {skipped}." if skipped else " None skipped.")


class MailingChanged(DeliveryError):
    """The donors or contacts are not those the preview showed; `preview` is the new one."""

    def __init__(self, message: str, *, preview: MailingPreview):
        super().__init__(message)
        self.preview = preview


def mailing_token_read(token: str) -> dict:
    try:
        return signing.loads(token, salt=SALT, max_age=CONFIRM_MAX_AGE)
    except signing.SignatureExpired:
        raise DeliveryError(
            f"This confirmation is older than {CONFIRM_MAX_AGE.seconds // 60} minutes: nothing was sent. "
            "Preview the mailing again."
        ) from None
    except signing.BadSignature:
        raise DeliveryError(
            "This confirmation was not made by a preview on this site, or was altered: nothing was sent."
        ) from None


@transaction.atomic
def mailing_confirm(*, token: str, by=None) -> MailingDone:
    """Send what the preview behind `token` showed, once; refuse (DeliveryError) if that has changed."""
    payload = mailing_token_read(token)
    used = Mailing.objects.select_related("confirmed_by").filter(nonce=payload["nonce"]).first()
    if used is not None:
        raise DeliveryError(
            f"This confirmation was already used ({used.confirmed_at:%-d %b %Y %H:%M}"
            f"{f' by {used.confirmed_by}' if used.confirmed_by else ''}): nothing new was sent."
        )
    start, end = dt.date.fromisoformat(payload["start"]), dt.date.fromisoformat(payload["end"])
    preview = mailing_preview(start=start, end=end, refs=payload["refs"])
    if preview.digest() != payload["digest"]:
        raise MailingChanged(
            f"The donors or contacts changed since the preview ({payload['reports']} reports to "
            f"{payload['contacts']} contacts then, {preview.reports} to {preview.contacts} now): nothing was sent. "
            "Check the new preview below.",
            preview=preview,
        )
    if not preview.contacts:
        return MailingDone(preview=preview, mailing=None, queued=0)
    try:
        with transaction.atomic():  # a concurrent confirmation of the same token waits here, then fails
            mailing = Mailing.objects.create(
                nonce=payload["nonce"], period_start=start, period_end=end, everyone=payload["refs"] is None,
                refs=" ".join(payload["refs"] or []), reports=preview.reports, contacts=0,
                skipped=sum(preview.skipped().values()), confirmed_by=by,
            )  # fmt: skip
    except IntegrityError:
        raise DeliveryError("This confirmation was already used: nothing new was sent.") from None
    run_ids = summaries_request(start=start, end=end, refs=[p.donor.ref for p in preview.sending], by=by)
    # Counted before this commits and the sends start: what this mailing queued, no more.
    queued = Delivery.objects.filter(run__in=run_ids, status=Delivery.Status.PENDING, revoked_at__isnull=True).count()
    Mailing.objects.filter(pk=mailing.pk).update(contacts=queued)
    mailing.contacts = queued
    return MailingDone(preview=preview, mailing=mailing, queued=queued)


def summary_sample(*, plan: SummaryPlan, start: dt.date, end: dt.date) -> tuple[bytes, str]:
    """A donor summary PDF for the preview, sent to nobody: the run's own PDF when it is done (that
    is what the contacts will get), else one rendered now from a snapshot of the ledger that is
    not stored, by the same functions that make a run."""
    run = plan.run
    if run is not None and run.status == ReportRun.Status.DONE and run.pdf:
        with run.pdf.open("rb") as pdf:
            return pdf.read(), run.filename
    draft = ReportRun(kind=ReportRun.Kind.DONOR_SUMMARY, donor=plan.donor, period_start=start, period_end=end)
    return render(snapshot_build(draft)), f"sample-donor-summary-{plan.donor.ref}-{start}-{end}.pdf"
