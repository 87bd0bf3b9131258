"""Generate a PDF impact report now and write it to a file.

manage.py impact_report donor DON-0001 --from 2025-01-01 --to 2025-12-31 --out donor.pdf [--currency EUR]
manage.py impact_report portfolio --from 2025-01-01 --to 2025-12-31 --out portfolio.pdf
manage.py impact_report output 12 --out output.pdf [--internal]
"""

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from donors.models import Donor
from grants.models import Output
from reports.models import ReportRun
from reports.services import ReportError, report_run_generate, report_run_request


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date; use YYYY-MM-DD.")


class Command(BaseCommand):
    help = "Generate a donor summary, portfolio or output statement PDF."

    def add_arguments(self, parser):
        kinds = parser.add_subparsers(dest="kind", required=True)
        donor = kinds.add_parser("donor", help="Donor summary for a period.")
        donor.add_argument("donor_ref")
        donor.add_argument("--currency", default="", help="Show figures in this currency (default: preferred).")
        portfolio = kinds.add_parser("portfolio", help="Leadership portfolio for a period.")
        output = kinds.add_parser("output", help="Statement for one output.")
        output.add_argument("output_id", type=int)
        output.add_argument("--internal", action="store_true", help="Name every funder (not for external use).")
        for sub in (donor, portfolio):
            sub.add_argument("--from", dest="start", required=True, type=_date)
            sub.add_argument("--to", dest="end", required=True, type=_date)
        for sub in (donor, portfolio, output):
            sub.add_argument("--out", required=True, type=Path)

    def handle(self, *args, kind, out, **options):
        request = {"by": None}
        if kind == "donor":
            donor = Donor.objects.filter(ref=options["donor_ref"]).first()
            if donor is None:
                raise CommandError(f"No donor with reference {options['donor_ref']}.")
            currency = (options["currency"] or "").upper()
            request |= {"kind": ReportRun.Kind.DONOR_SUMMARY, "donor": donor, "currency": currency}
        elif kind == "portfolio":
            request |= {"kind": ReportRun.Kind.PORTFOLIO}
        else:
            output = Output.objects.filter(pk=options["output_id"]).first()
            if output is None:
                raise CommandError(f"No output with id {options['output_id']}.")
            request |= {"kind": ReportRun.Kind.OUTPUT_STATEMENT, "output": output, "external": not options["internal"]}
        if kind != "output":
            request |= {"start": options["start"], "end": options["end"]}
        try:
            with transaction.atomic():
                run = report_run_request(**request)
        except ReportError as exc:
            raise CommandError("; ".join(exc.messages))
        run.refresh_from_db()
        if run.status == ReportRun.Status.QUEUED:  # a broker is configured: do it here rather than wait
            run = report_run_generate(run_id=run.pk)
        if run.status != ReportRun.Status.DONE:
            raise CommandError(f"Report run {run.pk} failed: {run.error}")
        with run.pdf.open("rb") as stored:
            out.write_bytes(stored.read())
        self.stdout.write(f"Wrote {out} (run {run.pk}, fingerprint {run.fingerprint}).")
