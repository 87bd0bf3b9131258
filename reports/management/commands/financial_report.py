"""Generate the financial report of an agreement for a period: its PDF and its XLSX workbook.

manage.py financial_report --agreement UK-1 --start 2025-01-01 --end 2025-12-31 [--out DIR]
    [--prepared-by NAME --prepared-role ROLE --approved-by NAME --approved-role ROLE]

--agreement is the funder's reference of the agreement, or its pledge's reference. Refused, with a line
per budget line, while a flagged line of the period has no variance explanation.
"""

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q

from reports.financial_xlsx import financial_workbook
from reports.models import ReportRun
from reports.services import ReportError, report_run_generate, report_run_request
from spending.models import Agreement


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; use YYYY-MM-DD.")


def agreement_named(ref: str) -> Agreement:
    found = list(Agreement.objects.filter(Q(funder_ref=ref) | Q(pledge__ref=ref)).select_related("pledge")[:2])
    if not found:
        raise CommandError(f"No agreement with the funder's reference {ref!r} or for a pledge {ref!r}.")
    if len(found) > 1:
        raise CommandError(f"More than one agreement has the funder's reference {ref!r}: give its pledge's reference.")
    return found[0]


class Command(BaseCommand):
    help = "Generate the financial report (PDF and XLSX) of a funder's agreement for a period."

    def add_arguments(self, parser):
        parser.add_argument("--agreement", required=True, help="The funder's reference, or the pledge's reference.")
        parser.add_argument("--start", required=True, type=_date)
        parser.add_argument("--end", required=True, type=_date)
        parser.add_argument("--out", type=Path, default=Path("."), help="Directory to write to (default: here).")
        for who in ("prepared", "approved"):
            parser.add_argument(f"--{who}-by", default="", help=f"Name of who {who} it (blank: a line to sign).")
            parser.add_argument(f"--{who}-role", default="")

    def handle(self, *args, agreement, start, end, out, **options):
        agreement = agreement_named(agreement)
        sign_off = {
            f"{who}_by": {"name": options[f"{who}_by"], "role": options[f"{who}_role"]}
            for who in ("prepared", "approved")
        }
        try:
            with transaction.atomic():
                run = report_run_request(
                    kind=ReportRun.Kind.FINANCIAL_REPORT, agreement=agreement, start=start, end=end, sign_off=sign_off
                )
        except ReportError as exc:
            raise CommandError("The financial report is refused:\n" + "\n".join(exc.messages))
        run.refresh_from_db()
        if run.status == ReportRun.Status.QUEUED:  # a broker is configured: do it here rather than wait
            run = report_run_generate(run_id=run.pk)
        if run.status != ReportRun.Status.DONE:
            raise CommandError(f"Report run {run.pk} failed: {run.error}")
        out.mkdir(parents=True, exist_ok=True)
        pdf = out / run.reader_filename
        with run.pdf.open("rb") as stored:
            pdf.write_bytes(stored.read())
        xlsx = pdf.with_suffix(".xlsx")
        xlsx.write_bytes(financial_workbook(run.snapshot))
        self.stdout.write(f"Wrote {pdf} and {xlsx} (run {run.pk}, fingerprint {run.fingerprint}).")
