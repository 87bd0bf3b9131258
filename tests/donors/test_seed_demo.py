"""`seed_demo` on an empty database. What the default demo holds, and what a rerun does, are
checked once on the demo every test process seeds (test_seed_demo_data.py)."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from donors.models import Donation, Donor
from tests.donors.test_seed_demo_data import _counts
from tests.donors.test_totals import assert_totals_match_ledger
from tests.grants.test_demo import GRANT_COUNTS, created


def test_seed_demo_scales_with_options_makes_the_logins_and_posts_through_the_ledgers_own_services(db, settings):
    """With DEBUG off, --demo-users makes the logins. Each seeded donation has its creation in its
    history and counts in the kept totals, as a donation posted by hand does; a recalled gift is
    reversed with its original rate."""
    settings.DEBUG = False
    out = io.StringIO()
    call_command("seed_demo", "--demo-users", "--donors", "60", "--donations", "500", "--seed", "7", stdout=out)

    assert Donor.objects.count() == 60
    assert Donation.objects.filter(reference__startswith="GIFT-7-").count() == 500
    summary = out.getvalue().splitlines()[0]
    assert summary.startswith("Demo data: created ") and "500 one-off gifts" in summary
    assert all(created(summary)[what] > 0 for what in GRANT_COUNTS), summary
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("fundtrace-demo")
    assert get_user_model().objects.filter(username="finance", groups__name="Finance").exists()

    assert Donation.history.filter(history_type="+").count() == Donation.objects.count()
    reversals = Donation.objects.filter(reversal_of__isnull=False).select_related("reversal_of")
    assert reversals and all(r.base_amount == -r.reversal_of.base_amount for r in reversals)
    assert_totals_match_ledger()


def test_seed_demo_with_debug_off_refuses_and_creates_nothing(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--demo-users") as refused:
        call_command("seed_demo", verbosity=0)
    assert "fundtrace-demo" in str(refused.value) and "Nothing was created" in str(refused.value)
    assert not get_user_model().objects.exists()
    assert set(_counts().values()) == {0}
