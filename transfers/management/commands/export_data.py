import sys

from django.core.management.base import BaseCommand, CommandError

from transfers.columns import template_csv
from transfers.export import FORMATS, write
from transfers.registry import KINDS


class Command(BaseCommand):
    help = (
        "Export every record of a kind as CSV or XLSX: the columns its import reads, then any export-only "
        "columns (docs/imports.md), which imports ignore."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("--out", help="File to write (default: standard output, CSV only).")
        parser.add_argument(
            "--template", action="store_true", help="Write the kind's import template (its header row, CSV) instead."
        )

    def handle(self, *, kind, format, out, template, **options):
        importer_class = KINDS[kind]
        if template:
            if format != "csv":
                raise CommandError("The template is CSV: leave out --format.")
            content = template_csv(importer_class)
            if out:
                with open(out, "wb") as stream:
                    stream.write(content)
            else:
                sys.stdout.buffer.write(content)
            return
        header = importer_class.export_names()
        if out:
            with open(out, "wb") as stream:
                count = write(format, header, importer_class.export_rows(), stream)
            self.stderr.write(f"{count} {kind} row(s) written to {out}.")
        else:
            if format != "csv":
                raise CommandError("Give --out FILE for XLSX.")
            write(format, header, importer_class.export_rows(), sys.stdout.buffer)
