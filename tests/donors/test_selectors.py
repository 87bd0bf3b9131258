"""Pledge and instalment figures: what the reports, the dashboard and the Finance reminder read."""

import datetime as dt
from decimal import Decimal

import pytest

from donors import services
from donors.selectors import overdue_instalments, pledge_instalment_states, pledge_totals_by_currency, pledges_at
from tests.factories import DonationFactory, InstalmentFactory, PledgeFactory, role_user

TODAY = dt.date(2025, 7, 1)
END = dt.date(2025, 6, 30)


@pytest.fixture
def user(db):
    return role_user("Finance")


def pay(user, pledge, amount, on=dt.date(2025, 3, 1)):
    donation = DonationFactory(donor=pledge.donor, pledge=pledge, amount=Decimal(amount), received_on=on)
    return services.donation_post(donation=donation, by=user)


def scheduled(ref, amounts_by_due_date, total=None, **kwargs):
    pledge = PledgeFactory(
        ref=ref, total=Decimal(total or sum(Decimal(a) for a in amounts_by_due_date.values())), **kwargs
    )
    for due, amount in amounts_by_due_date.items():
        InstalmentFactory(pledge=pledge, due_date=due, amount=Decimal(amount))
    return pledge


def test_overdue_instalments_owe_what_payments_and_write_offs_leave_in_due_date_order(user):
    pledge = scheduled(
        "PLG-A", {dt.date(2025, 1, 1): "100.00", dt.date(2025, 4, 1): "100.00", dt.date(2026, 1, 1): "100.00"}
    )
    pay(user, pledge, "130.00")
    services.pledge_write_off(pledge=pledge, amount=Decimal("20.00"), reason="Bank charges", by=user)
    cancelled = scheduled("PLG-B", {dt.date(2025, 1, 1): "50.00"})
    services.pledge_cancel(pledge=cancelled, on=dt.date(2025, 2, 1))
    rows = [(i.pledge.ref, i.due_date, i.owed) for i in overdue_instalments(today=TODAY)]
    assert rows == [("PLG-A", dt.date(2025, 4, 1), Decimal("50.00"))]  # January covered; 2026 not due; B cancelled
    states = pledge_instalment_states(pledge, today=TODAY)
    assert [(s.status, s.covered) for s in states] == [
        ("paid", Decimal("100.00")),
        ("overdue", Decimal("50.00")),
        ("due", Decimal("0.00")),
    ]


def test_instalment_states_say_which_donations_and_write_offs_pay_each_instalment(user):
    pledge = scheduled(
        "PLG-A", {dt.date(2025, 1, 1): "100.00", dt.date(2025, 4, 1): "100.00", dt.date(2026, 1, 1): "100.00"}
    )
    later = pay(user, pledge, "90.00", on=dt.date(2025, 5, 1))
    first = pay(user, pledge, "60.00", on=dt.date(2025, 1, 5))
    recalled = pay(user, pledge, "40.00", on=dt.date(2025, 2, 1))
    services.donation_reverse(donation=recalled, by=user, reason="Bank recall")  # a recall pays nothing
    written = services.pledge_write_off(pledge=pledge, amount=Decimal("20.00"), reason="Bank charges", by=user)
    states = pledge_instalment_states(pledge, today=TODAY)
    paid_by = [[(p.kind, p.entry_id, p.label, p.amount) for p in s.paid_by] for s in states]
    assert paid_by == [
        [
            ("donation", first.pk, first.reference, Decimal("60.00")),
            ("donation", later.pk, later.reference, Decimal("40.00")),
        ],
        [
            ("donation", later.pk, later.reference, Decimal("50.00")),
            ("write_off", written.pk, "write-off", Decimal("20.00")),
        ],
        [],
    ]
    assert [(s.status, s.covered) for s in states] == [
        ("paid", Decimal("100.00")),
        ("overdue", Decimal("70.00")),
        ("due", Decimal("0.00")),
    ]
    assert [sum(p.amount for p in s.paid_by) for s in states] == [s.covered for s in states]


def test_an_overpayment_pays_every_instalment_and_the_rest_is_left_over(user):
    pledge = scheduled("PLG-O", {dt.date(2025, 1, 1): "100.00", dt.date(2025, 2, 1): "100.00"})
    gift = pay(user, pledge, "250.00")
    states = pledge_instalment_states(pledge, today=TODAY)
    assert [[(p.entry_id, p.amount) for p in s.paid_by] for s in states] == [
        [(gift.pk, Decimal("100.00"))],
        [(gift.pk, Decimal("100.00"))],
    ]
    assert [s.status for s in states] == ["paid", "paid"]


def test_overdue_instalments_is_one_query_whatever_the_number_of_pledges(user, django_assert_num_queries):
    for n in range(5):
        scheduled(f"PLG-{n}", {dt.date(2025, 1, 1): "100.00", dt.date(2025, 2, 1): "100.00"})
    with django_assert_num_queries(1):
        rows = [(i.pledge.ref, i.pledge.donor.name, i.owed) for i in overdue_instalments(today=TODAY)]
    assert len(rows) == 10


def test_pledges_at_a_period_end_count_only_what_happened_by_then(user):
    pledge = scheduled("PLG-END", {dt.date(2025, 2, 1): "100.00", dt.date(2025, 9, 1): "100.00"})
    pay(user, pledge, "40.00", on=dt.date(2025, 5, 1))
    pay(user, pledge, "160.00", on=dt.date(2025, 8, 1))  # after the period end
    cancelled_later = scheduled("PLG-LATE", {dt.date(2025, 1, 1): "70.00"})
    services.pledge_cancel(pledge=cancelled_later, on=dt.date(2025, 10, 1))
    cancelled_before = scheduled("PLG-GONE", {dt.date(2025, 1, 1): "70.00"})
    services.pledge_cancel(pledge=cancelled_before, on=dt.date(2025, 6, 1))
    rows = {p.ref: p for p in pledges_at(end=END)}
    assert set(rows) == {"PLG-END", "PLG-LATE"}  # cancelled by the end: not a pledge at the end
    assert (rows["PLG-END"].received, rows["PLG-END"].outstanding, rows["PLG-END"].overdue_amount) == (
        Decimal("40.00"), Decimal("160.00"), Decimal("60.00"),
    )  # fmt: skip
    assert rows["PLG-LATE"].overdue_amount == Decimal("70.00")  # still owed at the end, cancelled only later
    [gbp] = pledge_totals_by_currency(start=dt.date(2025, 1, 1), end=END)
    assert (gbp.currency, gbp.pledged, gbp.outstanding, gbp.overdue) == (
        "GBP", Decimal("270.00"), Decimal("230.00"), Decimal("130.00"),
    )  # fmt: skip
