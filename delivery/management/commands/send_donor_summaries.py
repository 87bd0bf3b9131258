import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from delivery import services

DRY_RUN_STATES = {
    "send": "would send",
    "sent": "already sent",
    "in_doubt": "in doubt, not resent",
    "revoked": "revoked",
    "objected": "objected to email, not sent",
}


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value}")


class Command(BaseCommand):
    help = "Generate donor summaries for a period on the workers and email them to each donor's reporting contacts."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, type=_date)
        parser.add_argument("--to", dest="end", required=True, type=_date)
        parser.add_argument("--donor", dest="donors", action="append", metavar="REF", help="Repeat for several.")
        parser.add_argument("--dry-run", action="store_true", help="List who would receive what; send nothing.")
        parser.add_argument("--no-wait", action="store_true", help="Queue the work and return at once.")
        parser.add_argument("--timeout", type=int, default=3600, help="Seconds to wait for the workers.")

    def handle(self, *args, start, end, donors, dry_run, no_wait, timeout, **options):
        try:
            if dry_run:
                return self._dry_run(start, end, donors)
            run_ids = services.summaries_request(start=start, end=end, refs=donors)
        except services.DeliveryError as exc:
            raise CommandError(" ".join(exc.messages))
        self.stdout.write(f"{len(run_ids)} donor summaries requested for {start} to {end}.")
        deadline = time.monotonic() + timeout
        while True:
            progress = services.summaries_progress(run_ids=run_ids)
            self.stdout.write(self._line(progress))
            busy = progress["runs"]["queued"] + progress["runs"]["running"]
            deliveries = progress["deliveries"]
            stuck_sending = progress["stuck"] - deliveries["unanswered"]  # the rest of the stuck are not sending
            busy += deliveries["pending"] + deliveries["sending"] - stuck_sending
            if no_wait or not busy or time.monotonic() > deadline:
                break
            time.sleep(2)
        if progress["deliveries"]["failed"] or progress["runs"]["failed"] or progress["stuck"]:
            self.stdout.write(
                self.style.WARNING("Some summaries were not delivered: see Report delivery in the admin.")
            )

    def _line(self, progress) -> str:
        runs = ", ".join(f"{n} {s}" for s, n in progress["runs"].items())
        deliveries = ", ".join(f"{n} {s}" for s, n in progress["deliveries"].items())
        stuck = f"; {progress['stuck']} stuck (sending, or no answer after sending)" if progress["stuck"] else ""
        return f"reports: {runs} | deliveries: {deliveries}{stuck}"

    def _dry_run(self, start, end, donors):
        plans = services.summaries_plan(start=start, end=end, refs=donors)
        for plan in plans:
            run = f"run #{plan.run.pk} ({plan.run.status})" if plan.run else "new run"
            for contact in plan.contacts or []:
                state = DRY_RUN_STATES[plan.contact_state(contact)]
                self.stdout.write(f"{plan.donor.ref} {plan.donor.name}: {run} → {contact.email} [{state}]")
            if not plan.contacts:
                self.stdout.write(f"{plan.donor.ref} {plan.donor.name}: {run} → no contact receives reports")
        self.stdout.write(f"Dry run: {len(plans)} donors with posted donations from {start} to {end}; nothing sent.")
