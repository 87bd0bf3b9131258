"""Report runs: request one, generate it (figures → snapshot → PDF), verify a PDF against its run."""

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from grants.models import ReportingObligation
from grants.services import obligation_submit

from . import figures
from .financial import FinancialReportRefused, financial_report_check, financial_report_snapshot, sign_off_clean
from .models import ReportRun
from .renderers import RENDERER_VERSION, render
from .snapshot import snapshot_sha256
from .stale import names_shown

logger = logging.getLogger(__name__)


class ReportError(ValidationError):
    """A report cannot be requested, generated or verified; the message says why."""


@transaction.atomic
def report_run_request(
    *,
    kind: str,
    by=None,
    donor=None,
    output=None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    currency: str = "",
    external: bool = True,
    agreement=None,
    sign_off: dict | None = None,
) -> ReportRun:
    """Record a queued run and enqueue its generation once the transaction commits. A financial report
    is refused here, with a message per line, while a flagged line of its period has no explanation."""
    run = ReportRun(
        kind=kind,
        donor=donor,
        output=output,
        agreement=agreement,
        sign_off=sign_off_clean(sign_off) if kind == ReportRun.Kind.FINANCIAL_REPORT else {},
        period_start=start,
        period_end=end,
        currency=currency,
        external=external,
        requested_by=by,
    )
    if kind in (ReportRun.Kind.DONOR_SUMMARY, ReportRun.Kind.PORTFOLIO):
        if not (start and end):
            raise ReportError("A donor summary or portfolio needs a period: --from and --to.")
        if end < start:
            raise ReportError(f"The period ends ({end}) before it starts ({start}).")
    if kind == ReportRun.Kind.FINANCIAL_REPORT:
        if agreement is None or not (start and end):
            raise ReportError("A financial report needs an agreement and a period.")
        try:
            financial_report_check(agreement, start=start, end=end)
        except FinancialReportRefused as refused:
            raise ReportError(refused.messages) from None
    run.full_clean()
    run.save()
    from .tasks import report_run_generate

    transaction.on_commit(lambda: report_run_generate.delay(run.pk))
    return run


def snapshot_build(run: ReportRun) -> dict:
    if run.kind == ReportRun.Kind.DONOR_SUMMARY:
        return figures.donor_summary_snapshot(
            donor=run.donor, start=run.period_start, end=run.period_end, currency=run.currency
        )
    if run.kind == ReportRun.Kind.PORTFOLIO:
        return figures.portfolio_snapshot(start=run.period_start, end=run.period_end)
    if run.kind == ReportRun.Kind.FINANCIAL_REPORT:
        return financial_report_snapshot(
            agreement=run.agreement, start=run.period_start, end=run.period_end, sign_off=run.sign_off
        )
    as_of = run.period_end or timezone.localdate(run.queued_at)
    return figures.output_statement_snapshot(output=run.output, as_of=as_of, external=run.external)


def report_run_generate(*, run_id: int) -> ReportRun:
    """Build the snapshot and the PDF for a queued run. Running it again on a done run does nothing.

    The claim is a conditional update, so two workers given the same run cannot both build it.
    """
    claimed = ReportRun.objects.filter(pk=run_id, status__in=[ReportRun.Status.QUEUED, ReportRun.Status.FAILED]).update(
        status=ReportRun.Status.RUNNING, started_at=timezone.now(), error=""
    )
    run = ReportRun.objects.select_related("donor", "output", "agreement").get(pk=run_id)
    if not claimed:
        return run
    try:
        with transaction.atomic():
            snapshot = snapshot_build(run)
        sha = snapshot_sha256(snapshot)
        pdf = render(snapshot)
        run.snapshot, run.snapshot_sha256, run.names_shown = snapshot, sha, names_shown(snapshot)
        run.pdf_sha256, run.renderer_version = hashlib.sha256(pdf).hexdigest(), RENDERER_VERSION
        run.pdf.save(f"{sha[:12]}.pdf", ContentFile(pdf), save=False)
        run.status, run.finished_at = ReportRun.Status.DONE, timezone.now()
        run.save()
    except Exception as exc:
        logger.exception("Report run %s failed", run_id)
        ReportRun.objects.filter(pk=run_id).update(
            status=ReportRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now()
        )
        run.refresh_from_db()
    return run


def report_run_supersede(*, old: ReportRun, new: ReportRun) -> None:
    """`new` replaces the stale `old`, and every run `old` had replaced: links to any of them serve `new`.
    A run submitted to its funder is never replaced: it is the record of what the funder received."""
    if ReportRun.objects.filter(Q(pk=old.pk) | Q(superseded_by=old.pk), submitted_at__isnull=False).exists():
        raise ReportError(f"Report run {old.pk} was submitted to its funder and is frozen: it cannot be replaced.")
    ReportRun.objects.filter(Q(pk=old.pk) | Q(superseded_by=old.pk)).update(superseded_by=new)


