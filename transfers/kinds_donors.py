"""Import and export rules for the donors ledger files. One class per kind of file."""

from decimal import Decimal
from functools import partial
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Case, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from backoffice.errors import LedgerError
from backoffice.money import format_money, money_in_places
from donors.duplicates import DonorFacts, duplicates_of
from donors.merge import donor_ids_resolve
from donors.models import COUNTRY_CHOICES, Contact, Donation, DonationBatch, Donor, ExchangeRate, Instalment, Pledge
from donors.services import DonationsBulk, NewDonation, instalments_check_total

from . import fields as f
from .engine import Column, ExportColumn, Importer, Outcome, RowError, RowProblem, ledger_amount_column, one_of
from .export import amounts_in_places


def _text(max_length=None):
    return partial(f.text, max_length=max_length)


def _optional_text(name, max_length=None, help="", example=""):
    return Column(name, _text(max_length), required=False, default="", help=help, example=example)


def _notes(name, example=""):
    return Column(name, partial(f.text, notes=True), required=False, default="", example=example)


class DonorImporter(Importer):
    kind = "donor"
    model = Donor
    key = ("ref",)
    columns = [
        Column("ref", _text(20), help="Donor reference. Unique; the row's key.", example="DON-0001"),
        Column("name", _text(200), example="Oakridge Foundation"),
        Column("kind", partial(f.choice, choices=Donor.Kind.choices), example="foundation"),
        Column(
            "country",
            partial(f.choice, choices=COUNTRY_CHOICES),
            format="Country: an ISO 3166 alpha-2 code in capitals",
            example="GB",
        ),
        Column("preferred_currency", f.currency, example="GBP"),
        Column(
            "language",
            partial(f.choice, choices=settings.LANGUAGES),
            required=False,
            default="en-gb",
            help="The language of the donor's summaries and their emails: en-gb (English) or fr (French).",
            example="en-gb",
        ),
        Column(
            "status",
            partial(f.choice, choices=Donor.Status.choices),
            required=False,
            default="active",
            example="active",
        ),
        _optional_text("external_ref", 100, help="The donor's id in the CRM or bank.", example="CRM-10482"),
        Column(
            "publicly_acknowledged",
            f.boolean,
            required=False,
            default=False,
            help="Other donors' reports may name this donor.",
            example="false",
        ),
        _notes("notes", example="Met at the regional summit."),
    ]

    def __init__(self, *, confirm_duplicates: bool = False, **kwargs):
        """`confirm_duplicates`: the user has read the likely duplicates a check listed and
        imports the rows as new donors all the same (they are listed as notes)."""
        super().__init__(**kwargs)
        self.confirm_duplicates = confirm_duplicates
        self.confirmed: list[str] = []
        self.file_keys: dict[tuple[str, str], tuple[int, str]] = {}  # (name key, country) -> (line, ref)

    def load(self, rows):
        refs = [r["ref"] for r in rows]
        names = self.column_names()
        return {(v["ref"],): v for v in Donor.objects.filter(ref__in=refs).values(*names)}

    def build(self, row):
        donor = Donor(**row.values, created_at=timezone.now())
        donor.full_clean(validate_unique=False, validate_constraints=False)
        self._duplicates_check(row, donor)
        return donor

    def _duplicates_check(self, row, donor):
        """A new donor that likely duplicates a recorded one is an error of its row until the
        user confirms (donors.duplicates): never a silent second record."""
        facts = DonorFacts(name=donor.name, country=donor.country, kind=donor.kind, external_ref=donor.external_ref)
        found = "; ".join(
            f"{p.donor.ref} {p.donor.name} (score {p.score}: {', '.join(p.reasons)})" for p in duplicates_of(facts)
        )
        earlier = self.file_keys.setdefault((facts.key, donor.country), (row.line, donor.ref))
        if earlier[0] != row.line:
            same = f"{earlier[1]} on line {earlier[0]} of this file (the same name key and country)"
            found = f"{found}; {same}" if found else same
        if not found:
            return
        if self.confirm_duplicates:
            self.confirmed.append(
                f"Line {row.line}: {donor.ref} is a new donor (confirmed); likely duplicate of {found}."
            )
            return
        raise RowProblem(
            "name",
            f"Likely duplicate of {found}. Nothing is imported until you confirm: if these are different donors, "
            "import the file with import_data --confirm-duplicates (or add each on the donor page, which asks); "
            "if not, use the recorded donor's ref.",
        )

    def finish(self, outcome, dry_run):
        outcome.notes.extend(self.confirmed)

    @classmethod
    def export_rows(cls, queryset=None):
        queryset = Donor.objects.order_by("ref") if queryset is None else queryset
        yield from queryset.values_list(*cls.column_names()).iterator(chunk_size=2000)


