"""Finance sets a donor's language (Donor.language) on the donor's admin page."""

import pytest

from donors.models import Donor
from tests.factories import role_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance(client):
    client.force_login(role_user("Finance", "language-finance"))
    return client


def _add(client, ref, name, **extra):
    data = {"ref": ref, "name": name, "kind": "government", "country": "FR", "preferred_currency": "EUR"}
    data |= {"status": "active", **extra}
    management = {"TOTAL_FORMS": "0", "INITIAL_FORMS": "0", "MIN_NUM_FORMS": "0", "MAX_NUM_FORMS": "1000"}
    data |= {f"{p}-{key}": value for p in ("contacts", "part_of", "pledges") for key, value in management.items()}
    return client.post("/admin/donors/donor/add/", data)


def test_the_add_page_offers_english_and_french_english_first(finance):
    page = finance.get("/admin/donors/donor/add/").content.decode()
    assert '<select name="language"' in page
    assert '<option value="en-gb" selected>English</option>' in page and '<option value="fr">French</option>' in page


def test_finance_records_a_french_speaking_donor(finance):
    assert _add(finance, "DON-0201", "Ministère des Armées", language="fr").status_code == 302
    assert Donor.objects.get(ref="DON-0201").language == "fr"


def test_a_form_posted_without_the_language_keeps_the_donors_or_records_english(finance):
    assert _add(finance, "DON-0202", "Agence française de développement").status_code == 302
    assert Donor.objects.get(ref="DON-0202").language == "en-gb"
    assert _add(finance, "DON-0203", "Quai d'Orsay Fund", language="").status_code == 302
    assert Donor.objects.get(ref="DON-0203").language == "en-gb"
