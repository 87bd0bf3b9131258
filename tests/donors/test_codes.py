"""Currency and country codes: offered and validated from pycountry, never frozen in a migration."""

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.forms import modelform_factory

from donors.models import Donor
from tests.factories import DonorFactory

MIGRATIONS = sorted(Path(__file__).resolve().parents[2].glob("*/migrations/0*.py"))


def test_no_migration_holds_the_currency_or_country_list():
    assert MIGRATIONS
    frozen = [path.name for path in MIGRATIONS if "AED" in path.read_text() or "Andorra" in path.read_text()]
    assert frozen == []


def test_the_donor_form_offers_every_currency_and_country():
    form = modelform_factory(Donor, fields=["country", "preferred_currency"])()
    currencies = [value for value, _ in form.fields["preferred_currency"].choices]
    countries = dict(form.fields["country"].choices)
    assert {"GBP", "JPY", "KWD", "USD"} <= set(currencies) and "XAU" not in currencies
    assert countries["NO"] == "Norway"


@pytest.mark.django_db
def test_an_unknown_code_is_refused_with_the_field_named():
    donor = DonorFactory.build(preferred_currency="ABC", country="XX")
    with pytest.raises(ValidationError) as refused:
        donor.full_clean()
    assert refused.value.message_dict["preferred_currency"] == ["Value 'ABC' is not a valid choice."]
    assert "country" in refused.value.message_dict
