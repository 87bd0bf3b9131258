import datetime as dt
import io
from decimal import Decimal

from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from backoffice.money import money_round
from donors import services as donor_services
from donors.models import Donor, WriteOff
from grants.models import Allocation
from reports.figures import donor_summary_snapshot
from reports.renderers import render
from tests.factories import AllocationFactory, DonationFactory, DonorFactory, OutputFactory, role_user

from .conftest import END, START
from .helpers import closing_rate, figure, pdf_text, pledge_outstanding, pledges_at, posted, shown, total


def busiest_donor_in(start, end) -> Donor:
    """A demo donor with donations, pledges and allocations in the period (named by data, not by guess)."""
    row = (
        posted(received_on__gte=start, received_on__lte=end, donor__ref__in=["DON-0002", "DON-0005", "DON-0023"])
        .values("donor")
        .annotate(n=Sum("base_amount"))
        .order_by("-n")
        .first()
    )
    return Donor.objects.get(pk=row["donor"])


def test_figures_equal_sums_straight_from_the_ledger(demo):
    donor = busiest_donor_in(START, END)
    snap = donor_summary_snapshot(donor=donor, start=START, end=END)
    cur = donor.preferred_currency
    assert snap["currency"] == cur
    assert not posted(donor=donor).exclude(currency=cur).exists()  # demo donors give in their own currency

    in_period = posted(donor=donor, received_on__gte=START, received_on__lte=END)
    to_date = posted(donor=donor, received_on__lte=END)
    pledges = list(pledges_at(END, donor=donor))
    rate = closing_rate(cur, END)
    expected = {
        "received_in_period": (total(in_period), total(in_period, "base_amount")),
        "received_to_date": (total(to_date), total(to_date, "base_amount")),
        "pledged": (sum(p.total for p in pledges), None),
        "written_off": (total(WriteOff.objects.filter(pledge__donor=donor, written_off_on__lte=END)), None),
        "outstanding": (sum(pledge_outstanding(p, END)[0] for p in pledges), None),
    }
    assert expected["received_in_period"][0] > 0
    for key, (value, base) in expected.items():
        f = figure(snap, key)
        assert f["value"] == {"amount": str(money_round(Decimal(value), cur)), "currency": cur}, key
        base = base if base is not None else money_round(Decimal(value) * rate)
        assert f["base"] == {"amount": str(base), "currency": "GBP"}, key

    assert len(snap["donations"]) == in_period.count()
    for o in snap["outputs"]:
        mine = total(Allocation.objects.filter(output_id=o["output_id"], donation__donor=donor, allocated_on__lte=END))
        everyone = total(
            Allocation.objects.filter(output_id=o["output_id"], donation__isnull=False, allocated_on__lte=END)
        )
        assert o["donor_amount"]["amount"] == str(mine)
        assert o["output_allocated"]["amount"] == str(everyone)
        others = sum(Decimal(c["amount"]["amount"]) for c in o["co_funders"])
        assert mine + others == everyone  # every penny of co-funding is shown, named or pooled

    text = pdf_text(render(snap))
    for f in snap["figures"]:
        assert shown(f["value"]) in text
        assert shown(f["base"]) in text
    for t in snap["donations_total"]["by_currency"]:  # one total per currency received
        assert shown(t["amount"]) in text
    for o in snap["outputs"]:
        assert shown(o["donor_amount"]) in text


def test_pdf_names_no_unacknowledged_donor_but_its_own(demo):
    for ref in ("DON-0001", "DON-0005", "DON-0022"):
        donor = Donor.objects.get(ref=ref)
        text = pdf_text(render(donor_summary_snapshot(donor=donor, start=START, end=END)))
        assert donor.name in text
        hidden = Donor.objects.filter(publicly_acknowledged=False).exclude(pk=donor.pk)
        leaked = [d.name for d in hidden if d.name in text]
        assert leaked == [], f"{ref}'s report names {leaked}"
    # Acknowledged co-funders are named: UK Home Office co-funds what Norway funded.
    norway = donor_summary_snapshot(donor=Donor.objects.get(ref="DON-0001"), start=START, end=END)
    names = {c["name"] for o in norway["outputs"] for c in o["co_funders"]}
    assert "UK Home Office" in names
    assert any(n.startswith("Other funders") for n in names)


def test_same_snapshot_renders_byte_identical_pdfs(demo):
    snap = donor_summary_snapshot(donor=Donor.objects.get(ref="DON-0002"), start=START, end=END)
    first, second = render(snap), render(snap)
    assert first == second
    assert render({**snap, "title": "Impact summary (copy)"}) != first


def test_unicode_and_markup_print_as_typed(db):
    finance = role_user("Finance", username="unicode-finance")
    donor = DonorFactory(
        ref="DON-UNICODE", name="A & B <b>Stiftung Łódź</b> Nguyễn · Ἀθηνᾶ · Безопасный", preferred_currency="GBP"
    )
    donation = donor_services.donation_post(
        donation=DonationFactory(donor=donor, received_on=dt.date(2025, 4, 2), amount=Decimal("1234.50")), by=finance
    )
    output = OutputFactory(title="Toolkit <i>draft</i> & notes — Ελληνικά/Кириллица")
    AllocationFactory(donation=donation, output=output, amount=Decimal("1000.00"), allocated_on=dt.date(2025, 5, 1))
    pdf = render(donor_summary_snapshot(donor=donor, start=START, end=END))
    text = pdf_text(pdf)
    # The page header shortens a long name with an ellipsis; page 1's title prints it in full, as
    # typed, wrapped where the page needs it (so compared with whitespace made single spaces).
    page_1 = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    assert "A & B <b>Stiftung Łódź</b> Nguyễn · Ἀθηνᾶ · Безопасный Impact summary for 1 Jan 2025" in page_1
    assert "Toolkit <i>draft</i> & notes — Ελληνικά/Кириллица" in text
    assert "GBP 1,234.50" in text
    assert b"DejaVuSans" in pdf and b"/FontFile2" in pdf  # embedded, so no glyph depends on the reader


def test_query_count_does_not_grow_with_data(demo):
    donor = Donor.objects.get(ref="DON-0002")
    with CaptureQueriesContext(connection) as small:
        donor_summary_snapshot(donor=donor, start=START, end=END)
    finance = role_user("Finance", username="report-finance")
    for k in range(6):
        d = donor_services.donation_post(
            donation=DonationFactory(donor=donor, received_on=dt.date(2025, 2, 1 + k), amount=Decimal("500.00")),
            by=finance,
        )
        AllocationFactory(
            donation=d, output=OutputFactory(), amount=Decimal("200.00"), allocated_on=dt.date(2025, 3, 1)
        )
    with CaptureQueriesContext(connection) as large:
        snap = donor_summary_snapshot(donor=donor, start=START, end=END)
    assert len(snap["outputs"]) >= 6
    assert len(large) == len(small)
