"""Import and export rules for the donors ledger files. One class per kind of file."""

import logging
from decimal import Decimal
from functools import partial
from types import SimpleNamespace
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connection
from django.utils import timezone

from backoffice.money import money_round
from donors.models import COUNTRY_CHOICES, Contact, Donation, DonationBatch, Donor, ExchangeRate, Instalment, Pledge
from donors.rates import RateBook
from donors.services import donation_amounts
from donors.totals import PostedSums, posted_totals_add

from . import fields as f
from .engine import Column, Importer, Outcome, RowError, RowProblem
from .writes import (
    COPY_ESCAPES,
    NULL,
    ConnectionApart,
    CopyWithHistory,
    ForeignKeysImmediate,
    InstanceMaker,
    any_of,
    copy_text,
    rows_insert,
    transaction_has_written,
)

logger = logging.getLogger(__name__)


def _text(max_length=None):
    return partial(f.text, max_length=max_length)


def _optional_text(name, max_length=None, help=""):
    return Column(name, _text(max_length), required=False, default="", help=help)


def _notes(name):
    return Column(name, partial(f.text, notes=True), required=False, default="")


class DonorImporter(Importer):
    kind = "donor"
    model = Donor
    key = ("ref",)
    columns = [
        Column("ref", _text(20), help="Donor reference, such as DON-0001. Unique; the row's key."),
        Column("name", _text(200)),
        Column("kind", partial(f.choice, choices=Donor.Kind.choices)),
        Column("country", partial(f.choice, choices=COUNTRY_CHOICES), help="ISO 3166 alpha-2 code, such as GB."),
        Column("preferred_currency", f.currency, help="ISO 4217 code."),
        Column("status", partial(f.choice, choices=Donor.Status.choices), required=False, default="active"),
        _optional_text("external_ref", 100, help="The donor's id in the CRM or bank."),
        Column("publicly_acknowledged", f.boolean, required=False, default=False, help="true or false."),
        _notes("notes"),
    ]

    def load(self, rows):
        refs = [r.values["ref"] for r in rows]
        names = self.column_names()
        return {(v["ref"],): v for v in Donor.objects.filter(ref__in=refs).values(*names)}

    def build(self, row):
        donor = Donor(**row.values, created_at=timezone.now())
        donor.full_clean(validate_unique=False, validate_constraints=False)
        return donor

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
    """Donor ids by ref, filled a chunk at a time (one query per chunk)."""

    def __init__(self):
        self.ids: dict[str, int] = {}

    def fill(self, refs):
        missing = {r for r in refs if r not in self.ids}
        if missing:
            self.ids.update(Donor.objects.filter(**any_of("ref", missing)).values_list("ref", "id"))

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
        Column("donor_ref", _text(20), help="The donor's reference; with email, the row's key."),
        Column("name", _text(200)),
        Column("email", _text(254)),
        _optional_text("role", 100),
        Column("receives_reports", f.boolean, required=False, default=False, help="true or false."),
    ]

    def start(self):
        self.donors = _DonorRefs()

    def load(self, rows):
        self.donors.fill(r.values["donor_ref"] for r in rows)
        ids = {self.donors.ids[r.values["donor_ref"]] for r in rows if r.values["donor_ref"] in self.donors.ids}
        emails = {r.values["email"] for r in rows}
        recorded = Contact.objects.filter(donor_id__in=ids, email__in=emails).values(
            "donor__ref", "name", "email", "role", "receives_reports"
        )
        return {(v["donor__ref"], v["email"]): v for v in recorded}

    def build(self, row):
        values = dict(row.values)
        contact = Contact(donor_id=self.donors.get(values.pop("donor_ref")), **values)
        contact.full_clean(exclude=["donor"], validate_unique=False, validate_constraints=False)
        return contact

    @classmethod
    def export_rows(cls, queryset=None):
        queryset = Contact.objects.order_by("donor__ref", "email") if queryset is None else queryset
        fields = ("donor__ref", "name", "email", "role", "receives_reports")
        yield from queryset.values_list(*fields).iterator(chunk_size=2000)


