"""What `seed_demo` makes (the demo, seeded once for the module)."""

import io
from collections import Counter

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, Sum

from backoffice.money import money_round
from donors.models import Donation, DonationBatch, Donor, ExchangeRate, Instalment, Pledge, WriteOff
from donors.selectors import pledges_with_figures


def _counts():
    return {m.__name__: m.objects.count() for m in (Donor, Pledge, Donation, WriteOff, ExchangeRate, DonationBatch)}


def test_seed_demo_is_realistic(demo_data, db):
    assert set(Donor.objects.values_list("kind", flat=True)) >= {
        "government",
        "company",
        "foundation",
        "civil_society",
        "intergovernmental",
    }
    assert Donor.objects.values("country").distinct().count() >= 15
    assert len(set(ExchangeRate.objects.values_list("currency", flat=True)) | {"GBP"}) >= 4
    assert ExchangeRate.objects.filter(currency="USD").count() > 12  # a history, not a single rate
    statuses = Counter(p.status for p in pledges_with_figures())
    assert statuses["overdue"] and statuses["written_off"] and statuses["fulfilled"]
    assert Pledge.objects.filter(end_date__gt=models_year_later()).exists()
    assert Donation.objects.filter(reversal_of__isnull=False).exists()
    assert DonationBatch.objects.filter(status="posted").exists()
    # Each demo batch is one deposit in one currency, and its control total is its donations' sum.
    for batch in DonationBatch.objects.annotate(n=Count("donations"), total=Sum("donations__amount")):
        assert set(batch.donations.values_list("currency", flat=True)) == {batch.currency}
        assert (batch.n, batch.total) == (batch.expected_count, batch.expected_total)
    # Seeded donations obey the posting rule: base = amount × rate, half up.
    for d in Donation.objects.filter(currency="USD")[:50]:
        assert d.base_amount == money_round(d.amount * d.rate)
    # Every amount is in its currency's places: the Japanese ministry's yen are whole yen.
    assert Pledge.objects.filter(currency="JPY").exists()
    amounts = [
        *Pledge.objects.values_list("total", "currency"),
        *Instalment.objects.values_list("amount", "pledge__currency"),
        *Donation.objects.values_list("amount", "currency"),
        *Donation.objects.filter(pledge__isnull=False).values_list("pledge_amount", "pledge__currency"),
        *WriteOff.objects.values_list("amount", "pledge__currency"),
    ]
    assert [(a, c) for a, c in amounts if a != money_round(a, c)] == []


def models_year_later():
    from django.db.models import F

    return F("start_date") + __import__("datetime").timedelta(days=366)


def test_seed_demo_twice_changes_nothing(demo_data, db):
    first = _counts()
    call_command("seed_demo", "--demo-users", verbosity=0)
    assert _counts() == first


def test_seed_demo_with_debug_on_needs_no_flag(demo_data, db, settings):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert out.getvalue().startswith("Demo data: created 0 rates, 0 donors, 0 pledges")
    assert get_user_model().objects.filter(username="finance", groups__name="Finance").exists()
