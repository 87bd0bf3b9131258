"""Deterministic demo data. Running it again inserts nothing new.

It also makes the demo logins (superuser `admin` and one user per role, all with the password
DEMO_PASSWORD, past the password validators), so it refuses to run with DEBUG off unless told
`--demo-users`: a production database must never get them by accident.

Every row is planned from a seeded random generator with fixed calendar dates, then only
rows whose natural key (ref, reference, currency+date) is missing are inserted, in bulk;
donations are posted by the ledger's own services (`donations_post_bulk`, `donation_reverse`).
"""

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from backoffice import roles
from backoffice.models import FIRST_PROFILE, Organisation
from backoffice.money import money_round
from donors.models import (
    Activity,
    Contact,
    Donation,
    DonationBatch,
    Donor,
    DonorRelationship,
    ExchangeRate,
    Instalment,
    Pledge,
    WriteOff,
)
from donors.rates import RateBook
from donors.selectors import pledges_with_figures
from donors.services import NewDonation, activity_save, donation_reverse, donations_post_bulk, schedule_split
from grants.demo import seed_grants
from grants.signals import demo_seeded

DEMO_LOGO = Path(__file__).resolve().parent / "demo" / "alliance-logo.svg"

DEMO_PASSWORD = "fundtrace-demo"
DEMO_USERS = [
    ("admin", None),
    ("finance", roles.FINANCE),
    ("programme", roles.PROGRAMME),
    ("leadership", roles.LEADERSHIP),
    ("auditor", roles.AUDITOR),
]

# name, kind, country, currency, publicly acknowledged
DONORS = [
    ("Ministry of Foreign Affairs of Norway", "government", "NO", "NOK", True),
    ("UK Home Office", "government", "GB", "GBP", True),
    ("Department of Foreign Affairs and Trade, Australia", "government", "AU", "AUD", True),
    ("Global Affairs Canada", "government", "CA", "CAD", True),
    ("Federal Ministry of Justice, Germany", "government", "DE", "EUR", False),
    ("Ministry of Justice and Security, Netherlands", "government", "NL", "EUR", True),
    ("Government Offices of Sweden", "government", "SE", "SEK", False),
    ("Ministry of Interior, United Arab Emirates", "government", "AE", "USD", False),
    ("Department of Justice, Ireland", "government", "IE", "EUR", False),
    ("Ministry of Foreign Affairs, Japan", "government", "JP", "JPY", False),
    ("U.S. Department of State", "government", "US", "USD", True),
    ("Ministry of Digital Affairs, Poland", "government", "PL", "EUR", False),
    ("Northstar Cloud Services Ltd", "company", "GB", "GBP", True),
    ("Helix Social Inc.", "company", "US", "USD", False),
    ("Baltic Messaging AS", "company", "NO", "NOK", False),
    ("Kestrel Devices KK", "company", "JP", "JPY", False),
    ("Meridian Search GmbH", "company", "DE", "EUR", True),
    ("Lumen Streaming SA", "company", "FR", "EUR", False),
    ("Tandem Gaming Pty Ltd", "company", "AU", "AUD", False),
    ("Oakridge Foundation", "foundation", "US", "USD", True),
    ("Fondation Aurore", "foundation", "CH", "EUR", False),
    ("Nguyễn Family Trust", "foundation", "VN", "USD", False),
    ("Stiftung Łódź Kinder", "foundation", "PL", "EUR", False),
    ("Safe Childhood Network Kenya", "civil_society", "KE", "USD", True),
    ("Ассоциация «Безопасный интернет»", "civil_society", "AM", "USD", False),
    ("Ένωση Ψηφιακής Προστασίας Παιδιών", "civil_society", "GR", "EUR", False),
    ("Red Latinoamericana por la Infancia", "civil_society", "BR", "USD", False),
    ("Council of Europe Children's Rights Division", "intergovernmental", "FR", "EUR", True),
    ("UN Trust Fund for Child Safety Online", "intergovernmental", "US", "USD", True),
    ("Dr. Amara Okafor", "individual", "NG", "GBP", False),
]
# The French-speaking donors, sent their summaries in French (Donor.language).
FRENCH_SPEAKING = {"Lumen Streaming SA", "Fondation Aurore"}

