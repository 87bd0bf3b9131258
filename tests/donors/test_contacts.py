"""A contact's details and data-protection record: phone numbers written one way, consent recorded
where it is the lawful basis, no date after today; the database holds the consent rule too."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from donors.models import Contact
from tests.factories import ContactFactory, DonorFactory

pytestmark = pytest.mark.django_db


def contact(**fields) -> Contact:
    return Contact(donor=DonorFactory(), name="Amara Okafor", email="amara@example.org", **fields)


def problems(record: Contact) -> dict:
    with pytest.raises(ValidationError) as caught:
        record.full_clean()
    return caught.value.message_dict


@pytest.mark.parametrize(
    "typed, written",
    [
        ("+442079460000", "+44 20 7946 0000"),
        ("+1 (202) 555-0143", "+1 202-555-0143"),
        ("+33 1 23 45 67 89", "+33 1 23 45 67 89"),
    ],
)
def test_a_phone_number_with_its_country_code_is_written_the_international_way(typed, written):
    record = contact(phone=typed)
    record.full_clean()
    assert record.phone == written


@pytest.mark.parametrize("typed", ["020 7946 0000", "+44 12", "call reception"])
def test_a_phone_number_without_a_country_code_or_impossible_is_refused_with_how_to_write_it(typed):
    assert problems(contact(phone=typed))["phone"] == [
        f"“{typed}” is not a phone number with its country code; write it as, for example, +44 20 7946 0000."
    ]


def test_consent_as_the_lawful_basis_needs_when_and_how_it_was_given():
    assert problems(contact(lawful_basis=Contact.LawfulBasis.CONSENT)) == {
        "consent_given_on": ["Where the lawful basis is consent, record when it was given."],
        "consent_method": ["Where the lawful basis is consent, record how it was given."],
    }
    record = contact(lawful_basis="consent", consent_given_on=dt.date(2025, 3, 14), consent_method="Signed form")
    record.full_clean()


def test_legitimate_interests_is_the_default_basis_and_needs_no_consent_record():
    record = contact()
    record.full_clean()
    assert record.lawful_basis == Contact.LawfulBasis.LEGITIMATE_INTERESTS


def test_consent_and_objection_dates_are_not_after_today():
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    found = problems(contact(lawful_basis="consent", consent_given_on=tomorrow, consent_method="Form",
                             objected_to_email_on=tomorrow))  # fmt: skip
    after_today = [f"{tomorrow:%-d %B %Y} is after today."]
    assert found == {"consent_given_on": after_today, "objected_to_email_on": after_today}


def test_the_database_refuses_consent_without_its_record():
    record = ContactFactory()
    with pytest.raises(IntegrityError, match="contact_consent_recorded"), transaction.atomic():
        Contact.objects.filter(pk=record.pk).update(lawful_basis="consent")


def test_contacts_with_no_activity_and_no_gift_for_the_set_years_are_listed_for_review(admin_client, settings):
    from donors.models import Activity
    from donors.selectors import contacts_for_retention_review
    from donors.services import donation_post
    from tests.factories import DonationFactory

    settings.RETENTION_REVIEW_YEARS = 6
    today, long_ago = dt.date(2026, 12, 6), timezone.make_aware(dt.datetime(2019, 1, 10))
    quiet, gave, met, new = (ContactFactory(name=n, donor=DonorFactory()) for n in ("Quiet", "Gave", "Met", "New"))
    Contact.objects.filter(pk__in=[quiet.pk, gave.pk, met.pk]).update(created_at=long_ago)
    donation_post(donation=DonationFactory(donor=gave.donor, received_on=dt.date(2021, 6, 1)), by=None)
    donation_post(donation=DonationFactory(donor=quiet.donor, received_on=dt.date(2020, 6, 1)), by=None)  # too old
    Activity.objects.create(donor=met.donor, contact=met, kind="call", happened_on=dt.date(2024, 2, 2), summary="Hi")
    assert [c.name for c in contacts_for_retention_review(today=today)] == ["Quiet"]
    assert [c.name for c in contacts_for_retention_review(today=today, years=4)] == ["Gave", "Quiet"]
    page = admin_client.get("/admin/donors/contact/", {"retention": "due"}).content.decode()
    assert ">Quiet<" in page and ">Gave<" not in page and ">Met<" not in page and ">New<" not in page
    assert "No activity or gift in 6 years" in page
