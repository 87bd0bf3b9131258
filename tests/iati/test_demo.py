"""The demo ledger published: both files valid, every programme and output there, the totals of each
transaction type equal to the ledger's in every currency, and no funder named who did not agree to it."""

from collections import defaultdict
from decimal import Decimal
from xml.sax.saxutils import escape

import pytest
from django.db.models import Q, Sum
from django.utils import timezone

from donors.models import Donation, Donor, Pledge, WriteOff
from grants.models import Output, Programme
from iati.services import ACTIVITIES_FILE, ORGANISATION_FILE, iati_export
from iati.validation import schema_errors
from spending.models import Expense
from tests.iati.ledger import ORG_ID, parse, transaction_totals

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def exported(demo_data, django_db_blocker):
    with django_db_blocker.unblock():
        as_of = timezone.now().replace(microsecond=0)
        return as_of, iati_export(as_of=as_of)


def by_currency(rows, field="amount") -> dict[str, Decimal]:
    return {r["currency"]: r["total"] for r in rows.values("currency").annotate(total=Sum(field))}


def test_the_demo_files_validate_and_publish_every_programme_and_output(exported):
    _, files = exported
    assert schema_errors("activities", files[ACTIVITIES_FILE]) == []
    assert schema_errors("organisation", files[ORGANISATION_FILE]) == []
    names = set(parse(files[ACTIVITIES_FILE]).xpath("iati-activity/iati-identifier/text()"))
    expected = {f"{ORG_ID}-{p.code}" for p in Programme.objects.filter(outputs__isnull=False)}
    expected |= {f"{ORG_ID}-{o.programme.code}-{o.pk}" for o in Output.objects.select_related("programme")}
    assert expected <= names and names - expected <= {f"{ORG_ID}-CORE"}


def test_the_totals_of_each_type_equal_the_ledger_in_every_currency(exported):
    as_of, files = exported
    on = timezone.localdate(as_of)
    totals = defaultdict(Decimal)
    for (_, type_code, currency), value in transaction_totals(parse(files[ACTIVITIES_FILE])).items():
        totals[(type_code, currency)] += value
    pledges = Pledge.objects.filter(start_date__lte=on).filter(Q(cancelled_on__isnull=True) | Q(cancelled_on__gt=on))
    committed = by_currency(pledges, "total")
    for w in WriteOff.objects.filter(pledge__in=pledges, written_off_on__lte=on).select_related("pledge"):
        committed[w.pledge.currency] -= w.amount
    received = by_currency(Donation.objects.posted().filter(received_on__lte=on))
    spent = by_currency(Expense.objects.posted().filter(paid_on__lte=on))
    assert received and spent and committed
    assert {c: v for (t, c), v in totals.items() if t == "1"} == received
    assert {c: v for (t, c), v in totals.items() if t == "4"} == spent
    assert {c: v for (t, c), v in totals.items() if t == "11"} == committed


def test_each_outputs_incoming_funds_equal_the_donations_restricted_to_it(exported):
    as_of, files = exported
    exported_totals = transaction_totals(parse(files[ACTIVITIES_FILE]))
    rows = (
        Donation.objects.posted()
        .filter(received_on__lte=timezone.localdate(as_of), pledge__restricted_output__isnull=False)
        .values("pledge__restricted_output", "pledge__restricted_output__programme__code", "currency")
        .annotate(total=Sum("amount"))
    )
    assert rows
    for row in rows:
        name = f"{ORG_ID}-{row['pledge__restricted_output__programme__code']}-{row['pledge__restricted_output']}"
        assert exported_totals[(name, "1", row["currency"])] == row["total"]


def test_no_funder_is_named_who_did_not_agree_to_be(exported):
    _, files = exported
    data = files[ACTIVITIES_FILE].decode()
    hidden = Donor.objects.filter(Q(publicly_acknowledged=False) | Q(kind=Donor.Kind.INDIVIDUAL))
    named = Donor.objects.filter(publicly_acknowledged=True).exclude(kind=Donor.Kind.INDIVIDUAL)
    assert hidden.filter(pledges__isnull=False).exists() and named.filter(pledges__isnull=False).exists()
    assert [d.name for d in hidden if f">{escape(d.name)}<" in data] == []
    assert any(f">{escape(d.name)}<" in data for d in named)