class PledgeImporter(Importer):
    kind = "pledge"
    model = Pledge
    key = ("ref",)
    columns = [
        Column("ref", _text(20), help="Pledge reference, such as PLG-0001. Unique; the row's key."),
        Column("donor_ref", _text(20)),
        Column("title", _text(200)),
        Column("total", f.money, help="Amount: digits, '.', at most 2 decimals, greater than zero."),
        Column("currency", f.currency),
        Column("start_date", f.date, help="YYYY-MM-DD."),
        Column("end_date", f.date, help="YYYY-MM-DD, not before start_date."),
        _optional_text("agreement_ref", 100),
    ]

    def start(self):
        self.donors = _DonorRefs()

    def load(self, rows):
        self.donors.fill(r.values["donor_ref"] for r in rows)
        recorded = Pledge.objects.filter(ref__in=[r.values["ref"] for r in rows]).values(
            "ref", "donor__ref", "title", "total", "currency", "start_date", "end_date", "agreement_ref"
        )
        return {(v["ref"],): {**v, "donor_ref": v.pop("donor__ref")} for v in recorded}

    def build(self, row):
        values = dict(row.values)
        pledge = Pledge(donor_id=self.donors.get(values.pop("donor_ref")), created_at=timezone.now(), **values)
        pledge.full_clean(exclude=["donor"], validate_unique=False, validate_constraints=False)
        return pledge

    @classmethod
    def export_rows(cls, queryset=None):
        queryset = Pledge.objects.order_by("ref") if queryset is None else queryset
        fields = ("ref", "donor__ref", "title", "total", "currency", "start_date", "end_date", "agreement_ref")
        yield from queryset.values_list(*fields).iterator(chunk_size=2000)


class InstalmentImporter(Importer):
    """A pledge's schedule comes in whole: only for a pledge with no instalments yet, and the
    file's instalments for it must add up to the pledge total."""

    kind = "instalment"
    model = Instalment
    key = ("pledge_ref", "due_date")
    columns = [
        Column("pledge_ref", _text(20), help="With due_date, the row's key."),
        Column("due_date", f.date, help="YYYY-MM-DD."),
        Column("amount", f.money, help="In the pledge's currency."),
    ]

    def start(self):
        self.pledges: dict[str, Pledge] = {}
        self.scheduled: dict[str, tuple[int, Decimal]] = {}  # pledge ref -> (first line, new total)

    def load(self, rows):
        refs = {r.values["pledge_ref"] for r in rows} - set(self.pledges)
        for pledge in Pledge.objects.filter(ref__in=refs).only("id", "ref", "total", "currency"):
            pledge.has_schedule = False
            self.pledges[pledge.ref] = pledge
        with_schedule = Instalment.objects.filter(pledge__ref__in=refs).values_list("pledge__ref", flat=True)
        for ref in set(with_schedule):
            self.pledges[ref].has_schedule = True
        recorded = Instalment.objects.filter(pledge__ref__in={r.values["pledge_ref"] for r in rows}).values(
            "pledge__ref", "due_date", "amount"
        )
        return {(v["pledge__ref"], v["due_date"]): {"amount": v["amount"]} for v in recorded}

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
        line, total = self.scheduled.get(ref, (row.line, Decimal("0")))
        self.scheduled[ref] = (line, total + row.values["amount"])
        return Instalment(pledge_id=pledge.pk, due_date=row.values["due_date"], amount=row.values["amount"])

    def finish(self, outcome: Outcome, dry_run: bool):
        for ref, (line, total) in self.scheduled.items():
            pledge = self.pledges[ref]
            if total != pledge.total:
                outcome.add_error(
                    RowError(
                        line,
                        "amount",
                        f"The instalments for pledge {ref} add up to {total} {pledge.currency}, "
                        f"but the pledge total is {pledge.total} {pledge.currency}.",
                    )
                )

    @classmethod
    def export_rows(cls, queryset=None):
        queryset = Instalment.objects.order_by("pledge__ref", "due_date") if queryset is None else queryset
        yield from queryset.values_list("pledge__ref", "due_date", "amount").iterator(chunk_size=2000)


