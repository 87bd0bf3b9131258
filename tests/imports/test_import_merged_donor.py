"""An import naming a merged donor's reference writes to the donor it was merged into, and the
donor pickers no longer offer a merged donor."""

from django.core.management import call_command

from donors.merge import donor_ids_resolve, donor_merge
from donors.models import Donation, Donor
from tests.factories import DonorFactory, role_user

from .conftest import HEADER, write_file


def test_a_donation_naming_a_merged_donor_goes_to_its_survivor(ledger, tmp_path):
    finance = role_user("Finance")
    loser = DonorFactory(ref="DON-OLD", name="Oakridge Foundation Ltd")
    survivor = Donor.objects.get(ref="DON-0001")
    donor_merge(survivor=survivor, loser=loser, by=finance)
    path = write_file(tmp_path, "old-refs.csv", HEADER + "BANK-OLD-1,DON-OLD,2025-03-02,75.00,GBP,,,,\n")
    call_command("import_data", "donations", path, stdout=None)
    assert Donation.objects.get(reference="BANK-OLD-1").donor == survivor


def test_a_chain_of_merges_leads_to_the_last_survivor(db):
    finance = role_user("Finance")
    first, second, third = DonorFactory(), DonorFactory(), DonorFactory()
    donor_merge(survivor=second, loser=first, by=finance)
    donor_merge(survivor=third, loser=second, by=finance)
    given = {d.pk: d.merged_into_id for d in Donor.objects.filter(pk__in=[first.pk, third.pk])}
    assert donor_ids_resolve(given) == {first.pk: third.pk, third.pk: third.pk}


def test_the_donor_picker_leaves_out_merged_donors(client, db):
    finance = role_user("Finance")
    survivor, loser = DonorFactory(name="Harbour Light Trust"), DonorFactory(name="Harbour Light Trust Ltd")
    donor_merge(survivor=survivor, loser=loser, by=finance)
    client.force_login(finance)
    found = client.get(
        "/admin/autocomplete/",
        {"term": "Harbour", "app_label": "donors", "model_name": "donation", "field_name": "donor"},
    ).json()["results"]
    assert [r["id"] for r in found] == [str(survivor.pk)]
    listing = client.get("/admin/donors/donor/", {"q": "Harbour"}).content.decode()
    assert loser.ref in listing  # the donor list still finds it: its page leads to the survivor