class _PledgeRef(NamedTuple):
    id: int
    ref: str
    currency: str
    donor_id: int
    donor_ref: str


class _DonorRefs:
    """Donor ids by ref, filled a chunk at a time (one query per chunk). A merged donor's reference
    leads to the donor it was merged into (donors.merge.donor_ids_resolve), as its admin page does."""

    def __init__(self):
        self.ids: dict[str, int] = {}

    def fill(self, refs):
        missing = {r for r in refs if r not in self.ids}
        if missing:
            found = list(Donor.objects.filter(ref__in=one_of(missing)).values_list("ref", "id", "merged_into_id"))
            resolved = donor_ids_resolve({pk: into for _, pk, into in found})
            self.ids.update((ref, resolved[pk]) for ref, pk, _ in found)

    def get(self, ref: str, column: str = "donor_ref") -> int:
        try:
            return self.ids[ref]
        except KeyError:
            raise RowProblem(column, f"There is no donor with reference {ref!r}.") from None


class ContactImporter(Importer):
    kind = "contact"
    model = Contact
    key = ("donor_ref", "email")
    columns = [
        Column("donor_ref", _text(20), help="A recorded donor; with email, the row's key.", example="DON-0001"),
        Column("name", _text(200), example="Amara Okafor"),
        Column("email", _text(254), example="amara.okafor@example.org"),
        _optional_text("role", 100, example="Head of grants"),
        Column(
            "receives_reports",
            f.boolean,
            required=False,
            default=False,
            help="The contact is sent the donor's summaries.",
            example="true",
        ),
        _optional_text(
            "phone", 40, help="With its country code; written back as +44 20 7946 0000.", example="+44 20 7946 0000"
        ),
        _notes("address", example="1 Example Street, London SW1A 1AA"),
        Column(
            "lawful_basis",
            partial(f.choice, choices=Contact.LawfulBasis.choices),
            required=False,
            default=Contact.LawfulBasis.LEGITIMATE_INTERESTS,
            help="The UK GDPR basis for processing the contact's data.",
            example="consent",
        ),
        Column(
            "consent_given_on",
            f.date,
            required=False,
            default=None,
            help="Required when lawful_basis is consent.",
            example="2025-03-14",
        ),
        _optional_text(
            "consent_method",
            200,
            help="Required when lawful_basis is consent.",
            example="Signed form at the 2025 summit",
        ),
        Column(
            "objected_to_email_on",
            f.date,
            required=False,
            default=None,
            help="The contact objected to email on this day: no report email goes to them.",
            example="2026-01-31",
        ),
    ]
    FIELDS = (
        "donor__ref", "name", "email", "role", "receives_reports", "phone", "address", "lawful_basis",
        "consent_given_on", "consent_method", "objected_to_email_on",
    )  # fmt: skip

    def start(self):
        self.donors = _DonorRefs()

    def load(self, rows):
        self.donors.fill(r["donor_ref"] for r in rows)
        ids = {self.donors.ids[r["donor_ref"]] for r in rows if r["donor_ref"] in self.donors.ids}
        emails = {r["email"] for r in rows}
        recorded = Contact.objects.filter(donor_id__in=ids, email__in=emails).values(*self.FIELDS)
        return {(v["donor__ref"], v["email"]): v for v in recorded}

    def build(self, row):
        values = dict(row.values)
        contact = Contact(donor_id=self.donors.get(values.pop("donor_ref")), **values)
        contact.full_clean(exclude=["donor"], validate_unique=False, validate_constraints=False)
        return contact

    @classmethod
    def export_rows(cls, queryset=None):
        queryset = Contact.objects.order_by("donor__ref", "email") if queryset is None else queryset
        yield from queryset.values_list(*cls.FIELDS).iterator(chunk_size=2000)


