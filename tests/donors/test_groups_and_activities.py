"""Donor groups (a government and its agencies, a fund and its members) with their giving rolled
up; the activity log with next steps, on the donor's page and on the owner's dashboard."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from backoffice import roles
from delivery.models import Delivery
from donors import selectors, services
from donors.models import Activity, Donation, DonorRelationship
from reports.models import ReportRun
from tests.factories import ContactFactory, DonationFactory, DonorFactory, role_user

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def gift(donor, amount):
    return services.donation_post(donation=DonationFactory(donor=donor, amount=Decimal(amount)), by=None)


@pytest.fixture
def group():
    government = DonorFactory(name="Government of Norway")
    ministry = DonorFactory(name="Ministry of Foreign Affairs of Norway")
    agency = DonorFactory(name="Norad")
    fund = DonorFactory(name="Nordic Child Safety Fund")
    DonorRelationship.objects.create(donor=ministry, kind="ministry", parent=government)
    DonorRelationship.objects.create(donor=agency, kind="agency", parent=ministry)
    DonorRelationship.objects.create(donor=ministry, kind="member", parent=fund)
    outsider = DonorFactory(name="Oakridge Foundation")
    for donor, amount in ((government, "1000.00"), (ministry, "250.50"), (agency, "99.99"), (outsider, "5000.00")):
        gift(donor, amount)
    reversed_gift = gift(agency, "40.00")
    services.donation_reverse(donation=reversed_gift, by=None, reason="returned")
    return {"government": government, "ministry": ministry, "agency": agency, "fund": fund, "outsider": outsider}


def test_a_group_is_every_donor_joined_at_any_distance_with_its_giving_summed_from_the_ledger(group):
    found = selectors.donor_group(group["agency"])
    assert [m.name for m in found.members] == [
        "Norad", "Government of Norway", "Ministry of Foreign Affairs of Norway", "Nordic Child Safety Fund",
    ]  # fmt: skip
    assert found.relations == {
        group["agency"].pk: ["Agency of Ministry of Foreign Affairs of Norway"],
        group["ministry"].pk: ["Ministry of Government of Norway", "Member of Nordic Child Safety Fund"],
    }
    members = [group[k] for k in ("government", "ministry", "agency", "fund")]
    ledger = Donation.objects.filter(donor__in=members, status="posted").aggregate(s=Sum("base_amount"))["s"]
    assert found.lifetime == ledger == Decimal("1350.49")  # the reversed gift and its reversal cancel out
    assert [m.name for m in selectors.donor_group(group["outsider"]).members] == ["Oakridge Foundation"]


def test_a_donor_cannot_be_part_of_its_own_part_nor_of_itself(group):
    loop = DonorRelationship(donor=group["government"], kind="agency", parent=group["agency"])
    with pytest.raises(ValidationError) as caught:
        loop.full_clean()
    assert caught.value.message_dict["parent"] == [
        "Norad is already part of Government of Norway: a donor cannot be part of its own part."
    ]
    with pytest.raises(IntegrityError, match="donor_relationship_not_itself"), transaction.atomic():
        DonorRelationship.objects.create(donor=group["fund"], kind="member", parent=group["fund"])


@pytest.fixture
def people():
    return {"leadership": role_user(roles.LEADERSHIP), "finance": role_user(roles.FINANCE)}


def test_a_next_step_goes_to_the_contacts_owner_else_to_whoever_recorded_it(people):
    donor = DonorFactory()
    owned = ContactFactory(donor=donor, owner=people["leadership"])
    plain = ContactFactory(donor=donor)
    common = {"donor": donor, "kind": "call", "happened_on": TODAY, "summary": "Call", "next_step": "Write",
              "next_step_on": TODAY}  # fmt: skip
    first = services.activity_save(activity=Activity(contact=owned, **common), by=people["finance"])
    second = services.activity_save(activity=Activity(contact=plain, **common), by=people["finance"])
    assert (first.owner, first.recorded_by) == (people["leadership"], people["finance"])
    assert second.owner == people["finance"]


def test_an_activity_is_refused_with_each_problem_named(people):
    donor, elsewhere = DonorFactory(), ContactFactory(name="Jon Reyes", donor=DonorFactory(name="Helix Social Inc."))
    later = TODAY + dt.timedelta(days=1)
    activity = Activity(donor=donor, contact=elsewhere, kind="meeting", happened_on=later, summary="Met",
                        next_step="Send the toolkit")  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        services.activity_save(activity=activity, by=people["finance"])
    assert caught.value.message_dict == {
        "happened_on": [f"{later:%-d %B %Y} is after today: record what happened."],
        "next_step_on": ["Give the day the next step is due, so that it is shown as a reminder."],
        "contact": ["Jon Reyes is a contact of Helix Social Inc., not of this donor."],
    }
    assert not Activity.objects.exists()


def steps(owner, *rows):
    donor = DonorFactory(name="Global Affairs Canada")
    for step, due, done in rows:
        Activity.objects.create(
            donor=donor, kind="meeting", happened_on=TODAY - dt.timedelta(days=30), summary="Met", owner=owner,
            next_step=step, next_step_on=TODAY + dt.timedelta(days=due), next_step_done_on=done,
        )  # fmt: skip


def test_a_users_next_steps_are_their_open_ones_overdue_or_due_within_two_weeks_soonest_first(people):
    steps(
        people["leadership"],
        ("Due in a week", 7, None), ("Overdue", -3, None), ("Done", -1, TODAY), ("Next month", 30, None),
        ("Due in two weeks", 14, None),
    )  # fmt: skip
    steps(people["finance"], ("Someone else's", 1, None))
    found = selectors.next_steps(user=people["leadership"])
    assert [a.next_step for a in found] == ["Overdue", "Due in a week", "Due in two weeks"]


def test_the_dashboard_shows_the_users_own_next_steps(client, people):
    steps(people["leadership"], ("Send participant numbers by region", -2, None), ("Agree the scope", 5, None))
    steps(people["finance"], ("Chase the invoice", 1, None))
    client.force_login(people["leadership"])
    page = client.get("/dashboard/").content.decode()
    mine = page[page.index('id="next-steps"') : page.index("</table>", page.index('id="next-steps"'))]
    assert "Send participant numbers by region</a>" in mine and "overdue" in mine
    assert "Agree the scope</a>" in mine and "Chase the invoice" not in mine
    client.force_login(people["finance"])
    page = client.get("/dashboard/").content.decode()
    assert "Chase the invoice</a>" in page and "Agree the scope" not in page


def test_the_donor_page_shows_the_group_and_the_activity_with_the_reports_fundtrace_emailed(
    admin_client, group, people
):
    contact = ContactFactory(donor=group["ministry"], name="Ingrid Berg")
    Activity.objects.create(
        donor=group["ministry"], contact=contact, kind="meeting", happened_on=dt.date(2025, 5, 2),
        summary="Annual review", next_step="Send the framework", next_step_on=dt.date(2025, 5, 20),
    )  # fmt: skip
    run = ReportRun.objects.create(
        kind=ReportRun.Kind.DONOR_SUMMARY, donor=group["ministry"], period_start=dt.date(2025, 1, 1),
        period_end=dt.date(2025, 3, 31),
    )  # fmt: skip
    Delivery.objects.create(run=run, contact=contact, email=contact.email, status="sent",
                            sent_at=timezone.make_aware(dt.datetime(2025, 4, 3, 9, 0)))  # fmt: skip
    page = admin_client.get(f"/admin/donors/donor/{group['ministry'].pk}/change/").content.decode()
    assert "Ministry of Government of Norway; Member of Nordic Child Safety Fund" in page
    assert "GBP 1,350.49" in page  # the group's total
    log = page[page.index('class="activity-log"') :]
    assert log.index("2 May 2025") < log.index("3 Apr 2025")  # newest first
    assert "Annual review" in log and "Send the framework (by 20 May 2025)" in log
    assert "Email sent by Fundtrace" in log and f"to {contact.email}" in log
