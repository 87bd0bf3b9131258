from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from transfers.engine import ImportInterrupted, import_run
from transfers.files import FileRejected, open_table
from transfers.registry import KINDS


class Command(BaseCommand):
    help = "Import a CSV or XLSX file, all or nothing. See docs/imports.md for each kind's columns."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; write nothing.")
        parser.add_argument(
            "--post", action="store_true", help="Donations and expenses: post them in the same transaction."
        )
        parser.add_argument("--user", help="Username recorded as the importer (and poster with --post).")
        parser.add_argument(
            "--confirm-duplicates",
            action="store_true",
            help="Donors: import rows that likely duplicate recorded donors as new donors all the same.",
        )

    def handle(self, *, kind, file, dry_run, post, user, confirm_duplicates, verbosity, **options):
        importer_class = KINDS[kind]
        if post and importer_class.kind not in ("donation", "expense"):
            raise CommandError("--post applies to donation and expense files only.")
        if confirm_duplicates and importer_class.kind != "donor":
            raise CommandError("--confirm-duplicates applies to donor files only.")
        extra = {"confirm_duplicates": True} if confirm_duplicates else {}
        by = None
        if user:
            by = get_user_model().objects.filter(username=user).first()
            if by is None:
                raise CommandError(f"There is no user {user!r}.")
        importer = importer_class(user=by, post=post, file_name=file, **extra)

        def report(line, key, status):
            if status == "unchanged" or verbosity >= 2:
                self.stdout.write(f"Line {line}: {key} {status}")

        try:
            with open(file, "rb") as stream:
                table = open_table(stream, file)
                outcome = import_run(importer, table, dry_run=dry_run, report=report if verbosity else None)
        except FileNotFoundError:
            raise CommandError(f"There is no file {file!r}.")
        except (FileRejected, ImportInterrupted) as error:
            raise CommandError(str(error))
        for error in outcome.errors:
            self.stderr.write(str(error))
        for note in outcome.notes if outcome.ok else ():
            self.stdout.write(note)
        if not outcome.ok:
            raise CommandError(outcome.summary())
        self.stdout.write(("Dry run: " if dry_run else "") + outcome.summary())