# Redaction under an erasure ----------------------------------------------------------------------


def snapshot_redact(value, redact):
    """`value` (a snapshot, or any JSON) with `redact` applied to every string in it, keys included."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [snapshot_redact(item, redact) for item in value]
    if isinstance(value, dict):
        return {redact(key): snapshot_redact(item, redact) for key, item in value.items()}
    return value


def report_run_redact(*, run: ReportRun, redact, erasure, on: dt.date) -> bool:
    """Redact a run that named an erased person, in place: every string of its snapshot (and the names
    it shows) through `redact`, and its PDF deleted, for the file named them and a PDF drawn again
    from the redacted snapshot would be a report nobody was sent. The SHA-256s stay those of the
    original, so the PDF a reader holds still verifies, as redacted (report_verify). Returns whether
    anything changed. Called inside the erasure's transaction (privacy.erasure); the file goes when
    it commits, so a failed erasure keeps it."""
    snapshot = snapshot_redact(run.snapshot, redact)
    shown = snapshot_redact(run.names_shown, redact)
    if snapshot == run.snapshot and shown == run.names_shown and not (run.redacted_on is None and run.pdf):
        return False
    run.snapshot, run.names_shown = snapshot, shown
    run.redacted_on, run.redacted_by_erasure = on, erasure
    if run.pdf:
        storage, name = run.pdf.storage, run.pdf.name
        transaction.on_commit(lambda: storage.delete(name))
        run.pdf = ""
    run.save(update_fields=["snapshot", "names_shown", "redacted_on", "redacted_by_erasure", "pdf"])
    return True


# Submission to the funder ----------------------------------------------------------------------


def obligations_open_for(run: ReportRun):
    """The financial reporting obligations of the run's pledge that are still owed: what it can answer."""
    if run.kind != ReportRun.Kind.FINANCIAL_REPORT or run.agreement_id is None:
        return ReportingObligation.objects.none()
    return ReportingObligation.objects.filter(
        pledge_id=run.agreement.pledge_id,
        kind=ReportingObligation.Kind.FINANCIAL,
        status=ReportingObligation.Status.PENDING,
    ).order_by("due_date")


@transaction.atomic
def report_run_submit(*, run: ReportRun, obligation: ReportingObligation, by, on: dt.date | None = None) -> ReportRun:
    """Send a financial report to its funder: the obligation is marked submitted (grants' service, dated `on`,
    default today) and the run is linked to it and frozen, never to be replaced, made again or deleted."""
    run = ReportRun.objects.select_for_update(of=("self",)).select_related("agreement__pledge").get(pk=run.pk)
    if run.kind != ReportRun.Kind.FINANCIAL_REPORT:
        raise ReportError("Only a financial report is submitted against a reporting obligation.")
    if run.is_frozen:
        raise ReportError(f"Report run {run.pk} was already submitted on {run.submitted_at:%Y-%m-%d}.")
    if run.status != ReportRun.Status.DONE:
        raise ReportError(f"Report run {run.pk} is not made yet ({run.get_status_display()}): submit it when done.")
    if run.superseded_by_id:
        raise ReportError(f"Report run {run.pk} was replaced by run {run.superseded_by_id}: submit that one.")
    if obligation.kind != ReportingObligation.Kind.FINANCIAL or obligation.pledge_id != run.agreement.pledge_id:
        raise ReportError(
            f"The obligation {obligation} is not a financial report owed under {run.agreement.pledge.ref}."
        )
    obligation_submit(obligation=obligation, on=on or timezone.localdate())
    run.obligation, run.submitted_by, run.submitted_at = obligation, by, timezone.now()
    run.full_clean()
    run.save(update_fields=["obligation", "submitted_by", "submitted_at"])
    return run


# Runs whose worker died --------------------------------------------------------------------------


def runs_stuck(*, older_than: dt.timedelta) -> Q:
    """Running for longer than a generation task may run (reports.tasks.STUCK_AFTER): its worker
    was killed or died, and nobody will finish it."""
    return Q(status=ReportRun.Status.RUNNING, started_at__lt=timezone.now() - older_than)


def runs_with_stuck(runs, *, older_than: dt.timedelta):
    """`runs` with `stuck` (True or False) on each, for the pages that list them."""
    return runs.annotate(stuck=ExpressionWrapper(runs_stuck(older_than=older_than), output_field=BooleanField()))


def report_runs_fail_stuck(*, older_than: dt.timedelta, runs=None) -> int:
    """Fail the stuck runs (of `runs`, or all), saying why; a failed run can be made again."""
    runs = ReportRun.objects.all() if runs is None else runs
    return runs.filter(runs_stuck(older_than=older_than)).update(
        status=ReportRun.Status.FAILED,
        error=f"No worker finished this run within {older_than} (it stopped or was killed). "
        "Send the summaries again, or use “Make again” on the report runs admin.",
        finished_at=timezone.now(),
    )