# Units of GBP per unit, at 2021-01-01; each month walks a little.
RATE_START = {
    "USD": "0.7300",
    "EUR": "0.8900",
    "AUD": "0.5600",
    "CAD": "0.5700",
    "JPY": "0.0070",
    "NOK": "0.0850",
    "SEK": "0.0880",
}
RATE_MONTHS = (dt.date(2021, 1, 1), dt.date(2027, 12, 1))
FIRST_GIFT, LAST_GIFT = dt.date(2021, 1, 4), dt.date(2026, 10, 30)


class Command(BaseCommand):
    help = "Load realistic, deterministic demo data (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--donors", type=int, default=len(DONORS), help="At least the named demo donors.")
        parser.add_argument("--donations", type=int, default=0, help="Extra one-off gifts spread over the donors.")
        parser.add_argument(
            "--demo-users",
            action="store_true",
            help=f"Run with DEBUG off too, making the demo logins (password '{DEMO_PASSWORD}'). "
            "Only for a throwaway database nobody else can reach.",
        )

    def handle(self, *, seed, donors, donations, demo_users, verbosity, **options):
        if not (settings.DEBUG or demo_users):
            raise CommandError(
                f"seed_demo makes the superuser 'admin' and the role logins, all with the password "
                f"'{DEMO_PASSWORD}', so it runs only with DEBUG=1. Nothing was created. On a throwaway "
                "database nobody else can reach, pass --demo-users to make them with DEBUG off."
            )
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = timezone.now()
        with transaction.atomic():
            users = self.users()
            self.admin = users["admin"]
            # Each section draws from its own stream, so the named donors' pledges are the
            # same whatever --donors and --donations say.
            self.rng = random.Random(f"{seed}-rates")
            created = {"rates": self.rates()}
            self.book = RateBook()
            self.rng = random.Random(f"{seed}-donors")
            created["donors"] = self.donors(max(donors, len(DONORS)))
            self.rng = random.Random(f"{seed}-pledges")
            created["pledges"] = self.pledges()
            created["pledge payments"] = self.paid
            self.rng = random.Random(f"{seed}-gifts")
            created["one-off gifts"] = self.gifts(donations)
            created["activities"] = self.relationships_and_activities(users)
            self.extend(created)
            self.organisation()
        if verbosity:
            summary = ", ".join(f"{n} {what}" for what, n in created.items())
            self.stdout.write(f"Demo data: created {summary}.")
            self.stdout.write(f"Demo logins (password '{DEMO_PASSWORD}'):")
            for username, role in DEMO_USERS:
                self.stdout.write(f"  {username:<11} {role or 'superuser'}")

    def extend(self, created):
        """Hook for other apps' demo data (outputs, allocations; money out through `demo_seeded`),
        called in the same transaction."""
        created.update(seed_grants(rng=random.Random(self.seed + 1), by=self.admin))
        for _receiver, counts in demo_seeded.send(sender=Command, rng=random.Random(self.seed + 2), by=self.admin):
            created.update(counts)

    def organisation(self):
        """The demo alliance's profile, with its logo (an SVG shipped beside this command)."""
        profile = Organisation.current()
        # The IATI identifier is the demo charity's number under the Charity Commission's prefix.
        for name, value in {**FIRST_PROFILE, "public_url": "", "iati_identifier": "GB-CHC-1234567"}.items():
            setattr(profile, name, value)
        profile.logo = File(DEMO_LOGO.open("rb"), name=DEMO_LOGO.name)
        profile.full_clean()
        profile.save()

    # Users ------------------------------------------------------------------------------

    def users(self):
        User = get_user_model()
        users = {}
        for username, role in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User.objects.create_user(
                    username=username,
                    password=DEMO_PASSWORD,
                    email=f"{username}@fundtrace.invalid",
                    is_staff=True,
                    is_superuser=role is None,
                )
                if role:
                    user.groups.add(Group.objects.get(name=role))
            users[username] = user
        return users

    # Rates ------------------------------------------------------------------------------

    def rates(self):
        rows = []
        for currency, start in RATE_START.items():
            rate = Decimal(start)
            month = RATE_MONTHS[0]
            while month <= RATE_MONTHS[1]:
                rows.append(ExchangeRate(currency=currency, date=month, rate=rate, source="demo central bank"))
                drift = Decimal(self.rng.randint(-250, 250)) / Decimal(10000)
                rate = (rate * (1 + drift)).quantize(Decimal("0.00000001"))
                month += relativedelta(months=1)
        return len(_insert(ExchangeRate, rows, key=lambda r: (r.currency, r.date)))

    # Donors -----------------------------------------------------------------------------

    def donors(self, count):
        kinds = [k for k, _ in Donor.Kind.choices]
        countries = ["GB", "US", "DE", "FR", "NO", "SE", "AU", "CA", "JP", "NL", "IE", "KE", "BR", "IN", "ZA", "PH"]
        currencies = ["GBP", *RATE_START]
        planned = []
        for i in range(count):
            if i < len(DONORS):
                name, kind, country, currency, public = DONORS[i]
            else:
                kind = self.rng.choice(kinds)
                country = self.rng.choice(countries)
                currency = self.rng.choice(currencies)
                name, public = f"Supporter {i + 1:05d} ({Donor.Kind(kind).label})", False
            planned.append(
                Donor(
                    ref=f"DON-{i + 1:04d}",
                    name=name,
                    kind=kind,
                    country=country,
                    preferred_currency=currency,
                    language="fr" if name in FRENCH_SPEAKING else "en-gb",
                    publicly_acknowledged=public,
                    created_at=self.now,
                )
            )
        new_refs = {d.ref for d in _insert(Donor, planned, key=lambda d: d.ref)}
        self.donor_ids = dict(Donor.objects.values_list("ref", "id"))
        self.donor_currency = dict(Donor.objects.values_list("ref", "preferred_currency"))
        contacts = []
        for donor in planned:
            second_contact = self.rng.random() < 0.5  # drawn for every donor, so reruns stay in step
            if donor.ref not in new_refs:
                continue
            slug = donor.ref.lower()
            contacts.append(
                Contact(
                    donor_id=self.donor_ids[donor.ref],
                    name=f"Grants officer {donor.ref}",
                    email=f"grants.{slug}@example.org",
                    role="Grants officer",
                    receives_reports=True,
                )
            )
            if second_contact:
                contacts.append(
                    Contact(
                        donor_id=self.donor_ids[donor.ref],
                        name=f"Finance desk {donor.ref}",
                        email=f"finance.{slug}@example.org",
                        role="Finance",
                        receives_reports=False,
                    )
                )
        Contact.objects.bulk_create(contacts, batch_size=2000)
        return len(new_refs)

    # Groups, contacts' owners, activities --------------------------------------------
    def relationships_and_activities(self, users):
        """Two governments in the UN trust fund's pool, owners for the named donors' grants officers,
        and a few meetings and calls whose next steps fall around today (the dashboard shows them)."""
        if Activity.objects.exists():
            return 0
        fund = self.donor_ids["DON-0029"]
        DonorRelationship.objects.bulk_create(
            [
                DonorRelationship(donor_id=self.donor_ids[ref], kind="member", parent_id=fund)
                for ref in ("DON-0007", "DON-0011")
            ]
        )
        owners = {"government": users["leadership"], "company": users["finance"], "foundation": users["finance"]}
        for donor in Donor.objects.filter(ref__in=[f"DON-{i:04d}" for i in range(1, len(DONORS) + 1)]):
            donor.contacts.filter(role="Grants officer").update(owner=owners.get(donor.kind, users["finance"]))
        today = timezone.localdate()
        planned = [
            ("DON-0002", "meeting", 20, "Annual review with the Home Office: the 2026 threat assessment is on track.",
             "Send the draft threat assessment", 5),
            ("DON-0004", "call", 12, "Global Affairs Canada asked for the summit's participant numbers by region.",
             "Send participant numbers by region", -2),
            ("DON-0013", "meeting", 40, "Northstar offered engineers for the hash-matching toolkit.",
             "Agree the toolkit's scope with Northstar", 10),
            ("DON-0020", "email", 8, "Oakridge Foundation confirmed its next instalment for March.", "", None),
        ]  # fmt: skip
        for ref, kind, ago, summary, step, due in planned:
            donor_id = self.donor_ids[ref]
            contact = Contact.objects.filter(donor_id=donor_id, role="Grants officer").first()
            activity_save(
                activity=Activity(
                    donor_id=donor_id, contact=contact, kind=kind, happened_on=today - dt.timedelta(days=ago),
                    summary=summary, next_step=step, next_step_on=today + dt.timedelta(days=due) if step else None,
                ),
                by=self.admin,
            )  # fmt: skip
        return len(planned)

    # Pledges, instalments, their donations, write-offs ---------------------------------

    def pledges(self):
        """Multi-year pledges for the named donors, paid by instalment, some late, some written off."""
        pledges, schedules, gifts, write_offs = [], {}, [], {}
        number = 0
        for i, (_name, kind, _country, currency, _) in enumerate(DONORS):
            donor_ref = f"DON-{i + 1:04d}"
            for p in range(1 if kind == "individual" else self.rng.choice((1, 2))):
                number += 1
                ref = f"PLG-{number:04d}"
                start = dt.date(self.rng.choice((2022, 2023, 2024, 2025)), self.rng.choice((1, 4, 7, 10)), 1)
                years = self.rng.choice((2, 3, 4))
                frequency, per_year = self.rng.choice((("annual", 1), ("quarterly", 4)))
                size = {
                    "government": 600_000,
                    "intergovernmental": 400_000,
                    "company": 250_000,
                    "foundation": 150_000,
                    "civil_society": 30_000,
                    "individual": 10_000,
                }[kind]
                rate, _, _ = self.book.lookup(currency, start)
                total = money_round(Decimal(self.rng.randint(size // 2, size * 2)) / rate, currency)
                total = total.quantize(Decimal("1000")) if total > 10000 else total
                pledges.append(
                    Pledge(
                        ref=ref,
                        donor_id=self.donor_ids[donor_ref],
                        title=f"{'Core' if p == 0 else 'Programme'} support {start.year}–{start.year + years - 1}",
                        total=total,
                        currency=currency,
                        start_date=start,
                        end_date=start + relativedelta(years=years, days=-1),
                        agreement_ref=f"AGR-{start.year}-{number:03d}",
                        created_at=self.now,
                    )
                )
                schedules[ref] = schedule_split(
                    total=total, currency=currency, start=start, frequency=frequency, count=years * per_year
                )
                behaviour = self.rng.choices(("prompt", "late", "stopped"), weights=(6, 2, 1))[0]
                for k, (due, amount) in enumerate(schedules[ref]):
                    if due > LAST_GIFT:
                        break
                    if behaviour == "stopped" and k >= 1:
                        write_offs[ref] = due
                        break
                    if behaviour == "late" and due > LAST_GIFT - relativedelta(months=8):
                        break
                    paid_on = due + dt.timedelta(days=self.rng.randint(0, 40))
                    if paid_on > LAST_GIFT:
                        break
                    gifts.append((f"INS-{ref}-{k + 1:02d}", donor_ref, ref, paid_on, amount, currency))
        made = len(_insert(Pledge, pledges, key=lambda x: x.ref))
        pledge_ids = dict(Pledge.objects.values_list("ref", "id"))
        fresh = set(Pledge.objects.filter(instalments__isnull=True).values_list("ref", flat=True))
        Instalment.objects.bulk_create(
            [
                Instalment(pledge_id=pledge_ids[ref], due_date=due, amount=amount)
                for ref, rows in schedules.items()
                if ref in fresh
                for due, amount in rows
            ]
        )
        self.paid = self.post_gifts(gifts, pledge_ids, batches=True)
        self.write_offs(write_offs, pledge_ids, fresh)
        self.paid += self.reversals([g[0] for g in gifts[::23]])
        return made

    def write_offs(self, write_offs, pledge_ids, fresh):

        outstanding = {
            ref: money_round(amount, currency)
            for ref, amount, currency in pledges_with_figures(Pledge.objects.filter(ref__in=write_offs)).values_list(
                "ref", "outstanding", "currency"
            )
        }
        rows = [
            WriteOff(
                pledge_id=pledge_ids[ref],
                amount=outstanding[ref],
                written_off_on=on,
                reason="Donor ended the agreement early (budget cut); remaining instalments will not be paid.",
                by=self.admin,
                created_at=self.now,
            )
            for ref, on in write_offs.items()
            if ref in fresh and outstanding[ref] > 0
        ]
        WriteOff.objects.bulk_create(rows)

    def post_gifts(self, gifts, pledge_ids, batches=False):
        """Post the gifts not there yet with `donations_post_bulk`; with `batches`, in a posted
        batch per month received and currency (a batch is one bank deposit, in one currency)."""
        gifts = _new(Donation, gifts, key=lambda g: g[0])
        if not gifts:
            return 0
        groups: dict[str | None, list] = {}
        for gift in gifts:
            groups.setdefault(f"BATCH-{gift[3]:%Y-%m}-{gift[5]}" if batches else None, []).append(gift)
        batch_of = {}
        if batches:
            _insert(
                DonationBatch,
                [
                    DonationBatch(
                        reference=key,
                        expected_count=len(group),
                        expected_total=sum((g[4] for g in group), Decimal("0")),
                        currency=group[0][5],
                        status=DonationBatch.Status.POSTED,
                        posted_at=self.now,
                        posted_by=self.admin,
                        created_at=self.now,
                    )
                    for key, group in sorted(groups.items())
                ],
                key=lambda b: b.reference,
            )
            batch_of = DonationBatch.objects.in_bulk(list(groups), field_name="reference")
        pledge_currency = dict(Pledge.objects.filter(pk__in=pledge_ids.values()).values_list("ref", "currency"))
        for key, group in groups.items():
            donations_post_bulk(
                donations=(
                    NewDonation(
                        reference=reference,
                        donor_id=self.donor_ids[donor_ref],
                        received_on=received_on,
                        amount=amount,
                        currency=currency,
                        pledge_id=pledge_ids.get(pledge_ref),
                        pledge_currency=pledge_currency.get(pledge_ref),
                    )
                    for reference, donor_ref, pledge_ref, received_on, amount, currency in group
                ),
                by=self.admin,
                batch=batch_of.get(key),
                book=self.book,
            )
        return len(gifts)

    def reversals(self, references):
        """Reverse a few gifts (a bank recall), each followed by the gift received again."""
        originals = Donation.objects.filter(reference__in=references, reversed_by__isnull=True).select_related("pledge")
        again = []
        for d in originals.order_by("reference"):
            donation_reverse(
                donation=d,
                by=self.admin,
                reason="Bank recall: payment returned",
                on=d.received_on + dt.timedelta(days=3),
            )
            again.append(
                NewDonation(
                    reference=f"{d.reference}-R2",
                    donor_id=d.donor_id,
                    received_on=d.received_on + dt.timedelta(days=10),
                    amount=d.amount,
                    currency=d.currency,
                    method=d.method,
                    note="Re-sent after bank recall",
                    rate=d.rate,  # the bank converted it again at the first rate
                    rate_source=d.rate_source,
                    pledge_id=d.pledge_id,
                    pledge_currency=d.pledge.currency if d.pledge_id else None,
                )
            )
        return len(again) + donations_post_bulk(donations=again, by=self.admin, book=self.book)

    # One-off gifts ----------------------------------------------------------------------

    def gifts(self, count):
        """`count` one-off gifts over all donors, in chunks so memory stays flat."""
        refs = sorted(self.donor_ids)
        span = (LAST_GIFT - FIRST_GIFT).days
        made, chunk = 0, []
        for i in range(count):
            donor_ref = refs[self.rng.randrange(len(refs))]
            currency = self.donor_currency[donor_ref]
            rate = self.book.lookup(currency, LAST_GIFT)[0]
            amount = money_round(Decimal(self.rng.randint(2_000, 2_000_000)) / 100 / rate, currency)
            received_on = FIRST_GIFT + dt.timedelta(days=self.rng.randrange(span))
            chunk.append(
                (f"GIFT-{self.seed}-{i + 1:07d}", donor_ref, None, received_on, max(amount, Decimal("1")), currency)
            )
            if len(chunk) == 20_000:
                made += self.post_gifts(chunk, {})
                chunk = []
        if chunk:
            made += self.post_gifts(chunk, {})
        return made


def _new(model, rows, *, key) -> list:
    """The rows whose natural key is not there yet."""
    field_names = _key_fields(model)
    keys = [key(r) for r in rows]
    existing = set()
    if len(field_names) == 1:
        name = field_names[0]
        for start in range(0, len(keys), 5000):
            existing.update(
                model.objects.filter(**{f"{name}__in": keys[start : start + 5000]}).values_list(name, flat=True)
            )
    else:
        existing.update(model.objects.values_list(*field_names))
    return [r for r, k in zip(rows, keys, strict=True) if k not in existing]


def _insert(model, rows, *, key, batch_size=5000) -> list:
    """Insert the rows whose natural key is not there yet; return those rows."""
    new = _new(model, rows, key=key)
    model.objects.bulk_create(new, batch_size=batch_size)
    return new


def _key_fields(model):
    return {
        ExchangeRate: ("currency", "date"),
        Donor: ("ref",),
        Pledge: ("ref",),
        DonationBatch: ("reference",),
        Donation: ("reference",),
    }[model]
