"""Admin import uploads: kept in private storage under a random name, as the uploader's import
job; the go-ahead imports that upload only; uploads nobody imports are deleted after a day."""

import datetime as dt
import os
import re
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from donors.models import Donation
from tests.factories import role_user
from transfers.models import ImportJob

from .conftest import HEADER, counts

GOOD = HEADER + "BANK-1,DON-0001,2025-03-02,100.50,GBP,,PLG-0001,,\n"
CSV_FORMAT = "0"
REFUSED = "This upload is not one of yours waiting to be imported; nothing was imported. Upload the file again."


@pytest.fixture(autouse=True)
def own_private_storage(tmp_path, settings):
    """Private storage for these tests alone: what is kept in it can be seen."""
    folder = tmp_path / "private"
    default = {**settings.STORAGES["default"], "OPTIONS": {"location": str(folder), "base_url": None}}
    settings.STORAGES = {**settings.STORAGES, "default": default}
    return folder


@pytest.fixture(autouse=True)
def own_temp_folder(tmp_path, monkeypatch):
    """The process's temporary folder, for these tests alone: what is left in it can be seen."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def preview(client, content: str = GOOD, name: str = "march.csv"):
    upload = SimpleUploadedFile(name, content.encode())
    return client.post(reverse("admin:donors_donation_import"), {"import_file": upload, "format": CSV_FORMAT})


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_go_ahead_refuses_a_file_in_the_temporary_folder_and_leaves_it_there(ledger, client, own_temp_folder):
    other = own_temp_folder / "someone-elses-export.csv"
    other.write_text(GOOD)
    client.force_login(role_user("Finance"))
    for name in (other.name, str(other), "../" + other.name):
        response = client.post(
            reverse("admin:donors_donation_process_import"),
            {"import_file_name": name, "original_file_name": "march.csv", "format": CSV_FORMAT},
            follow=True,
        )
        assert messages_of(response) == [REFUSED]
    assert other.read_text() == GOOD
    assert counts()["Donation"] == 0


def test_the_go_ahead_refuses_another_users_upload_and_another_kinds(ledger, client):
    first, second = role_user("Finance", "first"), role_user("Finance", "second")
    client.force_login(first)
    confirm = preview(client).context["confirm_form"].initial
    job = ImportJob.objects.get()

    client.force_login(second)
    response = client.post(reverse("admin:donors_donation_process_import"), confirm, follow=True)
    assert messages_of(response) == [REFUSED]
    client.force_login(first)
    response = client.post(reverse("admin:donors_donor_process_import"), confirm, follow=True)  # the donors' page
    assert messages_of(response) == [REFUSED]
    job.refresh_from_db()
    assert (job.status, job.confirmed_by, default_storage.exists(job.file.name)) == ("checked", None, True)
    assert counts()["Donation"] == 0

    response = client.post(reverse("admin:donors_donation_process_import"), confirm, follow=True)
    assert messages_of(response)[0] == "1 row(s): 1 new imported, 0 unchanged (already recorded)."
    assert Donation.objects.get().reference == "BANK-1"


def test_a_previewed_upload_is_kept_privately_under_a_random_name_until_imported(
    ledger, client, own_temp_folder, django_capture_on_commit_callbacks
):
    finance = role_user("Finance")
    client.force_login(finance)
    confirm = preview(client, name="Donors of March.csv").context["confirm_form"].initial
    job = ImportJob.objects.get()
    assert re.fullmatch(r"imports/\d{4}/\d{2}/[0-9a-f]{32}\.csv", job.file.name)
    assert confirm["import_file_name"] == Path(job.file.name).name
    assert (job.requested_by, job.status, job.file_name, job.new) == (finance, "checked", "Donors of March.csv", 1)
    stored = Path(default_storage.path(job.file.name))
    assert stored.read_text() == GOOD
    assert list(own_temp_folder.iterdir()) == []

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:donors_donation_process_import"), confirm, follow=True)
    assert response.redirect_chain == [(reverse("admin:donors_donation_changelist"), 302)]
    job.refresh_from_db()
    assert (job.status, job.confirmed_by, job.file.name) == ("done", finance, "")
    assert not stored.exists()
    assert Donation.objects.count() == 1
    response = client.post(reverse("admin:donors_donation_process_import"), confirm, follow=True)  # again
    assert messages_of(response) == [REFUSED]
    assert Donation.objects.count() == 1


def test_a_refused_preview_keeps_no_file_only_its_errors(ledger, client, own_temp_folder, own_private_storage):
    client.force_login(role_user("Finance"))
    for content in (GOOD.replace("100.50", "1.234"), GOOD.replace(",", ";"), "not,a\nfile"):
        response = preview(client, content)
        assert "confirm_form" not in response.context
    # The unreadable file is refused by the form; the two read ones keep their errors, for the download.
    jobs = ImportJob.objects.order_by("pk")
    assert [(j.status, j.file.name, j.error_count) for j in jobs] == [("refused", "", 1), ("refused", "", 7)]
    assert list(own_temp_folder.iterdir()) == []
    assert not [p for p in own_private_storage.rglob("*") if p.is_file()]


def test_uploads_nobody_imports_are_deleted_after_a_day(ledger, client, django_capture_on_commit_callbacks):
    from transfers.tasks import import_uploads_delete_abandoned

    task = django_settings.CELERY_BEAT_SCHEDULE["import-uploads-delete-abandoned"]["task"]
    assert task == "transfers.tasks.import_uploads_delete_abandoned"
    client.force_login(role_user("Finance"))
    old, recent = (preview(client, name=n).context["confirm_form"].initial for n in ("old.csv", "recent.csv"))
    ImportJob.objects.filter(file_name="old.csv").update(checked_at=timezone.now() - dt.timedelta(hours=25))
    ended = ImportJob.objects.create(
        kind="donations", file_name="ended.csv", file_size=1, requested_by=ImportJob.objects.first().requested_by,
        status="refused", file=default_storage.save("imports/2025/01/" + "e" * 32 + ".csv", ContentFile(b"x")),
    )  # fmt: skip
    two_days_ago = time.time() - 2 * 86400
    orphan = default_storage.save("imports/2025/01/" + "a" * 32 + ".csv", ContentFile(b"no job names me"))
    os.utime(default_storage.path(orphan), (two_days_ago, two_days_ago))
    fresh_orphan = default_storage.save("imports/2025/01/" + "b" * 32 + ".csv", ContentFile(b"being saved now"))
    kept_old, kept_recent = (ImportJob.objects.get(file_name=n).file.name for n in ("old.csv", "recent.csv"))

    assert import_uploads_delete_abandoned.delay().get() == 3
    assert import_uploads_delete_abandoned.delay().get() == 0  # safe to run twice
    assert [default_storage.exists(n) for n in (kept_old, ended.file.name, orphan)] == [False, False, False]
    assert [default_storage.exists(n) for n in (kept_recent, fresh_orphan)] == [True, True]
    expired = ImportJob.objects.get(file_name="old.csv")
    assert (expired.status, expired.file.name) == ("expired", "")
    assert expired.failure == (
        "Nobody confirmed the import within 24 hours, so the file was deleted; nothing was imported. Upload it again."
    )
    page = client.get(reverse("admin:transfers_importjob_change", args=[expired.pk])).content.decode()
    assert "Expired: not confirmed within a day" in page and "Confirm import" not in page

    response = client.post(reverse("admin:donors_donation_process_import"), old, follow=True)
    assert messages_of(response) == [REFUSED]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:donors_donation_process_import"), recent)
    assert counts()["Donation"] == 1
