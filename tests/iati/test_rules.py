"""The standard's rules beyond the schema: a budget period of at most a year, transactions inside
their activity's dates and never in the future, identifiers that begin with the organisation's."""

import datetime as dt
from decimal import Decimal

import pytest

from iati.builder import iati_files_build
from iati.services import IatiError, iati_export, iati_files_check
from iati.validation import rule_errors
from tests.factories import role_user
from tests.iati.ledger import AS_OF, ORG_ID, post, small_ledger

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(db):
    ledger = small_ledger(role_user("Finance"))
    return ledger, iati_files_build(as_of=AS_OF)


def test_the_small_ledger_breaks_no_rule(built):
    _, files = built
    assert rule_errors("activities", files.activities, identifier=ORG_ID, on=AS_OF.date()) == []
    assert rule_errors("organisation", files.organisation, identifier=ORG_ID, on=AS_OF.date()) == []


def test_a_budget_period_longer_than_a_year_is_refused(built):
    _, files = built
    files.activities = files.activities.replace(
        b'<period-end iso-date="2025-12-31"/>', b'<period-end iso-date="2026-01-01"/>', 1
    )
    with pytest.raises(IatiError) as refused:
        iati_files_check(files, on=AS_OF.date())
    (message,) = refused.value.messages
    assert "budget on line" in message
    assert "the period 2025-01-01 to 2026-01-01 is longer than a year, IATI's limit." in message


def test_an_identifier_that_does_not_begin_with_the_organisations_is_refused(built):
    ledger, files = built
    files.activities = files.activities.replace(
        f"<iati-identifier>{ORG_ID}-CORE".encode(), b"<iati-identifier>XM-DAC-1-CORE"
    )
    errors = rule_errors("activities", files.activities, identifier=ORG_ID, on=AS_OF.date())
    assert errors == [
        f"line 3: activity XM-DAC-1-CORE: its identifier does not begin with the organisation's, {ORG_ID}-."
    ]


def test_a_transaction_before_its_activitys_start_is_refused_naming_the_activity_and_day(built):
    """A gift recorded against the government's pledge a year before any agreement or the output began."""
    ledger, _ = built
    post(
        role_user("Finance", username="f2"),
        donor=ledger["government"],
        pledge=ledger["government"].pledges.get(),
        amount=Decimal("10.00"),
        currency="GBP",
        received_on=dt.date(2024, 1, 15),
    )
    with pytest.raises(IatiError) as refused:
        iati_export(as_of=AS_OF)
    output_id = f"{ORG_ID}-PROTECT-{ledger['output'].pk}"
    assert any(
        f"activity {output_id}: the transaction on line" in m
        and "(2024-01-15) is before the activity starts (2025-01-01)." in m
        for m in refused.value.messages
    ), refused.value.messages


def test_a_transaction_after_the_as_of_day_is_refused(built):
    _, files = built
    errors = rule_errors("activities", files.activities, identifier=ORG_ID, on=dt.date(2025, 3, 31))
    assert any("(2025-06-01) is in the future." in e for e in errors)
