"""The IATI files of a small ledger: valid against the official 2.03 schemas, each figure where the
mapping puts it, funders who did not agree to be named left anonymous, the same bytes every time."""

import datetime as dt
from decimal import Decimal

import pytest

from backoffice.models import Organisation
from donors.models import Donor
from grants.models import Programme
from iati.builder import iati_files_build
from iati.services import ACTIVITIES_FILE, ORGANISATION_FILE, IatiError, iati_export, iati_files_check
from iati.validation import schema_errors
from tests.factories import role_user
from tests.iati.ledger import AS_OF, ORG_ID, activity, organisation_registered, parse, small_ledger, transaction_totals

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(db):
    return small_ledger(role_user("Finance"))


def test_the_files_validate_against_the_official_schemas(ledger):
    files = iati_export(as_of=AS_OF)
    assert schema_errors("activities", files[ACTIVITIES_FILE]) == []
    assert schema_errors("organisation", files[ORGANISATION_FILE]) == []
    root = parse(files[ACTIVITIES_FILE])
    assert root.get("version") == "2.03"
    assert root.get("generated-datetime") == "2026-06-30T12:00:00Z"


def test_a_programme_is_the_parent_of_its_outputs_and_unrestricted_money_is_the_core_activity(ledger):
    root = parse(iati_export(as_of=AS_OF)[ACTIVITIES_FILE])
    output_id = f"{ORG_ID}-PROTECT-{ledger['output'].pk}"
    assert root.xpath("iati-activity/iati-identifier/text()") == [f"{ORG_ID}-CORE", f"{ORG_ID}-PROTECT", output_id]
    programme, output = activity(root, f"{ORG_ID}-PROTECT"), activity(root, output_id)
    assert programme.get("hierarchy") == "1" and output.get("hierarchy") == "2"
    assert output.xpath("related-activity[@type='1']/@ref") == [f"{ORG_ID}-PROTECT"]
    assert programme.xpath("related-activity[@type='2']/@ref") == [output_id]
    assert output.xpath("title/narrative/text()") == ["Model national response"]
    assert output.xpath("activity-status/@code") == ["2"]  # in progress: implementation
    assert output.xpath("activity-date[@type='1']/@iso-date") == ["2025-01-01"]
    assert output.xpath("activity-date[@type='3']/@iso-date") == ["2026-12-31"]
    assert output.xpath("sector/@code") == ["15160"] and output.xpath("sector/@vocabulary") == ["1"]
    assert output.xpath("recipient-region/@code") == ["998"]
    assert output.xpath("document-link/@url") == ["https://alliance.example.org/mnr"]


def test_transactions_land_on_the_activity_their_restriction_names_in_their_own_currency(ledger):
    root = parse(iati_export(as_of=AS_OF)[ACTIVITIES_FILE])
    output_id = f"{ORG_ID}-PROTECT-{ledger['output'].pk}"
    assert transaction_totals(root) == {
        (output_id, "11", "GBP"): Decimal("1000.00"),  # the government's pledge, restricted to the output
        (output_id, "1", "GBP"): Decimal("400.00"),
        (output_id, "4", "GBP"): Decimal("120.00"),  # the part of the expense charged to the output's line
        (f"{ORG_ID}-PROTECT", "11", "USD"): Decimal("500.00"),  # restricted to the programme
        (f"{ORG_ID}-PROTECT", "1", "USD"): Decimal("200.00"),
        (f"{ORG_ID}-CORE", "1", "GBP"): Decimal("50.00"),  # unrestricted
        (f"{ORG_ID}-CORE", "4", "GBP"): Decimal("30.00"),  # the rest of the expense, charged to no budget
    }
    donation = activity(root, output_id).xpath("transaction[transaction-type/@code='1']")[0]
    assert donation.xpath("transaction-date/@iso-date") == ["2025-03-01"]
    assert donation.xpath("value/@value-date") == ["2025-03-01"]
    assert donation.findtext("value") == "400.00"


def test_budgets_come_from_the_agreement_per_calendar_year(ledger):
    root = parse(iati_export(as_of=AS_OF)[ACTIVITIES_FILE])
    output = activity(root, f"{ORG_ID}-PROTECT-{ledger['output'].pk}")
    budgets = [
        (b.find("period-start").get("iso-date"), b.find("period-end").get("iso-date"), b.findtext("value"))
        for b in output.iter("budget")
    ]
    assert budgets == [("2025-01-01", "2025-12-31", "600.00"), ("2026-01-01", "2026-12-31", "400.00")]
    organisation = parse(iati_export(as_of=AS_OF)[ORGANISATION_FILE])
    assert organisation.xpath("iati-organisation/total-budget/value/text()") == ["600.00", "400.00"]
    assert organisation.xpath("iati-organisation/total-expenditure/value/text()") == ["150.00"]