def report_runs_remake(*, runs, older_than: dt.timedelta) -> list[int]:
    """Failed runs of `runs` (stuck ones failed first) back to queued; the caller enqueues them.
    A done run is never made again: its PDF is the record of what was sent."""
    report_runs_fail_stuck(older_than=older_than, runs=runs)
    ids = list(runs.filter(status=ReportRun.Status.FAILED).values_list("pk", flat=True))
    ReportRun.objects.filter(pk__in=ids, status=ReportRun.Status.FAILED).update(
        status=ReportRun.Status.QUEUED, started_at=None, finished_at=None
    )
    return ids


# Verification ----------------------------------------------------------------------------------

SHA_IN_METADATA = re.compile(r"sha256:([0-9a-f]{64})")
# The footer's "— fingerprint …" (renderer 7 on), "Fingerprint …" before it.
FINGERPRINT_IN_TEXT = re.compile(r"fingerprint ([0-9a-f]{12})", re.IGNORECASE)


@dataclass(frozen=True)
class Verification:
    ok: bool
    reason: str
    run: ReportRun | None = None


def report_verify(pdf: bytes) -> Verification:
    """Does this PDF match a stored run?

    It must be byte for byte the PDF stored with a run (its SHA-256 was recorded when it was
    made) whose snapshot still matches its own SHA-256. A run drawn by the current renderer is
    also re-rendered from its snapshot and must give the same bytes; a run drawn by an older
    renderer cannot be, so its recorded PDF SHA-256 is the proof.
    """
    sha = _embedded_sha(pdf)
    if sha is None:
        return Verification(False, "The file carries no Fundtrace snapshot fingerprint; it is not a Fundtrace report.")
    runs = ReportRun.objects.filter(status=ReportRun.Status.DONE)
    runs = runs.filter(snapshot_sha256=sha) if len(sha) == 64 else runs.filter(snapshot_sha256__startswith=sha)
    runs = runs.order_by("-finished_at", "-pk")
    digest = hashlib.sha256(pdf).hexdigest()
    run = runs.filter(pdf_sha256=digest).first()
    if run is None:
        run = runs.first()
        if run is None:
            return Verification(False, f"No report run has the snapshot fingerprint {sha[:12]}: unknown report.")
        return Verification(False, f"The file differs from the PDF of run {run.pk} ({_difference(pdf, run)}).", run)
    if run.redacted_on is not None:
        # Its snapshot no longer hashes to the recorded SHA-256 and cannot be drawn again: the file
        # matching the PDF recorded when it was made is the proof. The answer names nobody.
        made = timezone.localdate(run.finished_at)
        return Verification(
            True,
            f"Genuine: this report was made by Fundtrace on {made:%-d %B %Y} (run {run.pk}, "
            f"{run.get_kind_display()}). It has since been redacted under an erasure request on "
            f"{run.redacted_on:%-d %B %Y}.",
            run,
        )
    if snapshot_sha256(run.snapshot) != run.snapshot_sha256:
        return Verification(False, f"The stored snapshot of run {run.pk} no longer matches its SHA-256.", run)
    if run.renderer_version == RENDERER_VERSION and render(run.snapshot) != pdf:
        return Verification(False, f"The stored snapshot of run {run.pk} no longer renders to this file.", run)
    return Verification(True, f"Matches run {run.pk} ({run.get_kind_display()}, {run.subject}).", run)


def _difference(pdf: bytes, run: ReportRun) -> str:
    """Where the file departs from the run's stored PDF, for the message."""
    try:
        with run.pdf.open("rb") as f:
            expected = f.read()
    except (OSError, ValueError):
        return "its PDF was deleted when it was redacted" if run.redacted_on else "the stored PDF is missing"
    at = next((i for i, (a, b) in enumerate(zip(pdf, expected, strict=False)) if a != b), None)
    where = f"first difference at byte {at}" if at is not None else "lengths differ"
    return f"{len(pdf)} vs {len(expected)} bytes, {where}"


def _embedded_sha(pdf: bytes) -> str | None:
    """The full SHA from the PDF's metadata, else the 12-character fingerprint from the footer text."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(pdf))
        info = reader.metadata or {}
        for value in (info.get("/Subject"), info.get("/Keywords")):
            match = SHA_IN_METADATA.search(str(value or ""))
            if match:
                return match.group(1)
        text = reader.pages[0].extract_text() if reader.pages else ""
    except (PdfReadError, ValueError, KeyError, IndexError, TypeError):
        # A damaged file may still carry its fingerprint in plain bytes (metadata is not compressed).
        match = SHA_IN_METADATA.search(pdf.decode("latin-1"))
        return match.group(1) if match else None
    match = FINGERPRINT_IN_TEXT.search(text or "")
    return match.group(1) if match else None