class PledgeImporter(Importer):
    kind = "pledge"
    model = Pledge
    key = ("ref",)
    columns = [
        Column("ref", _text(20), help="Pledge reference. Unique; the row's key.", example="PLG-0001"),
        Column("donor_ref", _text(20), help="A recorded donor.", example="DON-0001"),
        Column("title", _text(200), example="Model National Response 2025-2027"),
        Column("total", f.money, example="300000.00"),
        Column("currency", f.currency, example="GBP"),
        Column("start_date", f.date, example="2025-01-01"),
        Column("end_date", f.date, help="Not before start_date.", example="2027-12-31"),
        _optional_text("agreement_ref", 100, example="AGR-2025-014"),
    ]

    def start(self):
        self.donors = _DonorRefs()

    def load(self, rows):
        self.donors.fill(r["donor_ref"] for r in rows)
        recorded = Pledge.objects.filter(ref__in=[r["ref"] for r in rows]).values(
            "ref", "donor__ref", "title", "total", "currency", "start_date", "end_date", "agreement_ref"
        )
        return {
            (v["ref"],): {**v, "donor_ref": v.pop("donor__ref"), "total": money_in_places(v["total"], v["currency"])}
            for v in recorded
        }

    def build(self, row):
        values = dict(row.values)
        pledge = Pledge(donor_id=self.donors.get(values.pop("donor_ref")), created_at=timezone.now(), **values)
        pledge.full_clean(exclude=["donor"], validate_unique=False, validate_constraints=False)
        return pledge

    @classmethod
    def export_rows(cls, queryset=None):
        queryset = Pledge.objects.order_by("ref") if queryset is None else queryset
        fields = ("ref", "donor__ref", "title", "total", "currency", "start_date", "end_date", "agreement_ref")
        yield from amounts_in_places(queryset.values_list(*fields).iterator(chunk_size=2000), {3: 4})