def test_results_carry_the_indicators_baseline_target_and_actual(ledger):
    root = parse(iati_export(as_of=AS_OF)[ACTIVITIES_FILE])
    indicator = activity(root, f"{ORG_ID}-PROTECT-{ledger['output'].pk}").find("result/indicator")
    assert indicator.xpath("title/narrative/text()") == ["Countries adopting (countries)"]
    assert indicator.xpath("baseline/@value") == ["0"]
    assert indicator.xpath("period/target/@value") == ["12"]
    assert indicator.xpath("period/actual/@value") == ["5"]


def test_a_funder_that_did_not_agree_to_be_acknowledged_is_not_named(ledger):
    data = iati_export(as_of=AS_OF)[ACTIVITIES_FILE]
    assert b"Quiet Foundation" not in data
    assert b"Jane Giver" not in data  # a person is never named, acknowledged or not
    root = parse(data)
    programme = activity(root, f"{ORG_ID}-PROTECT")
    providers = programme.xpath("transaction/provider-org/narrative/text()")
    assert providers == ["Anonymous funder", "Anonymous funder"]  # the transactions stay
    # The programme names its outputs' funders too, never the anonymous one.
    assert programme.xpath("participating-org[@role='1']/narrative/text()") == ["Ministry of Example"]
    output = activity(root, f"{ORG_ID}-PROTECT-{ledger['output'].pk}")
    assert output.xpath("participating-org[@role='1']/narrative/text()") == ["Ministry of Example"]
    assert output.xpath("participating-org[@role='1']/@type") == ["10"]
    assert output.xpath("participating-org[@role='4']/@ref") == [ORG_ID]


def test_acknowledging_the_funder_names_it(ledger):
    Donor.objects.filter(pk=ledger["foundation"].pk).update(publicly_acknowledged=True)
    programme = activity(parse(iati_export(as_of=AS_OF)[ACTIVITIES_FILE]), f"{ORG_ID}-PROTECT")
    assert programme.xpath("participating-org[@role='1']/narrative/text()") == [
        "Ministry of Example",
        "Quiet Foundation",
    ]
    assert programme.xpath("transaction/provider-org/narrative/text()") == ["Quiet Foundation", "Quiet Foundation"]


def test_the_same_ledger_gives_the_same_bytes_apart_from_the_generated_time(ledger):
    first = iati_export(as_of=AS_OF)
    assert iati_export(as_of=AS_OF) == first
    later = iati_export(as_of=AS_OF + dt.timedelta(hours=1))
    for name in (ACTIVITIES_FILE, ORGANISATION_FILE):
        assert later[name].replace(b"2026-06-30T13:00:00Z", b"2026-06-30T12:00:00Z") == first[name]


def test_money_after_the_as_of_day_is_left_out(ledger):
    root = parse(iati_export(as_of=dt.datetime(2025, 3, 15, tzinfo=dt.UTC))[ACTIVITIES_FILE])
    totals = transaction_totals(root)
    assert totals[(f"{ORG_ID}-PROTECT-{ledger['output'].pk}", "1", "GBP")] == Decimal("400.00")
    assert (f"{ORG_ID}-PROTECT", "1", "USD") not in totals


def test_an_export_without_the_organisation_identifier_is_refused(ledger):
    Organisation.objects.filter(pk=1).update(iati_identifier="")
    with pytest.raises(IatiError, match="no IATI organisation identifier"):
        iati_export(as_of=AS_OF)


def test_a_programme_code_that_cannot_be_an_identifier_is_refused_by_name(ledger):
    Programme.objects.filter(pk=ledger["programme"].pk).update(code="PRO TECT")
    with pytest.raises(IatiError, match="Programme 'PRO TECT': its code cannot be part of an IATI identifier"):
        iati_export(as_of=AS_OF)


def test_a_file_the_schema_refuses_is_not_written_and_the_schema_says_why(ledger):
    files = iati_files_build(as_of=AS_OF)
    iati_files_check(files, on=AS_OF.date())  # valid as built
    files.activities = files.activities.replace(b"<activity-status", b"<activity-state", 1).replace(
        b"</activity-status", b"</activity-state", 1
    )
    with pytest.raises(IatiError) as refused:
        iati_files_check(files, on=AS_OF.date())
    (message,) = refused.value.messages
    assert message.startswith("iati-activities.xml line ")
    assert "Element 'activity-state': This element is not expected." in message


def test_the_organisation_identifier_is_checked_when_it_is_set(db):
    organisation = Organisation.current()
    organisation.iati_identifier = "GB CHC 1234567"
    with pytest.raises(Exception, match="agency prefix and the number"):
        organisation.full_clean()
    organisation_registered("GB-CHC-1234567")