class ExchangeRateImporter(Importer):
    kind = "exchangerate"
    model = ExchangeRate
    key = ("currency", "date")
    columns = [
        Column("currency", f.currency, help="Not the base currency. With date, the row's key."),
        Column("date", f.date, help="YYYY-MM-DD."),
        Column("rate", f.rate, help="Units of base currency per unit; at most 8 decimals."),
        Column("source", _text(100), required=False, default="import"),
    ]

    def load(self, rows):
        currencies = {r.values["currency"] for r in rows}
        dates = {r.values["date"] for r in rows}
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


# A donation row as one line of COPY text (PostgreSQL). Writing the line directly, column by
# column, cost a third of what formatting each of the 20 values generically did; the columns
# that are the same for the whole file (_COPY_FILE_COLUMNS) are appended by the writer.
_COPY_ROW_COLUMNS = [
    "reference", "donor_id", "pledge_id", "received_on", "amount", "currency", "method", "rate", "note",
    "rate_date", "rate_source", "base_amount", "pledge_amount",
]  # fmt: skip
_COPY_FILE_COLUMNS = ["created_at", "status", "posted_at", "posted_by_id", "batch_id"]
_COPY_COLUMNS = _COPY_ROW_COLUMNS + _COPY_FILE_COLUMNS
# Left to the database: the id, and the links an import never sets.
_COPY_UNSET = {"id", "instalment_id", "reversal_of_id"}
if {f.attname for f in Donation._meta.concrete_fields} != set(_COPY_COLUMNS) | _COPY_UNSET:
    raise ImproperlyConfigured("Donation's fields changed: update the donation import's COPY columns.")


def _copy_line(v: dict, donor_id: int, pledge_id: int | None, posted: dict | None) -> str:
    """The row's values (`v`, as parsed) with its donor and pledge ids and, when it is posted,
    its amounts (`DonationImporter.amounts`)."""
    if posted is None:
        rate, rate_date, source, base, pledge_amount = v["rate"], None, "", None, None
    else:
        rate, rate_date, source = posted["rate"], posted["rate_date"], posted["rate_source"]
        base, pledge_amount = posted["base_amount"], posted["pledge_amount"]
    return "\t".join(
        (
            _escaped(v["reference"]),
            str(donor_id),
            NULL if pledge_id is None else str(pledge_id),
            v["received_on"].isoformat(),
            format(v["amount"], "f"),
            v["currency"],
            v["method"],
            NULL if rate is None else format(rate, "f"),
            _escaped(v["note"]),
            NULL if rate_date is None else rate_date.isoformat(),
            _escaped(source),
            NULL if base is None else format(base, "f"),
            NULL if pledge_amount is None else format(pledge_amount, "f"),
        )
    )


