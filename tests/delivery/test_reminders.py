"""The weekly Finance reminder: overdue instalments and obligations due soon, once per ISO week."""

import datetime as dt
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from delivery import tasks
from delivery.models import ReminderSent
from tests.factories import InstalmentFactory, ObligationFactory, PledgeFactory, role_user

pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 6, 4)  # a Wednesday, ISO week 2025-W23


@pytest.fixture
def ledger():
    pledge = PledgeFactory(ref="PLG-0042")
    InstalmentFactory(pledge=pledge, due_date=dt.date(2025, 4, 1), amount=pledge.total)
    ObligationFactory(pledge=pledge, kind="financial", due_date=dt.date(2025, 6, 20))
    ObligationFactory(pledge=pledge, kind="narrative", due_date=dt.date(2025, 9, 1))  # beyond 30 days
    role_user("Finance")
    role_user("Programme")
    return pledge


def run_on(day):
    with mock.patch("django.utils.timezone.localdate", return_value=day):
        return tasks.finance_reminder_send.apply().get()


def test_beat_firing_twice_in_a_week_sends_one_reminder(smtp, ledger):
    assert run_on(TODAY) == "sent"
    assert run_on(TODAY + dt.timedelta(days=2)) == "already"  # beat restarted and fired again
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["to"] == ["finance@example.org"]
    body = message["message"].get_body(preferencelist=("plain",)).get_content()
    assert "PLG-0042" in body and "due 1 Apr 2025" in body
    assert "Financial report due 20 Jun 2025" in body and "1 Sep 2025" not in body
    row = ReminderSent.objects.get()
    assert (row.week, row.status, row.overdue_instalments, row.obligations_due) == ("2025-W23", "sent", 1, 1)
    assert run_on(TODAY + dt.timedelta(days=7)) == "sent"
    assert len(smtp.messages) == 2


def test_a_refused_reminder_is_not_marked_sent(smtp, ledger):
    smtp.reply = "451 4.3.0 Try later"
    assert run_on(TODAY) == "retry"
    assert ReminderSent.objects.get().status == "pending"
    smtp.reply = None
    assert run_on(TODAY) == "sent"
    assert len(smtp.messages) == 1


def test_the_reminder_reads_as_many_queries_for_many_overdue_pledges_as_for_one(smtp, ledger):
    with CaptureQueriesContext(connection) as one:
        assert run_on(TODAY) == "sent"
    for n in range(4):
        pledge = PledgeFactory(ref=f"PLG-005{n}")
        InstalmentFactory(pledge=pledge, due_date=dt.date(2025, 4, 1), amount=pledge.total)
    with CaptureQueriesContext(connection) as five:
        assert run_on(TODAY + dt.timedelta(days=7)) == "sent"
    assert ReminderSent.objects.get(week="2025-W24").overdue_instalments == 5
    assert len(five) == len(one)
