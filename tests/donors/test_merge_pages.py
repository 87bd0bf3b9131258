"""The donor admin's duplicate pages with Django's test client: the add form's warning, the review
list and its dismissal, the merge preview and confirmation, the merged donor's redirect, undo; and
the pages pass the Nu HTML checker."""

import datetime as dt
from decimal import Decimal

import pytest

from donors import services
from donors.models import Donor, DonorMerge, DuplicateDismissal
from tests import html_checker
from tests.factories import ContactFactory, DonationFactory, DonorFactory, PledgeFactory, role_user


@pytest.fixture
def finance(client, db):
    user = role_user("Finance", "merging-finance")
    client.force_login(user)
    return user


@pytest.fixture
def pair(db):
    survivor = DonorFactory(ref="DON-0001", name="Oakridge Foundation")
    loser = DonorFactory(ref="DON-0002", name="The Oakridge Foundation Ltd")
    ContactFactory(donor=loser, name="Ama Mensah", email="ama@oakridge.example.org")
    PledgeFactory(donor=loser, ref="PLG-0009", title="Summit 2025")
    by = role_user("Finance", "poster")
    services.donation_post(
        donation=DonationFactory(
            donor=loser, reference="BANK-9", amount=Decimal("250.00"), received_on=dt.date(2025, 3, 1)
        ),
        by=by,
    )
    return survivor, loser


def _add(client, **extra):
    data = {"ref": "DON-0003", "name": "THE OAKRIDGE FOUNDATION", "kind": "foundation", "country": "GB"}
    data |= {"preferred_currency": "GBP", "status": "active", **extra}
    management = {"TOTAL_FORMS": "0", "INITIAL_FORMS": "0", "MIN_NUM_FORMS": "0", "MAX_NUM_FORMS": "1000"}
    data |= {
        f"{prefix}-{key}": value for prefix in ("contacts", "part_of", "pledges") for key, value in management.items()
    }
    return client.post("/admin/donors/donor/add/", data)


def test_adding_a_likely_duplicate_warns_and_saves_only_when_confirmed(client, finance, pair):
    page = _add(client)
    assert page.status_code == 200
    assert "Likely duplicate of Oakridge Foundation (DON-0001) (score 70" in page.content.decode()
    assert not Donor.objects.filter(ref="DON-0003").exists()
    assert _add(client, confirm_duplicates="on").status_code == 302
    assert Donor.objects.get(ref="DON-0003").name_key == "oakridge foundation"


def test_the_review_list_shows_the_pair_and_a_dismissal_removes_it(client, finance, pair):
    survivor, loser = pair
    page = client.get("/admin/donors/donor/duplicates/").content.decode()
    assert "1 likely pair" in page and "Merge DON-0002 into DON-0001" in page
    client.post("/admin/donors/donor/duplicates/", {"donor": survivor.pk, "other": loser.pk})
    assert DuplicateDismissal.objects.filter(donor_low=survivor, donor_high=loser).exists()
    assert "No likely duplicates." in client.get("/admin/donors/donor/duplicates/").content.decode()


def test_merge_preview_then_merge_then_the_merged_page_leads_to_the_survivor_then_undo(client, finance, pair):
    survivor, loser = pair
    url = f"/admin/donors/donor/{loser.pk}/merge/?survivor=DON-0001"
    preview = client.get(url).content.decode()
    for shown in ("Ama Mensah &lt;ama@oakridge.example.org&gt;", "PLG-0009: Summit 2025", "BANK-9: GBP 250.00"):
        assert shown in preview, shown
    assert "GBP 0.00" in preview and "GBP 250.00" in preview
    assert client.post(url, {"reason": "Imported twice"}).status_code == 302
    merge = DonorMerge.objects.get()
    assert merge.reason == "Imported twice" and merge.merged_by == finance
    redirect = client.get(f"/admin/donors/donor/{loser.pk}/change/")
    assert redirect.status_code == 302 and redirect.url == f"/admin/donors/donor/{survivor.pk}/change/"
    assert survivor.donations.get().reference == "BANK-9"
    assert client.post(f"/admin/donors/donormerge/{merge.pk}/undo/").status_code == 302
    assert loser.donations.get().reference == "BANK-9"
    assert client.get(f"/admin/donors/donor/{loser.pk}/change/").status_code == 200


def test_a_refused_merge_says_why(client, finance, pair):
    _, loser = pair
    page = client.get(f"/admin/donors/donor/{loser.pk}/merge/?survivor=DON-0002").content.decode()
    assert "This merge cannot be made" in page and "cannot be merged into itself" in page
    assert "Confirm: merge" not in page


def test_the_duplicate_pages_have_no_html_errors(client, finance, pair):
    survivor, loser = pair
    merge_url = f"/admin/donors/donor/{loser.pk}/merge/"
    pages = {
        "duplicates": client.get("/admin/donors/donor/duplicates/"),
        "choose": client.get(merge_url),
        "preview": client.get(f"{merge_url}?survivor=DON-0001"),
    }
    client.post(f"{merge_url}?survivor=DON-0001", {"reason": ""})
    merge = DonorMerge.objects.get()
    pages["undo"] = client.get(f"/admin/donors/donormerge/{merge.pk}/undo/")
    pages["merge record"] = client.get(f"/admin/donors/donormerge/{merge.pk}/change/")
    assert {name: page.status_code for name, page in pages.items()} == dict.fromkeys(pages, 200)
    errors = html_checker.html_errors({name: page.content.decode() for name, page in pages.items()})
    assert not errors, "The Nu HTML checker found:\n" + "\n".join(errors)


def test_leadership_and_auditor_read_the_review_list_but_dismiss_and_merge_nothing(client, pair):
    survivor, loser = pair
    for role in ("Leadership", "Auditor"):
        client.force_login(role_user(role, f"reader-{role}"))
        page = client.get("/admin/donors/donor/duplicates/").content.decode()
        assert "1 likely pair" in page and 'value="Not a duplicate"' not in page and "Merge DON-0002" not in page
        assert (
            client.post("/admin/donors/donor/duplicates/", {"donor": survivor.pk, "other": loser.pk}).status_code == 403
        )
        assert (
            client.post(f"/admin/donors/donor/{loser.pk}/merge/?survivor=DON-0001", {"reason": ""}).status_code == 403
        )
    assert not DuplicateDismissal.objects.exists() and not DonorMerge.objects.exists()
    client.force_login(role_user("Programme", "reader-programme"))
    assert client.get("/admin/donors/donor/duplicates/").status_code == 403