class InstalmentImporter(Importer):
    """A pledge's schedule comes in whole: only for a pledge with no instalments yet, and the
    file's instalments for it must add up to the pledge total."""

    kind = "instalment"
    model = Instalment
    key = ("pledge_ref", "due_date")
    columns = [
        Column("pledge_ref", _text(20), help="A recorded pledge; with due_date, the row's key.", example="PLG-0001"),
        Column("due_date", f.date, example="2025-06-30"),
        Column("amount", f.money, help="In the pledge's currency.", example="100000.00"),
    ]

    def start(self):
        self.pledges: dict[str, Pledge] = {}
        self.scheduled: dict[str, tuple[int, list[Decimal]]] = {}  # pledge ref -> (first line, amounts)

    def load(self, rows):
        refs = {r["pledge_ref"] for r in rows} - set(self.pledges)
        for pledge in Pledge.objects.filter(ref__in=refs).only("id", "ref", "total", "currency"):
            pledge.has_schedule = False
            self.pledges[pledge.ref] = pledge
        with_schedule = Instalment.objects.filter(pledge__ref__in=refs).values_list("pledge__ref", flat=True)
        for ref in set(with_schedule):
            self.pledges[ref].has_schedule = True
        recorded = Instalment.objects.filter(pledge__ref__in={r["pledge_ref"] for r in rows}).values(
            "pledge__ref", "due_date", "amount", "pledge__currency"
        )
        return {
            (v["pledge__ref"], v["due_date"]): {"amount": money_in_places(v["amount"], v["pledge__currency"])}
            for v in recorded
        }

    def build(self, row):
        ref = row.values["pledge_ref"]
        pledge = self.pledges.get(ref)
        if pledge is None:
            raise RowProblem("pledge_ref", f"There is no pledge with reference {ref!r}.")
        if pledge.has_schedule:
            raise RowProblem(
                "pledge_ref",
                f"Pledge {ref} already has a schedule with other instalments; change it in the admin.",
            )
        self.scheduled.setdefault(ref, (row.line, []))[1].append(row.values["amount"])
        instalment = Instalment(pledge=pledge, due_date=row.values["due_date"], amount=row.values["amount"])
        instalment.clean()  # the amount in the pledge currency's places
        return instalment

    def finish(self, outcome: Outcome, dry_run: bool):
        for ref, (line, amounts) in self.scheduled.items():
            try:
                instalments_check_total(pledge=self.pledges[ref], amounts=amounts)
            except LedgerError as error:
                for message in error.messages:
                    outcome.add_error(RowError(line, "amount", f"Pledge {ref}: {message}"))

    @classmethod
    def export_rows(cls, queryset=None):
        queryset = Instalment.objects.order_by("pledge__ref", "due_date") if queryset is None else queryset
        rows = queryset.values_list("pledge__ref", "due_date", "amount", "pledge__currency").iterator(chunk_size=2000)
        yield from amounts_in_places(rows, {2: 3}, drop=1)


class ExchangeRateImporter(Importer):
    kind = "exchangerate"
    model = ExchangeRate
    key = ("currency", "date")
    columns = [
        Column("currency", f.currency, help="Not the base currency. With date, the row's key.", example="USD"),
        Column("date", f.date, example="2025-03-31"),
        Column("rate", f.rate, help="Units of the base currency per unit.", example="0.79120000"),
        Column("source", _text(100), required=False, default="import", example="ECB"),
    ]

    def load(self, rows):
        currencies = {r["currency"] for r in rows}
        dates = {r["date"] for r in rows}
        recorded = ExchangeRate.objects.filter(currency__in=currencies, date__in=dates).values(
            "currency", "date", "rate", "source"
        )
        return {(v["currency"], v["date"]): v for v in recorded}

    def build(self, row):
        if row.values["currency"] == settings.BASE_CURRENCY:
            raise RowProblem("currency", f"{settings.BASE_CURRENCY} is the base currency; its rate is always 1.")
        return ExchangeRate(**row.values)

    @classmethod
    def export_rows(cls, queryset=None):
        queryset = ExchangeRate.objects.order_by("currency", "date") if queryset is None else queryset
        yield from queryset.values_list("currency", "date", "rate", "source").iterator(chunk_size=2000)


# The donation columns a ledger field's error is shown in.
_DONATION_COLUMNS = {"pledge": "pledge_ref"}
_CURRENCY = DonationsBulk.CURRENCY  # in a row DonationsBulk writes


