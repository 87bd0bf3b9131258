"""Who may export and download journals, the batch list's export action (the logged file again, byte for
byte), the "Export a journal" page, and the command."""

import hashlib
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from journals.models import JournalExport, LedgerBatch
from journals.services import journal_export
from tests.factories import role_user

from .helpers import account_map, posted_batch, rows


@pytest.fixture
def exported(db):
    """Finance, a mapped ledger and one logged export of batch B-1."""
    finance = role_user("Finance")
    account_map()
    posted_batch(amounts=[Decimal("10.00"), Decimal("5.00")], reference="B-1", by=finance)
    return journal_export(format="xero", by=finance)


@pytest.mark.parametrize(
    ("role", "status"), [("Finance", 200), ("Leadership", 200), ("Auditor", 200), ("Programme", 403)]
)
def test_finance_leadership_and_auditor_download_a_logged_file_programme_is_refused(client, exported, role, status):
    client.force_login(role_user(role, username=f"{role}-reader"))
    response = client.get(reverse("journals:export_download", args=[exported.pk]))
    assert response.status_code == status
    if status == 200:
        assert response.content == bytes(exported.content)
        assert hashlib.sha256(response.content).hexdigest() == exported.sha256 == response["X-Content-SHA256"]
        assert response["Content-Disposition"] == f'attachment; filename="{exported.filename}"'
    else:
        assert "open to the Finance, Leadership and Auditor roles" in response.content.decode()


@pytest.mark.parametrize(
    ("role", "status"), [("Finance", 200), ("Leadership", 403), ("Auditor", 403), ("Programme", 403)]
)
def test_only_finance_opens_the_export_page(client, db, role, status):
    client.force_login(role_user(role))
    assert client.get(reverse("admin:journals_journalexport_export")).status_code == status


@pytest.mark.parametrize(
    ("role", "status"), [("Finance", 200), ("Leadership", 200), ("Auditor", 200), ("Programme", 403)]
)
def test_the_account_map_and_the_log_are_read_by_finance_leadership_and_auditor(client, exported, role, status):
    client.force_login(role_user(role, username=f"{role}-map"))
    assert client.get(reverse("admin:journals_accountmap_changelist")).status_code == status
    assert client.get(reverse("admin:journals_journalexport_changelist")).status_code == status
    assert client.get(reverse("admin:journals_ledgerbatch_changelist")).status_code == status


def test_only_finance_changes_the_account_map(client, db):
    for role, status in (("Finance", 200), ("Auditor", 403)):
        client.force_login(role_user(role))
        assert client.get(reverse("admin:journals_accountmap_add")).status_code == status


def test_a_mapping_is_refused_without_its_key_or_with_another_kinds(client, db):
    client.force_login(role_user("Finance"))
    response = client.post(
        reverse("admin:journals_accountmap_add"),
        {"kind": "income", "restriction": "restricted", "category": "travel", "account_code": "4100",
         "account_name": "Restricted income", "tax_rate": "No VAT", "tracking_category": "Programme"},
    )  # fmt: skip
    errors = response.context["adminform"].form.errors
    assert errors["method"] == ["A donation income mapping needs this."]
    assert errors["category"] == ["Leave this blank on a donation income mapping."]


def test_the_batch_action_exports_once_and_then_gives_the_logged_file_again(client, db):
    finance = role_user("Finance")
    account_map()
    batch = posted_batch(amounts=[Decimal("7.00")], reference="B-3", by=finance)
    client.force_login(finance)
    url = reverse("admin:journals_ledgerbatch_changelist")
    post = {"action": "export_quickbooks", "_selected_action": [batch.pk]}

    first = client.post(url, post)
    again = client.post(url, post)

    assert first.status_code == again.status_code == 200
    assert [r["Account Name"] for r in rows(first.content)] == ["Income unrestricted bank_transfer", "Bank GBP"]
    assert again.content == first.content
    assert JournalExport.objects.count() == 1
    assert LedgerBatch.objects.get(pk=batch.pk).journal_entry.export.content == first.content


def test_the_batch_action_is_not_offered_to_the_auditor(client, exported):
    client.force_login(role_user("Auditor"))
    response = client.get(reverse("admin:journals_ledgerbatch_changelist"))
    assert "export_xero" not in response.content.decode()


def test_the_export_page_exports_from_a_day_and_says_when_there_is_nothing(client, exported):
    finance = exported.exported_by
    client.force_login(finance)
    response = client.post(reverse("admin:journals_journalexport_export"), {"format": "generic", "since": "2025-01-01"})
    assert "Nothing to export since 2025-01-01" in response.content.decode()
    posted_batch(amounts=[Decimal("3.00")], reference="B-2", by=finance)
    response = client.post(reverse("admin:journals_journalexport_export"), {"format": "generic", "since": "2025-01-01"})
    export = JournalExport.objects.latest("id")
    assert response.status_code == 302 and response["Location"].endswith(f"/journals/journalexport/{export.pk}/change/")
    assert [r["narration"] for r in rows(bytes(export.content))] == ["Donation batch B-2", "Donation batch B-2"]


def test_the_command_writes_a_new_journal_and_a_logged_one_again(exported, tmp_path):
    posted_batch(amounts=[Decimal("4.00")], reference="B-4", by=exported.exported_by)
    out = tmp_path / "journal.csv"
    call_command("export_journal", "--since", "2025-01-01", "--format", "generic", "--out", str(out),
                 "--user", exported.exported_by.username)  # fmt: skip
    new = JournalExport.objects.latest("id")
    assert out.read_bytes() == bytes(new.content)
    assert {r["narration"] for r in rows(out.read_bytes())} == {"Donation batch B-4"}

    again = tmp_path / "again.csv"
    call_command("export_journal", "--export", str(exported.pk), "--out", str(again))
    assert again.read_bytes() == bytes(exported.content)
    assert JournalExport.objects.count() == 2


def test_the_command_refuses_a_user_who_may_not_export(exported):
    auditor = role_user("Auditor")
    with pytest.raises(CommandError, match="may not export journals"):
        call_command("export_journal", "--since", "2025-01-01", "--user", auditor.username)
