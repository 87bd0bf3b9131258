"""`manage.py export_iati --out DIR [--as-of 2026-03-31T23:59:59Z]`: write the IATI 2.03 organisation
and activities files, validated; nothing is written when they would not validate."""

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from iati.services import IatiError, iati_export


class Command(BaseCommand):
    help = "Write the IATI 2.03 organisation file and activities file into a directory."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="The directory to write the two files into.")
        parser.add_argument(
            "--as-of", help="The ledger as of this time (ISO 8601), and the files' generated-datetime. Default: now."
        )

    def handle(self, *args, out, as_of=None, **options):
        when = timezone.now().replace(microsecond=0)
        if as_of:
            when = parse_datetime(as_of)
            if when is None:
                raise CommandError(f"--as-of {as_of!r} is not a date and time such as 2026-03-31T23:59:59Z.")
            if timezone.is_naive(when):
                when = timezone.make_aware(when, dt.UTC)
        try:
            files = iati_export(as_of=when)
        except IatiError as error:
            raise CommandError("The IATI files were not written:\n" + "\n".join(error.messages)) from None
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
            self.stdout.write(f"Wrote {folder / name} ({len(data):,} bytes)")