class DonationImporter(Importer):
    """A donation file becomes one DonationBatch per currency in it (a batch is in one currency:
    its control total is a sum a bank statement shows); with `post`, its donations are posted.
    The rows are checked, written and posted by `donors.services.DonationsBulk`."""

    kind = "donation"
    model = Donation
    key = ("reference",)
    chunk_size = 10_000
    columns = [
        Column(
            "reference",
            _text(100),
            help="The bank or source reference. Unique; the row's key.",
            example="BANK-250314-07",
        ),
        Column("donor_ref", _text(20), help="A recorded donor.", example="DON-0001"),
        Column("received_on", f.date, example="2025-03-14"),
        ledger_amount_column(example="25000.00"),
        Column("currency", f.currency, example="USD"),
        Column(
            "method",
            partial(f.choice, choices=Donation.Method.choices),
            required=False,
            default=Donation.Method.BANK_TRANSFER.value,  # a plain str: see transfers.engine._run_chunk
            example="bank_transfer",
        ),
        Column(
            "pledge_ref",
            _text(20),
            required=False,
            default=None,
            help="A pledge of the same donor.",
            example="PLG-0001",
        ),
        Column(
            "rate",
            f.rate,
            required=False,
            default=None,
            compare_blank=False,
            blank_means="the latest rate on or before received_on",
            help="Units of the base currency per unit; exactly 1 for the base currency. "
            "A blank rate is not compared when the row is already recorded.",
            example="0.79120000",
        ),
        _notes("note", example="Second instalment, paid early."),
    ]
    export_columns = [
        ExportColumn("status", "draft or posted", "Only a posted donation counts.", "posted"),
        ExportColumn("posted_on", "Date: YYYY-MM-DD", "The day it was posted; blank for a draft.", "2025-03-17"),
        ExportColumn("rate_date", "Date: YYYY-MM-DD", "The date of the rate used; blank for a draft.", "2025-03-14"),
        ExportColumn("rate_source", "Text", "Where the rate used came from.", "ECB"),
        ExportColumn(
            "base_amount",
            "Amount; negative for a reversal",
            "The amount times the rate, half up to the cent; blank for a draft.",
            "19780.00",
        ),
        ExportColumn("base_currency", "Currency", "The currency of base_amount; blank for a draft.", "GBP"),
        ExportColumn("donor_name", "Text", "The donor's name.", "Oakridge Foundation"),
        ExportColumn("batch", "Text", "The reference of the donation's batch.", "IMP-march.csv-3f1c9a0b2d4e6f70"),
        ExportColumn(
            "reverses",
            "Text",
            "On a reversal: the reference of the donation it reverses.",
            "BANK-250314-07",
        ),
        ExportColumn(
            "reversed_by",
            "Text",
            "On a reversed donation: the reference of the reversal.",
            "BANK-250314-07-REV",
        ),
        ExportColumn("reversal_reason", "Text", "On a reversal: why it was made.", "Bank recall: paid twice"),
    ]

    def start(self):
        self.bulk = DonationsBulk(by=self.user, post=self.post)
        self.donors = _DonorRefs()
        self.pledges: dict[str, _PledgeRef] = {}
        self.batches: dict[str, DonationBatch] = {}
        self.count = 0
        self.counts: dict[str, int] = {}
        self.totals: dict[str, Decimal] = {}

    def load(self, rows):
        self.donors.fill(r["donor_ref"] for r in rows)
        wanted = {r["pledge_ref"] for r in rows if r["pledge_ref"]} - set(self.pledges)
        if wanted:
            found = Pledge.objects.filter(ref__in=one_of(wanted))
            found = found.values_list("id", "ref", "currency", "donor_id", "donor__ref")
            for values in found:
                self.pledges[values[1]] = _PledgeRef(*values)
        recorded = Donation.objects.filter(reference__in=one_of(r["reference"] for r in rows)).values_list(
            "reference", "donor__ref", "received_on", "amount", "currency", "method", "pledge__ref", "rate", "note"
        )
        names = self.column_names()
        return {(v[0],): dict(zip(names, v, strict=True)) for v in amounts_in_places(recorded, {3: 4})}

    def build(self, row):
        """The new donation's row, as `DonationsBulk` writes it."""
        v = row.values
        amount = v["amount"]
        if amount <= 0:
            raise RowProblem("amount", f"'{amount}' must be greater than zero.")
        donor_id = self.donors.get(v["donor_ref"])
        pledge = None
        if v["pledge_ref"]:
            pledge = self.pledges.get(v["pledge_ref"])
            if pledge is None:
                raise RowProblem("pledge_ref", f"There is no pledge with reference {v['pledge_ref']!r}.")
            if pledge.donor_id != donor_id:
                raise RowProblem(
                    "pledge_ref",
                    f"Pledge {pledge.ref} belongs to donor {pledge.donor_ref}, not to {v['donor_ref']}.",
                )
        new = NewDonation(
            reference=v["reference"],
            donor_id=donor_id,
            received_on=v["received_on"],
            amount=amount,
            currency=v["currency"],
            method=v["method"],
            note=v["note"],
            rate=v["rate"],
            pledge_id=pledge.id if pledge else None,
            pledge_currency=pledge.currency if pledge else None,
        )
        try:
            built = self.bulk.row(new)
        except LedgerError as error:
            raise ValidationError(
                {_DONATION_COLUMNS.get(field, field): errors for field, errors in error.message_dict.items()}
            ) from None
        self.count += 1
        self.counts[new.currency] = self.counts.get(new.currency, 0) + 1
        self.totals[new.currency] = self.totals.get(new.currency, Decimal("0.00")) + amount
        return built

    def write(self, rows):
        for currency in sorted({row[_CURRENCY] for row in rows} - set(self.batches)):
            # The final reference needs the whole file's digest; it is set in finish().
            self.batches[currency] = batch = DonationBatch(
                reference=f"IMPORTING-{timezone.now().timestamp()}-{currency}",
                expected_count=0,
                expected_total=Decimal("0"),
                currency=currency,
            )
            batch.save()
        self.bulk.write(rows, batches=self.batches)

    def batch_reference(self) -> str:
        """The file's batches' references, less the '-CUR' each ends with."""
        stem = (self.file_name or "file").replace("\\", "/").rsplit("/", 1)[-1]
        return f"IMP-{stem[:70]}-{self.digest.hexdigest()[:16]}"

    def finish(self, outcome: Outcome, dry_run: bool):
        reference = self.batch_reference()
        if self.count == 0:
            outcome.notes.append(
                f"Every row is already recorded (this file was imported before as batch {reference}-…); "
                "nothing was changed."
                if DonationBatch.objects.filter(reference__startswith=f"{reference}-").exists()
                else "Every row is already recorded; nothing was changed."
            )
            return
        state = "posted" if self.post else "open (draft donations; post the batch to make them count)"
        for currency in sorted(self.counts):
            total = format_money(self.totals[currency], currency)
            outcome.notes.append(
                f"Batch {reference}-{currency}: {self.counts[currency]} donation(s), control total {total}, {state}."
            )
        if dry_run or not self.batches:
            return
        self.bulk.finish()
        for currency, batch in self.batches.items():
            batch.reference = f"{reference}-{currency}"
            batch.expected_count = self.counts[currency]
            batch.expected_total = self.totals[currency]
            if self.post:
                batch.status = DonationBatch.Status.POSTED
                batch.posted_at = self.bulk.now
                batch.posted_by = self.user
            batch.save()

    @classmethod
    def export_rows(cls, queryset=None):
        """The import columns, then what the ledger worked out (`export_columns`), in that order."""
        queryset = Donation.objects.order_by("received_on", "reference") if queryset is None else queryset
        queryset = queryset.annotate(
            posted_on=TruncDate("posted_at"),
            base_currency=Case(When(base_amount__isnull=False, then=Value(settings.BASE_CURRENCY)), default=Value("")),
        )
        fields = (
            "reference",
            "donor__ref",
            "received_on",
            "amount",
            "currency",
            "method",
            "pledge__ref",
            "rate",
            "note",
            "status",
            "posted_on",
            "rate_date",
            "rate_source",
            "base_amount",
            "base_currency",
            "donor__name",
            "batch__reference",
            "reversal_of__reference",
            "reversed_by__reference",
            "reversal_reason",
        )
        rows = queryset.values_list(*fields).iterator(chunk_size=5000)
        yield from amounts_in_places(rows, {3: 4, 13: settings.BASE_CURRENCY})
