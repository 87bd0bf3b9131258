"""The demo's account map places every posting the demo makes: its whole ledger exports, balanced."""

import pytest
from django.core.management import call_command

from donors.models import Donation
from journals.models import AccountMap, JournalItem
from journals.services import journal_export
from spending.models import Expense
from tests.factories import role_user

from .helpers import tomorrow
from .test_ledgers import balances


@pytest.fixture
def demo(demo_data, db):
    return None


def test_the_demo_ledger_exports_whole_and_balanced_and_a_rerun_maps_nothing_new(demo):
    mapped = AccountMap.objects.count()
    export = journal_export(format="generic", by=role_user("Finance", username="demo-journals"), today=tomorrow())

    per_entry, debits, _ = balances(bytes(export.content))
    assert all(balance == 0 for balance in per_entry.values())
    assert debits == export.total_debits > 0
    assert JournalItem.objects.filter(donation__isnull=False).count() == Donation.objects.posted().count()
    assert JournalItem.objects.filter(expense__isnull=False).count() == Expense.objects.posted().count()
    call_command("seed_demo", "--demo-users", verbosity=0)
    assert AccountMap.objects.count() == mapped