def _escaped(text: str) -> str:
    """COPY's escapes, looked for before they are applied: most texts have none."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(COPY_ESCAPES)
    return text


class DonationImporter(Importer):
    """A donation file becomes one DonationBatch; with `post`, its donations are posted."""

    kind = "donation"
    model = Donation
    key = ("reference",)
    chunk_size = 10_000
    first_chunk_size = 1_000  # the database writes nothing until the first chunk is checked
    columns = [
        Column("reference", _text(100), help="The bank or source reference. Unique; the row's key."),
        Column("donor_ref", _text(20), help="The donor's reference, such as DON-0001."),
        Column("received_on", f.date, help="YYYY-MM-DD."),
        Column(
            "amount",
            partial(f.money, positive=False),
            help="Digits, '.', at most 2 decimals, no thousands separators, greater than zero.",
        ),
        Column("currency", f.currency, help="ISO 4217 code, such as GBP."),
        Column(
            "method",
            partial(f.choice, choices=Donation.Method.choices),
            required=False,
            default=Donation.Method.BANK_TRANSFER,
            help="bank_transfer (the default), card, cheque or in_kind.",
        ),
        Column("pledge_ref", _text(20), required=False, default=None, help="Optional: a pledge of the same donor."),
        Column(
            "rate",
            f.rate,
            required=False,
            default=None,
            compare_blank=False,
            help="Optional: base-currency units per unit; blank = the latest rate on or before received_on.",
        ),
        _notes("note"),
    ]

    def start(self):
        self.book = RateBook()
        self.rates: dict[tuple, tuple] = {}  # (currency, date) -> the book's answer
        self.donors = _DonorRefs()
        self.pledges: dict[str, _PledgeRef] = {}
        self.batch: DonationBatch | None = None
        self.count = 0
        self.total = Decimal("0.00")
        self.now = timezone.now()
        self.make = InstanceMaker(Donation)
        self.copy = self.immediate = self.apart = None
        if connection.vendor == "postgresql" and not self.dry_run:
            # Each chunk's rows (as COPY text) are written on a thread of their own while the
            # next chunk is read and checked, so the database's work overlaps Python's.
            self.copy = CopyWithHistory(Donation, _COPY_COLUMNS, marker="batch", user=self.user)
            # The lookups run on a connection of their own, so they need not wait for the
            # write in progress, when they can: when this transaction has written nothing
            # yet, the other connection sees everything this one does.
            if not transaction_has_written():
                self.apart = ConnectionApart()
            # Check the donations' foreign keys as each chunk's COPY ends, while Python works,
            # instead of all of them at COMMIT (0.8 s for 100,000 rows, with nothing else to do
            # meanwhile). The same checks, done earlier.
            self.immediate = ForeignKeysImmediate(Donation)
        # The kept totals of the posted rows, summed as the rows are sent to COPY, so that they
        # need not be read back from the table at the end (where nothing else overlaps).
        self.sums = PostedSums() if self.copy is not None and self.post else None

    def close(self):
        try:
            if self.apart is not None:
                self.apart, apart = None, self.apart
                apart.close()
        finally:
            try:
                if self.copy is not None:
                    self.copy.close()
            finally:
                if self.immediate is not None:
                    self.immediate.close()

    def load(self, rows):
        if self.apart is not None:
            try:
                return self.apart.run(self._lookups, rows)
            except OperationalError:
                # No connection to be had, or a lock not granted in time (ConnectionApart):
                # from now on the lookups wait for the write and use the import's connection,
                # whose transaction holds what they need.
                logger.warning("Donation import: lookups apart failed; using the import's connection", exc_info=True)
                self.apart, apart = None, self.apart
                apart.close()
        if self.copy is not None:  # the write in progress has the connection until it is done
            self.copy.wait()
        return self._lookups(rows)

    def _lookups(self, rows):
        self.donors.fill(r.values["donor_ref"] for r in rows)
        wanted = {r.values["pledge_ref"] for r in rows if r.values["pledge_ref"]} - set(self.pledges)
        if wanted:
            found = Pledge.objects.filter(**any_of("ref", wanted)).values_list(
                "id", "ref", "currency", "donor_id", "donor__ref"
            )
            for values in found:
                self.pledges[values[1]] = _PledgeRef(*values)
        recorded = Donation.objects.filter(**any_of("reference", [r.values["reference"] for r in rows])).values_list(
            "reference", "donor__ref", "received_on", "amount", "currency", "method", "pledge__ref", "rate", "note"
        )
        names = self.column_names()
        return {(v[0],): dict(zip(names, v, strict=True)) for v in recorded}

    def build(self, row):
        """The new donation's column values (by attname), not a model instance: building
        100,000 instances cost more than validating the rows."""
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
        amounts = self.amounts(v, pledge)  # no rate: an error now, not at posting
        self.count += 1
        self.total += amount
        pledge_id = pledge.id if pledge else None
        if self.copy is not None:
            # PostgreSQL: the row as a line of COPY text (write() adds the columns that are the
            # same for the whole file), and its share of the kept totals. Every row built here is
            # written, or none is (the file is refused, and the sums are not used).
            if self.sums is not None:
                self.sums.add(donor_id, v["received_on"], v["currency"], amount, amounts["base_amount"])
            return _copy_line(v, donor_id, pledge_id, amounts if self.post else None)
        values = {
            "reference": v["reference"],
            "donor_id": donor_id,
            "pledge_id": pledge_id,
            "received_on": v["received_on"],
            "amount": amount,
            "currency": v["currency"],
            "method": v["method"],
            "rate": v["rate"],
            "note": v["note"],
            "created_at": self.now,
        }
        if self.post:
            values.update(amounts)
            values["status"] = Donation.Status.POSTED
            values["posted_at"] = self.now
            values["posted_by_id"] = getattr(self.user, "pk", None)
        return values

    def amounts(self, v, pledge) -> dict:
        """`donors.services.donation_amounts` for this row. The common case (no rate given,
        no pledge or a pledge in the same currency, a rate in the book) is answered here with
        the same rule; every other case goes to `donation_amounts` itself."""
        currency, on = v["currency"], v["received_on"]
        if v["rate"] is None and (pledge is None or pledge.currency == currency):
            found = self.rates.get((currency, on))
            if found is None:
                try:
                    found = self.rates[(currency, on)] = self.book.lookup(currency, on)
                except LookupError:
                    found = None
            if found is not None:
                rate, rate_date, source = found
                return {
                    "rate": rate,
                    "rate_date": rate_date,
                    "rate_source": source,
                    "base_amount": money_round(v["amount"] * rate),
                    "pledge_amount": v["amount"] if pledge else None,
                }
        donation = SimpleNamespace(
            amount=v["amount"],
            currency=currency,
            received_on=on,
            rate=v["rate"],
            rate_source="",
            pledge_id=pledge.id if pledge else None,
            pledge=pledge,
        )
        return donation_amounts(donation, book=self.book)

    def write(self, rows):
        if self.batch is None:
            # The final reference needs the whole file's digest; it is set in finish().
            self.batch = DonationBatch(
                reference=f"IMPORTING-{self.now.timestamp()}", expected_count=0, expected_total=Decimal("0")
            )
            self.batch.save()
        if self.copy is not None:
            # Written while the next chunk is read and checked. The columns that are the same
            # for every row of the file end each line.
            tail = "\t".join(
                copy_text(value)
                for value in (
                    self.now,
                    Donation.Status.POSTED if self.post else Donation.Status.DRAFT,
                    self.now if self.post else None,
                    getattr(self.user, "pk", None) if self.post else None,
                    self.batch.pk,
                )
            )
            self.copy.send_text("".join([f"{line}\t{tail}\n" for line in rows]), self.batch.pk)
        else:
            for values in rows:
                values["batch_id"] = self.batch.pk
            rows_insert([self.make(**values) for values in rows], Donation, user=self.user)

    def batch_reference(self) -> str:
        stem = (self.file_name or "file").replace("\\", "/").rsplit("/", 1)[-1]
        return f"IMP-{stem[:70]}-{self.digest.hexdigest()[:16]}"

    def finish(self, outcome: Outcome, dry_run: bool):
        reference = self.batch_reference()
        if self.count == 0:
            outcome.notes.append(
                f"Every row is already recorded (this file was imported before as batch {reference}); "
                "nothing was changed."
                if DonationBatch.objects.filter(reference=reference).exists()
                else "Every row is already recorded; nothing was changed."
            )
            return
        total = money_round(self.total)
        state = "posted" if self.post else "open (draft donations; post the batch to make them count)"
        outcome.notes.append(f"Batch {reference}: {self.count} donation(s), control total {total}, {state}.")
        if dry_run or self.batch is None:
            return
        if self.sums is not None:
            self.sums.prepare()  # while the last chunks are written
        if self.copy is not None:
            self.copy.wait()
        if self.sums is not None:  # the dashboard's and reports' totals of posted donations, in this transaction
            self.sums.save()
        elif self.post:
            posted_totals_add(donations=Donation.objects.filter(batch=self.batch))
        self.batch.reference = reference
        self.batch.expected_count = self.count
        self.batch.expected_total = total
        if self.post:
            self.batch.status = DonationBatch.Status.POSTED
            self.batch.posted_at = self.now
            self.batch.posted_by = self.user
        self.batch.save()

    @classmethod
    def export_rows(cls, queryset=None):
        queryset = Donation.objects.order_by("received_on", "reference") if queryset is None else queryset
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
        )
        yield from queryset.values_list(*fields).iterator(chunk_size=5000)
