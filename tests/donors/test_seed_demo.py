import pytest
from django.core.management import call_command

from donors.models import Donation, Donor
from tests.donors.test_seed_demo_data import _counts


def test_seed_demo_scales_with_options(db):
    call_command("seed_demo", "--demo-users", "--donors", "60", "--donations", "500", "--seed", "7", verbosity=0)
    assert Donor.objects.count() == 60
    assert Donation.objects.filter(reference__startswith="GIFT-7-").count() == 500


def test_seed_demo_with_debug_off_refuses_and_creates_nothing(db, settings):
    from django.contrib.auth import get_user_model
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="--demo-users") as refused:
        call_command("seed_demo", verbosity=0)
    assert "fundtrace-demo" in str(refused.value) and "Nothing was created" in str(refused.value)
    assert not get_user_model().objects.exists()
    assert set(_counts().values()) == {0}


def test_seed_demo_with_debug_off_and_demo_users_makes_the_logins(db, settings):
    from django.contrib.auth import get_user_model

    settings.DEBUG = False
    call_command("seed_demo", "--demo-users", verbosity=0)
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("fundtrace-demo")
    assert Donor.objects.exists()


def test_seed_demo_with_debug_on_needs_no_flag(db, settings):
    from django.contrib.auth import get_user_model

    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    assert get_user_model().objects.filter(username="finance", groups__name="Finance").exists()


def test_seeded_donations_are_posted_by_the_ledgers_own_services(db):
    """Each seeded donation has its creation in its history and counts in the kept totals, as a
    donation posted by hand does; a recalled gift is reversed with its original rate."""
    from tests.donors.test_totals import assert_totals_match_ledger

    call_command("seed_demo", "--demo-users", "--donations", "300", verbosity=0)
    assert Donation.history.filter(history_type="+").count() == Donation.objects.count()
    reversals = Donation.objects.filter(reversal_of__isnull=False).select_related("reversal_of")
    assert reversals and all(r.base_amount == -r.reversal_of.base_amount for r in reversals)
    assert_totals_match_ledger()
