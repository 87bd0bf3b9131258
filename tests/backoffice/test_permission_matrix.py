"""Every role against every admin page and action: allowed (200/302) or refused (403)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model

from backoffice import roles
from donors import services
from donors.models import Donation
from grants.models import Allocation, Indicator, ReportingObligation
from tests.factories import (
    BatchFactory,
    ContactFactory,
    DonationFactory,
    OutputFactory,
    PledgeFactory,
    RateFactory,
    role_user,
)

EDIT, VIEW, NONE = "edit", "view", None

# What each role may do with each admin page. Written out by hand on purpose: this is the
# specification the roles module is checked against, not a copy of it.
MATRIX = {
    "donors.donor": {roles.FINANCE: EDIT, roles.PROGRAMME: VIEW, roles.LEADERSHIP: VIEW, roles.AUDITOR: VIEW},
    "donors.contact": {roles.FINANCE: EDIT, roles.PROGRAMME: NONE, roles.LEADERSHIP: VIEW, roles.AUDITOR: VIEW},
    "donors.pledge": {roles.FINANCE: EDIT, roles.PROGRAMME: VIEW, roles.LEADERSHIP: VIEW, roles.AUDITOR: VIEW},
    "donors.donation": {roles.FINANCE: EDIT, roles.PROGRAMME: NONE, roles.LEADERSHIP: VIEW, roles.AUDITOR: VIEW},
    "donors.donationbatch": {roles.FINANCE: EDIT, roles.PROGRAMME: NONE, roles.LEADERSHIP: VIEW, roles.AUDITOR: VIEW},
    "donors.exchangerate": {roles.FINANCE: EDIT, roles.PROGRAMME: NONE, roles.LEADERSHIP: VIEW, roles.AUDITOR: VIEW},
    "donors.writeoff": {roles.FINANCE: EDIT, roles.PROGRAMME: NONE, roles.LEADERSHIP: VIEW, roles.AUDITOR: VIEW},
    "grants.programme": {roles.FINANCE: VIEW, roles.PROGRAMME: EDIT, roles.LEADERSHIP: VIEW, roles.AUDITOR: VIEW},
    "grants.output": {roles.FINANCE: VIEW, roles.PROGRAMME: EDIT, roles.LEADERSHIP: VIEW, roles.AUDITOR: VIEW},
    "grants.indicator": {roles.FINANCE: VIEW, roles.PROGRAMME: EDIT, roles.LEADERSHIP: VIEW, roles.AUDITOR: VIEW},
    "grants.allocation": {roles.FINANCE: EDIT, roles.PROGRAMME: VIEW, roles.LEADERSHIP: VIEW, roles.AUDITOR: VIEW},
    "grants.reportingobligation": {
        roles.FINANCE: EDIT,
        roles.PROGRAMME: EDIT,
        roles.LEADERSHIP: VIEW,
        roles.AUDITOR: VIEW,
    },
}

# Nobody but a superuser deletes a money record; contacts are not money.
DELETABLE = {("donors.contact", roles.FINANCE)}

# Admin actions that change money, and who may run them.
ACTIONS = {
    ("donors.donation", "post_selected"): {roles.FINANCE},
    ("donors.donation", "reverse_selected"): {roles.FINANCE},
    ("donors.donationbatch", "post_selected"): {roles.FINANCE},
    ("donors.writeoff", "reverse_selected"): {roles.FINANCE},
    ("donors.donation", "auto_allocate_selected"): {roles.FINANCE},
    ("grants.allocation", "reverse_selected"): {roles.FINANCE},
    ("donors.donor", "generate_donor_summary"): {roles.FINANCE, roles.LEADERSHIP},
    ("grants.output", "generate_output_statement"): {roles.FINANCE, roles.LEADERSHIP},
}


@pytest.fixture
def ledger(db):
    """One row of every kind, so every change page has something to show."""
    by = get_user_model().objects.create_superuser("owner", "o@example.org", "x")
    pledge = PledgeFactory()
    ContactFactory(donor=pledge.donor)
    RateFactory()
    BatchFactory()
    services.instalments_replace(pledge=pledge, rows=[(dt.date(2025, 1, 1), pledge.total)])
    posted = services.donation_post(donation=DonationFactory(donor=pledge.donor, pledge=pledge), by=by)
    DonationFactory(reference="DRAFT-1")
    services.pledge_write_off(pledge=pledge, amount=Decimal("1.00"), reason="r", by=by)
    output = OutputFactory()
    Indicator.objects.create(output=output, name="Downloads", unit="downloads", target=Decimal("1000"))
    Allocation.objects.create(donation=posted, output=output, amount=Decimal("10.00"), allocated_on=dt.date.today())
    ReportingObligation.objects.create(pledge=pledge, kind="narrative", due_date=dt.date(2026, 1, 1))


def _registered(label):
    for model, model_admin in admin.site._registry.items():
        if model._meta.label_lower == label:
            return model, model_admin
    raise AssertionError(f"{label} has no admin page")


def test_every_money_and_grants_admin_page_is_in_the_matrix():
    registered = {m._meta.label_lower for m in admin.site._registry if m._meta.app_label in ("donors", "grants")}
    assert registered == set(MATRIX)


@pytest.mark.parametrize("role", roles.ROLES)
@pytest.mark.parametrize("label", sorted(MATRIX))
def test_role_against_admin_pages(client, ledger, role, label):
    client.force_login(role_user(role))
    model, _ = _registered(label)
    app, name = label.split(".")
    access = MATRIX[label][role]
    base = f"/admin/{app}/{name}/"
    obj = model.objects.order_by("pk").first()

    listing = client.get(base)
    assert listing.status_code == (200 if access else 403)
    change = client.get(f"{base}{obj.pk}/change/")
    assert change.status_code == (200 if access else 403)
    history = client.get(f"{base}{obj.pk}/history/")
    assert history.status_code == (200 if access else 403)
    add = client.get(f"{base}add/")
    assert add.status_code == (200 if access == EDIT else 403)
    delete = client.get(f"{base}{obj.pk}/delete/")
    assert delete.status_code == (200 if (label, role) in DELETABLE else 403)


@pytest.mark.parametrize("role", roles.ROLES)
@pytest.mark.parametrize(("label", "action"), sorted(ACTIONS))
def test_role_against_admin_actions(client, ledger, role, label, action):
    client.force_login(role_user(role))
    app, name = label.split(".")
    allowed = role in ACTIONS[(label, action)]
    listing = client.get(f"/admin/{app}/{name}/")
    if listing.status_code == 403:
        assert not allowed
        return
    form = listing.context["action_form"]  # None when the user may run no action at all
    offered = [choice for choice, _ in form.fields["action"].choices] if form else []
    assert (action in offered) is allowed


def test_a_role_without_the_post_action_cannot_post_by_forging_the_request(client, ledger):
    client.force_login(role_user(roles.AUDITOR))
    draft = Donation.objects.get(reference="DRAFT-1")
    client.post("/admin/donors/donation/", {"action": "post_selected", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_superuser_may_delete_a_draft_but_not_a_posted_donation(client, ledger):
    client.force_login(get_user_model().objects.get(username="owner"))
    draft = Donation.objects.get(reference="DRAFT-1")
    posted = Donation.objects.get(status="posted")
    assert client.get(f"/admin/donors/donation/{draft.pk}/delete/").status_code == 200
    assert client.get(f"/admin/donors/donation/{posted.pk}/delete/").status_code == 403


def test_groups_hold_exactly_the_role_permissions(db):
    from django.contrib.auth.models import Group

    for role, wanted in roles.ROLE_PERMISSIONS.items():
        held = {f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name=role).permissions.all()}
        assert held == wanted
        assert not any(p.split(".")[1].startswith("delete_") and "contact" not in p for p in held)
