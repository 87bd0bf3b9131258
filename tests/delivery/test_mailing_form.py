"""The "send donor summaries" form: references in any case and with any separator, unknown ones
named, and every donor only as an explicit choice."""

import pytest

from delivery.forms import SummariesForm
from delivery.mailing import refs_parse
from tests.factories import DonorFactory

pytestmark = pytest.mark.django_db

PERIOD = {"start": "2025-01-01", "end": "2025-12-31"}


def form(**data):
    return SummariesForm({**PERIOD, "audience": "listed", **data})


@pytest.mark.parametrize(
    "text",
    ["DON-0001,DON-0002", "DON-0001 DON-0002", "DON-0001\nDON-0002", "DON-0001\r\n DON-0002 ", " DON-0001, ;DON-0002,"],
)
def test_references_may_be_separated_by_commas_spaces_or_new_lines(text):
    assert refs_parse(text) == ["DON-0001", "DON-0002"]


def test_a_reference_given_twice_in_different_cases_counts_once():
    assert refs_parse("don-0001 DON-0001 Don-0002") == ["don-0001", "Don-0002"]


def test_case_does_not_matter():
    DonorFactory(ref="DON-0101")
    DonorFactory(ref="DON-0102")
    bound = form(donors="don-0101,\nDon-0102")
    assert bound.is_valid(), bound.errors
    assert bound.cleaned_data["refs"] == ["don-0101", "Don-0102"]


def test_every_unknown_reference_is_named():
    DonorFactory(ref="DON-0101")
    bound = form(donors="DON-0101 DON-9998, nosuch")
    assert not bound.is_valid()
    assert bound.errors["donors"] == ["Unknown donor references: DON-9998, nosuch."]


def test_a_blank_list_is_not_every_donor():
    bound = form(donors="  \n ")
    assert not bound.is_valid()
    assert bound.errors["donors"] == ["List at least one donor reference, or choose every donor."]


def test_every_donor_is_a_choice_of_its_own():
    bound = SummariesForm({**PERIOD, "audience": "all", "donors": ""})
    assert bound.is_valid(), bound.errors
    assert bound.cleaned_data["refs"] is None


def test_every_donor_and_a_list_at_once_is_refused():
    DonorFactory(ref="DON-0101")
    bound = SummariesForm({**PERIOD, "audience": "all", "donors": "DON-0101"})
    assert not bound.is_valid()
    assert "not both" in bound.errors["donors"][0]


def test_the_choice_is_required():
    bound = SummariesForm({**PERIOD, "donors": ""})
    assert not bound.is_valid()
    assert "audience" in bound.errors


def test_a_period_that_ends_before_it_starts_is_refused():
    DonorFactory(ref="DON-0101")
    bound = form(start="2025-12-31", end="2025-01-01", donors="DON-0101")
    assert not bound.is_valid()
    assert bound.errors["end"] == ["The period ends (2025-01-01) before it starts (2025-12-31)."]


def test_its_ids_do_not_clash_with_the_report_form_on_the_same_page():
    from reports.forms import ReportRequestForm

    ours = {field.auto_id for field in SummariesForm()}
    theirs = {field.auto_id for field in ReportRequestForm()}
    assert not ours & theirs
