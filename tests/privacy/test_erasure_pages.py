"""The erasure pages, per role: Finance asks from the person's page; a second Finance or Leadership user
approves or refuses on the request's page; everyone else is refused, and a refused POST erases nothing."""

import pytest

from backoffice import roles
from donors.models import Contact, Donor
from privacy.erasure import erasure_request
from privacy.models import ErasureRequest
from tests.factories import ContactFactory, DonorFactory, role_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def individual():
    donor = DonorFactory(name="Ottoline Brackenbury", kind=Donor.Kind.INDIVIDUAL)
    ContactFactory(donor=donor, name="Ottoline Brackenbury", email="ottoline@example.net")
    return donor


@pytest.mark.parametrize(
    ("role", "asks", "reads", "decides"),
    [
        (roles.FINANCE, 200, 200, 302),
        (roles.LEADERSHIP, 403, 200, 302),
        (roles.PROGRAMME, 403, 403, 403),
        (roles.AUDITOR, 403, 403, 403),
    ],
)
def test_each_role_asks_reads_and_decides_as_the_roles_say(client, individual, role, asks, reads, decides):
    erasure = erasure_request(by=role_user(roles.FINANCE, "asker"), donor=individual, reason="Asked by phone")
    client.force_login(role_user(role))
    assert client.get(f"/privacy/erasure/donor/{individual.pk}/").status_code == asks
    assert client.get(f"/privacy/erasure/{erasure.pk}/").status_code == reads
    answer = client.post(f"/privacy/erasure/{erasure.pk}/", {"decision": "approve"})
    assert answer.status_code == decides
    erased = Donor.objects.get(pk=individual.pk).name == f"Erased donor {individual.pk:04d}"
    assert erased == (decides == 302)


def test_finance_sees_the_link_and_the_preview_and_asks(client, individual):
    finance = role_user(roles.FINANCE)
    client.force_login(finance)
    page = client.get(f"/admin/donors/donor/{individual.pk}/change/").content.decode()
    assert f'href="/privacy/erasure/donor/{individual.pk}/"' in page
    preview = client.get(f"/privacy/erasure/donor/{individual.pk}/").content.decode()
    assert "Ottoline Brackenbury (DON-" in preview and f"Erased donor {individual.pk:04d}" in preview
    assert "Every total and figure, in every report and on the dashboard" in preview
    answer = client.post(f"/privacy/erasure/donor/{individual.pk}/", {"reason": "Asked by letter on 2 Dec"})
    erasure = ErasureRequest.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/privacy/erasure/{erasure.pk}/"
    own = client.get(answer["Location"]).content.decode()
    assert "You asked for this erasure: another Finance or Leadership user approves or refuses it." in own
    assert "Approve and erase" not in own
    refused = client.post(answer["Location"], {"decision": "approve"}).content.decode()
    assert "someone else must approve or refuse it" in refused
    assert Donor.objects.get(pk=individual.pk).name == "Ottoline Brackenbury"


def test_an_organisation_page_offers_no_erasure_but_its_contacts_do(client):
    company = DonorFactory(kind=Donor.Kind.COMPANY)
    contact = ContactFactory(donor=company)
    client.force_login(role_user(roles.FINANCE))
    assert "/privacy/erasure/" not in client.get(f"/admin/donors/donor/{company.pk}/change/").content.decode()
    page = client.get(f"/admin/donors/contact/{contact.pk}/change/").content.decode()
    assert f'href="/privacy/erasure/contact/{contact.pk}/"' in page
    answer = client.post(f"/privacy/erasure/donor/{company.pk}/", {"reason": "x"}).content.decode()
    assert "is not an individual: an organisation is not erased" in answer
    assert not ErasureRequest.objects.exists() and Contact.objects.get(pk=contact.pk).name == contact.name


def test_a_refusal_needs_a_reason_and_erases_nothing(client, individual):
    erasure = erasure_request(by=role_user(roles.FINANCE, "asker"), donor=individual, reason="Asked")
    client.force_login(role_user(roles.LEADERSHIP))
    blank = client.post(f"/privacy/erasure/{erasure.pk}/", {"decision": "refuse", "refusal_reason": ""})
    assert blank.status_code == 200 and "This field is required." in blank.content.decode()
    done = client.post(f"/privacy/erasure/{erasure.pk}/", {"decision": "refuse", "refusal_reason": "Legal hold"})
    erasure.refresh_from_db()
    assert done.status_code == 302 and erasure.status == ErasureRequest.Status.REFUSED
    assert Donor.objects.get(pk=individual.pk).name == "Ottoline Brackenbury"
