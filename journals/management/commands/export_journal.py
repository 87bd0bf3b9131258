"""Export the postings not yet in a journal, or write a logged journal file again."""

import datetime as dt
import sys

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from backoffice.admin_tools import error_text
from journals.models import JournalExport
from journals.services import journal_export


class Command(BaseCommand):
    help = (
        "Write a balanced journal of every posting not yet exported (from --since on) in Xero's, QuickBooks "
        "Online's or a generic CSV format, and log it; or, with --export N, the logged file N again, byte for byte."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", type=dt.date.fromisoformat, help="Postings from this day on (YYYY-MM-DD).")
        parser.add_argument("--format", choices=JournalExport.Format.values, default=JournalExport.Format.GENERIC)
        parser.add_argument("--out", help="The file to write (default: standard output).")
        parser.add_argument("--user", help="Username recorded as who exported it (required for a new export).")
        parser.add_argument("--export", type=int, help="Write the logged export with this number again.")

    def handle(self, *, since, format, out, user, export, **options):
        if export is not None:
            logged = JournalExport.objects.filter(pk=export).first()
            if logged is None:
                raise CommandError(f"There is no journal export #{export}.")
            self._write(bytes(logged.content), out)
            self.stderr.write(f"{logged}: SHA-256 {logged.sha256}")
            return
        if not user:
            raise CommandError("Name who exports the journal: --user USERNAME.")
        by = get_user_model().objects.filter(username=user, is_active=True).first()
        if by is None:
            raise CommandError(f"There is no active user {user!r}.")
        if not by.has_perm("journals.export_journal"):
            raise CommandError(f"{user} may not export journals (the Finance role may).")
        try:
            logged = journal_export(format=format, since=since, by=by)
        except ValidationError as error:
            raise CommandError(error_text(error))
        self._write(bytes(logged.content), out)
        self.stderr.write(
            f"{logged}: {logged.entry_count} entries, debits {logged.total_debits} {logged.currency}, "
            f"SHA-256 {logged.sha256}"
        )

    def _write(self, content: bytes, out: str | None) -> None:
        if out:
            with open(out, "wb") as f:
                f.write(content)
        else:
            sys.stdout.buffer.write(content)
            sys.stdout.flush()
