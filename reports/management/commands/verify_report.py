"""Check that a PDF is exactly the report Fundtrace made from a stored snapshot.

Exit status 0: it matches. 1: the file was altered (or its snapshot was). 2: unknown report.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reports.services import report_verify


class Command(BaseCommand):
    help = "Verify a report PDF against the snapshot it was rendered from."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file, **options):
        if not file.is_file():
            raise CommandError(f"{file} is not a file.", returncode=2)
        result = report_verify(file.read_bytes())
        if not result.ok:
            raise CommandError(f"NOT VERIFIED: {result.reason}", returncode=1 if result.run else 2)
        self.stdout.write(f"VERIFIED: {result.reason} Snapshot SHA-256 {result.run.snapshot_sha256}.")
