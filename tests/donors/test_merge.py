"""Merging a donor into another and undoing it: every ledger figure stays as it was, the one
sanctioned relink of posted donations, refusals with their reasons, and old reports still verify."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from backoffice.errors import LedgerError
from donors import services
from donors.merge import donor_links, donor_merge, donor_merge_preview, donor_merge_undo, donor_resolve
from donors.models import Donation, Donor, DonorMerge, PostedDonorMonthTotal, PostedDonorYearTotal
from donors.selectors import pledges_with_figures, posted_total
from grants import services as grant_services
from grants.models import Allocation
from grants.selectors import outputs_with_funding, unallocated_balance
from reports.figures import portfolio_snapshot
from reports.services import report_run_request, report_verify
from tests.donors.test_totals import assert_totals_match_ledger, kept_days, kept_donor_months, kept_donor_years
from tests.factories import ContactFactory, DonationFactory, OutputFactory, PledgeFactory, role_user

START, END = dt.date(2020, 1, 1), dt.date(2026, 12, 31)
# The portfolio's rows that name a donor: after a merge they name the survivor, by design.
NAMED = ("top_donors", "overdue_pledges", "obligations")


def _donor_sums(table, donor_ids) -> dict:
    sums = {}
    for row in table.objects.filter(donor_id__in=donor_ids):
        key = getattr(row, "month", None) or row.year
        count, base = sums.get(key, (0, Decimal("0")))
        sums[key] = (count + row.count, base + row.base_amount)
    return sums


def figures(pair_ids) -> dict:
    """Every figure the ledger gives, as the reports and the dashboard read them."""
    portfolio = portfolio_snapshot(start=START, end=END)
    return {
        "portfolio": {k: v for k, v in portfolio.items() if k not in NAMED},
        "days": kept_days(),
        "posted_total": posted_total(),
        "unallocated": unallocated_balance(),
        "pledges": {
            p.ref: (p.received, p.written_off, p.outstanding, p.overpaid)
            for p in pledges_with_figures().order_by("ref")
        },
        "outputs": {o.pk: (o.allocated, o.planned, o.gap) for o in outputs_with_funding().order_by("pk")},
        "pair_months": _donor_sums(PostedDonorMonthTotal, pair_ids),
        "pair_years": _donor_sums(PostedDonorYearTotal, pair_ids),
        "others_months": {k: v for k, v in kept_donor_months().items() if k[0] not in pair_ids},
        "others_years": {k: v for k, v in kept_donor_years().items() if k[0] not in pair_ids},
    }


@pytest.fixture
def pair(demo_data, db):
    """Two foundations of the demo, the loser with a contact, a pledge with a posted donation
    allocated to an output, a reversal, and a report run made before the merge."""
    finance = role_user("Finance", "merger")
    foundations = Donor.objects.filter(kind="foundation").order_by("ref")
    survivor, loser = foundations[0], foundations[1]
    ContactFactory(donor=loser, email="grants@loser.example.org")
    ContactFactory(donor=loser, email="shared@example.org")
    ContactFactory(donor=survivor, email="shared@example.org")
    pledge = PledgeFactory(donor=loser, ref="PLG-MERGE-1", total=Decimal("900.00"), currency="GBP")
    donation = DonationFactory(donor=loser, pledge=pledge, amount=Decimal("300.00"), received_on=dt.date(2025, 4, 2))
    donation = services.donation_post(donation=donation, by=finance)
    grant_services.allocation_create(
        donation=donation, output=OutputFactory(budget=Decimal("5000")), amount=Decimal("120.00"), by=finance
    )
    wrong = services.donation_post(
        donation=DonationFactory(donor=loser, amount=Decimal("45.50"), received_on=dt.date(2025, 5, 6)), by=finance
    )
    services.donation_reverse(donation=wrong, by=finance, reason="Entered twice", on=dt.date(2025, 5, 7))
    return survivor, loser, finance


def test_merge_and_undo_keep_every_ledger_total(pair):
    survivor, loser, finance = pair
    ids = {survivor.pk, loser.pk}
    before = figures(ids)
    loser_donations = set(loser.donations.values_list("pk", flat=True))
    assert len(loser_donations) >= 3

    merge = donor_merge(survivor=survivor, loser=loser, by=finance, reason="One foundation, two records")

    after = figures(ids)
    for key in before:
        if key == "portfolio":
            for part in before[key]:
                assert after[key][part] == before[key][part], part
        assert after[key] == before[key], key
    assert_totals_match_ledger()
    assert set(survivor.donations.values_list("pk", flat=True)) >= loser_donations
    assert not Donation.objects.filter(donor=loser).exists()
    assert not PostedDonorMonthTotal.objects.filter(donor=loser).exists()
    loser.refresh_from_db()
    assert loser.merged_into == survivor
    assert donor_resolve(loser) == survivor
    # The contact whose email the survivor already has stays with the loser; the other moves.
    assert list(loser.contacts.values_list("email", flat=True)) == ["shared@example.org"]
    assert merge.kept["donors.contact"]

    donor_merge_undo(merge=merge, by=finance)

    assert figures(ids) == before
    assert_totals_match_ledger()
    assert set(loser.donations.values_list("pk", flat=True)) == loser_donations
    loser.refresh_from_db()
    assert loser.merged_into is None
    merge.refresh_from_db()
    assert merge.undone_by == finance and merge.undone_at is not None


def test_merge_then_undo_gives_the_same_portfolio_snapshot(pair):
    survivor, loser, finance = pair
    before = portfolio_snapshot(start=START, end=END)
    merge = donor_merge(survivor=survivor, loser=loser, by=finance)
    donor_merge_undo(merge=merge, by=finance)
    assert portfolio_snapshot(start=START, end=END) == before


def test_preview_lists_what_moves_and_the_giving_figures(pair):
    survivor, loser, _ = pair
    posted = sum(d.base_amount for d in loser.donations.filter(status="posted"))
    preview = donor_merge_preview(survivor=survivor, loser=loser)
    moves = {m.label: m for m in preview.moves}
    assert moves["donors.donation"].count == loser.donations.count()
    assert moves["donors.pledge"].count == loser.pledges.count()
    moving_contacts = loser.contacts.exclude(email="shared@example.org")
    assert moves["donors.contact"].rows == [str(c) for c in moving_contacts.order_by("pk")]
    assert str(loser.contacts.get(email="shared@example.org")) not in moves["donors.contact"].rows
    assert any("shared@example.org" in line for line in preview.kept)
    followed = Allocation.objects.filter(Q(donation__donor=loser) | Q(pledge__donor=loser))
    assert preview.allocations == followed.count() > 0  # they follow their donations and pledges, untouched
    assert preview.giving["loser_after"] == "GBP 0.00"
    assert preview.giving["loser_before"] == f"GBP {posted:,.2f}"
    assert [f.label for f in preview.fields][:2] == ["Reference", "Name"]
    assert preview.allowed


def test_a_merged_donor_cannot_be_merged_again_nor_into_itself(pair):
    survivor, loser, finance = pair
    with pytest.raises(LedgerError, match="into itself"):
        donor_merge(survivor=survivor, loser=survivor, by=finance)
    donor_merge(survivor=survivor, loser=loser, by=finance)
    other = Donor.objects.exclude(pk__in=[survivor.pk, loser.pk]).first()
    with pytest.raises(LedgerError, match="already merged into"):
        donor_merge(survivor=other, loser=loser, by=finance)
    with pytest.raises(LedgerError, match="merge into that donor instead"):
        donor_merge(survivor=loser, loser=other, by=finance)


def test_pledges_under_different_restrictions_are_moved_not_joined(pair):
    survivor, loser, finance = pair
    output = OutputFactory()
    theirs = PledgeFactory(donor=survivor, ref="PLG-MERGE-2", restricted_output=output)
    ours = PledgeFactory(donor=loser, ref="PLG-MERGE-3")
    preview = donor_merge_preview(survivor=survivor, loser=loser)
    assert "Pledges are moved, never joined" in " ".join(preview.notes)
    donor_merge(survivor=survivor, loser=loser, by=finance)
    assert set(survivor.pledges.filter(pk__in=[theirs.pk, ours.pk]).values_list("ref", flat=True)) == {
        theirs.ref,
        ours.ref,
    }
    theirs.refresh_from_db()
    assert theirs.restricted_output == output


def test_undo_is_refused_when_a_donation_was_recorded_against_a_moved_pledge(pair):
    survivor, loser, finance = pair
    pledge = loser.pledges.first()
    merge = donor_merge(survivor=survivor, loser=loser, by=finance)
    later = DonationFactory(donor=survivor, pledge=pledge, amount=Decimal("10.00"), reference="AFTER-MERGE")
    with pytest.raises(LedgerError, match="AFTER-MERGE"):
        donor_merge_undo(merge=merge, by=finance)
    later.delete()
    donor_merge_undo(merge=merge, by=finance)
    with pytest.raises(LedgerError, match="was undone"):
        donor_merge_undo(merge=merge, by=finance)


def test_every_link_to_a_donor_moves_except_history_merges_and_kept_totals():
    assert [f"{m._meta.label_lower}.{name}" for m, name in donor_links()] == [
        "donors.activity.donor",
        "donors.contact.donor",
        "donors.donation.donor",
        "donors.pledge.donor",
        "donors.softcredit.donor",
        "reports.reportrun.donor",
    ]


def _relink_sql(donation_id, donor_id):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE donors_donation SET donor_id = %s WHERE id = %s", [donor_id, donation_id])


def test_the_trigger_refuses_a_plain_relink_of_a_posted_donation(pair):
    survivor, loser, _ = pair
    posted = loser.donations.filter(status="posted").first()
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        _relink_sql(posted.pk, survivor.pk)


def test_the_trigger_allows_only_the_named_merge_the_donor_column_and_the_listed_rows(pair):
    survivor, loser, finance = pair
    posted = loser.donations.filter(status="posted").first()
    other = Donor.objects.exclude(pk__in=[survivor.pk, loser.pk]).first()
    merge = DonorMerge.objects.create(
        survivor=survivor, loser=loser, moved={"donors.donation": [posted.pk]}, merged_by=finance
    )
    unlisted = services.donation_post(donation=DonationFactory(donor=loser), by=finance)

    def named(sql, params):
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('fundtrace.donor_merge', %s, true)", [str(merge.pk)])
            cursor.execute(sql, params)

    for sql, params in [
        ("UPDATE donors_donation SET donor_id = %s WHERE id = %s", [other.pk, posted.pk]),  # not the merge's pair
        ("UPDATE donors_donation SET donor_id = %s, amount = 1 WHERE id = %s", [survivor.pk, posted.pk]),
        ("UPDATE donors_donation SET donor_id = %s WHERE id = %s", [survivor.pk, unlisted.pk]),  # not listed
        ("DELETE FROM donors_donation WHERE id = %s", [posted.pk]),
    ]:
        with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
            named(sql, params)
    with transaction.atomic():
        named("UPDATE donors_donation SET donor_id = %s WHERE id = %s", [survivor.pk, posted.pk])
    posted.refresh_from_db()
    assert posted.donor == survivor


def test_the_setting_does_not_outlive_the_merge(pair):
    survivor, loser, finance = pair
    merge = donor_merge(survivor=survivor, loser=loser, by=finance)
    moved = Donation.objects.get(pk=merge.moved["donors.donation"][0])
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        _relink_sql(moved.pk, loser.pk)


def test_a_report_run_made_before_the_merge_still_verifies(pair, django_capture_on_commit_callbacks):
    survivor, loser, finance = pair
    with django_capture_on_commit_callbacks(execute=True):
        run = report_run_request(
            kind="donor_summary", donor=loser, start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31)
        )
    run.refresh_from_db()
    assert run.status == "done", run.error
    with run.pdf.open("rb") as f:
        pdf = f.read()
    merge = donor_merge(survivor=survivor, loser=loser, by=finance)
    assert run.pk in merge.moved["reports.reportrun"]
    run.refresh_from_db()
    assert run.donor == survivor
    assert report_verify(pdf).ok


def test_a_merge_of_a_donor_in_a_group_is_refused_until_finance_redraws_the_group(pair):
    from donors.models import DonorRelationship
    from tests.factories import DonorFactory

    survivor, loser, finance = pair
    government = DonorFactory(ref="DON-9001", name="Government of Norway")
    DonorRelationship.objects.create(donor=loser, kind="agency", parent=government)
    with pytest.raises(LedgerError, match=f"{loser.name}.* is in a group \\(1 relationship\\)"):
        donor_merge(survivor=survivor, loser=loser, by=finance)
    assert DonorRelationship.objects.filter(donor=loser).count() == 1
