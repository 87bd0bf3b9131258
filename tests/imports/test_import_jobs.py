"""Large admin imports run on a worker: checked, confirmed by a user, imported, with progress."""

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.urls import reverse

from donors.models import Donation, DonationBatch
from tests.factories import role_user
from transfers import jobs
from transfers.models import ImportJob

from .conftest import HEADER, counts

CSV_FORMAT = "0"


def donation_rows(count: int, *, bad_from: int | None = None) -> str:
    rows = []
    for i in range(1, count + 1):
        amount = "1.234" if bad_from is not None and i >= bad_from else f"{i}.50"
        rows.append(f"BIG-{i:05d},DON-0001,2025-03-02,{amount},GBP,,,,row {i}\n")
    return HEADER + "".join(rows)


@pytest.fixture
def background(settings):
    settings.IMPORT_BACKGROUND_BYTES = 1000  # these files are "large"


def upload(client, content: str, name="big.csv"):
    file = SimpleUploadedFile(name, content.encode())
    return client.post(reverse("admin:donors_donation_import"), {"import_file": file, "format": CSV_FORMAT})


def test_a_large_file_is_checked_on_a_worker_then_imported_once_confirmed(
    ledger, client, background, django_capture_on_commit_callbacks
):
    finance = role_user("Finance")
    client.force_login(finance)
    before = counts()
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, donation_rows(250))
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:transfers_importjob_change", args=[job.pk])
    assert (job.status, job.rows, job.new, job.unchanged, job.error_count) == ("checked", 250, 250, 0, 0)
    assert job.requested_by == finance
    assert counts() == before  # checked, nothing written

    page = client.get(response["Location"]).content.decode()
    assert "Checked: ready to import" in page
    assert "250 row(s): 250 new would be imported, 0 unchanged (already recorded)." in page
    assert "Confirm import" in page
    assert page.count("<td>new</td>") == ImportJob.KEPT_ROWS
    assert "… and 230 more rows." in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:transfers_importjob_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert (job.status, job.new, job.confirmed_by) == ("done", 250, finance)
    assert Donation.objects.count() == before["Donation"] + 250
    batch = DonationBatch.objects.get()
    assert (batch.reference.startswith("IMP-big.csv-"), batch.expected_count, batch.status) == (True, 250, "open")
    assert sum(d.amount for d in Donation.objects.all()) == batch.expected_total
    page = client.get(reverse("admin:transfers_importjob_change", args=[job.pk])).content.decode()
    assert "Imported" in page and "Confirm import" not in page


def test_a_second_confirm_or_a_redelivered_task_imports_nothing_more(
    ledger, client, background, django_capture_on_commit_callbacks
):
    client.force_login(role_user("Finance"))
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, donation_rows(40))
    job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:transfers_importjob_confirm", args=[job.pk]))
    response = client.post(reverse("admin:transfers_importjob_confirm", args=[job.pk]), follow=True)
    assert "This file is not waiting to be imported (it is imported)." in response.content.decode()
    assert jobs.import_job_run(job.pk, check=False).status == "done"  # the task again
    assert jobs.import_job_run(job.pk, check=True).status == "done"
    assert Donation.objects.count() == 40
    assert DonationBatch.objects.count() == 1


def test_a_bad_large_file_is_refused_with_its_first_errors_and_writes_nothing(
    ledger, client, background, django_capture_on_commit_callbacks
):
    client.force_login(role_user("Finance"))
    before = counts()
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, donation_rows(300, bad_from=151))
    job = ImportJob.objects.get()
    assert (job.status, job.error_count, len(job.errors)) == ("refused", 150, 150)
    assert job.errors[0] == {
        "line": 152,
        "column": "amount",
        "value": "1.234",
        "message": "GBP has 2 decimal places: 1.234 is not a GBP amount.",
    }
    assert counts() == before
    page = client.get(reverse("admin:transfers_importjob_change", args=[job.pk])).content.decode()
    assert "Refused: nothing was imported" in page
    assert "150 error(s); nothing was imported." in page
    assert "The first 100 are shown here; 50 more are in the download." in " ".join(page.split())
    assert "Confirm import" not in page
    response = client.post(reverse("admin:transfers_importjob_confirm", args=[job.pk]), follow=True)
    assert "This file is not waiting to be imported (it is refused: nothing was imported)." in response.content.decode()
    assert counts() == before


def test_a_large_file_of_the_wrong_format_is_refused_with_the_readers_message(
    ledger, client, background, django_capture_on_commit_callbacks
):
    client.force_login(role_user("Finance"))
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, donation_rows(100).replace(",", ";"))
    job = ImportJob.objects.get()
    assert job.status == "refused"
    assert job.errors[0]["message"].startswith("The file looks semicolon-delimited")


def test_the_file_changed_in_the_database_between_check_and_import_is_refused_whole(
    ledger, client, background, django_capture_on_commit_callbacks
):
    from tests.factories import DonationFactory

    client.force_login(role_user("Finance"))
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, donation_rows(60))
    job = ImportJob.objects.get()
    DonationFactory(
        donor=ledger["first"], reference="BIG-00030", received_on="2025-03-02", amount="7.00"
    )  # recorded meanwhile
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:transfers_importjob_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == "refused"
    assert job.errors == [
        {
            "line": 31,
            "column": "amount",
            "value": "30.50",
            "message": "BIG-00030 is already recorded with amount '7.00', but this row says '30.50'. "
            "An import never changes a recorded donation; correct it in the admin.",
        }
    ]
    assert Donation.objects.count() == 1


def test_who_may_not_import_a_kind_neither_uploads_nor_confirms_and_only_readers_see_its_jobs(
    ledger, client, background, django_capture_on_commit_callbacks
):
    client.force_login(role_user("Finance"))
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, donation_rows(30))
    job = ImportJob.objects.get()
    page = reverse("admin:transfers_importjob_change", args=[job.pk])
    for role, sees in (("Auditor", 200), ("Programme", 404), ("Leadership", 200)):
        client.force_login(role_user(role))
        assert upload(client, donation_rows(30)).status_code == 403
        assert client.get(page).status_code == sees
        assert client.post(reverse("admin:transfers_importjob_confirm", args=[job.pk])).status_code in (403, 404)
    assert ImportJob.objects.count() == 1
    job.refresh_from_db()
    assert job.status == "checked"


def test_a_small_file_keeps_the_in_page_preview(ledger, client, background, settings):
    settings.IMPORT_BACKGROUND_BYTES = 10_000
    client.force_login(role_user("Finance"))
    response = upload(client, donation_rows(3))
    assert response.status_code == 200 and "confirm_form" in response.context
    job = ImportJob.objects.get()  # checked in the request, kept for the confirm: no worker
    assert (job.status, job.new, job.checked_at is not None) == ("checked", 3, True)


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_while_the_import_transaction_is_open(ledger_committed):
    """Progress goes on a connection of its own: another session sees it before the import
    commits, and it stays when the import's transaction is rolled back."""
    job = ImportJob.objects.create(
        kind="donations", file_name="x.csv", file_size=1, requested_by=role_user("Finance"), status="checking"
    )
    seen = {}

    def look():
        seen["rows_read"] = ImportJob.objects.get(pk=job.pk).rows_read
        connection.close()

    with transaction.atomic():
        jobs.write_apart(job.pk, rows_read=1234, percent=40)
        reader = threading.Thread(target=look)
        reader.start()
        reader.join()
        transaction.set_rollback(True)
    assert seen == {"rows_read": 1234}
    job.refresh_from_db()
    assert (job.rows_read, job.percent) == (1234, 40)


@pytest.fixture
def ledger_committed(transactional_db):
    from tests.factories import DonorFactory

    return DonorFactory(ref="DON-0001")


def test_jobs_stuck_past_the_time_limit_can_be_marked_failed_and_stay_so(ledger, client):
    import datetime as dt

    from django.utils import timezone

    finance = role_user("Finance")
    old = timezone.now() - dt.timedelta(hours=2)
    stuck = ImportJob.objects.create(
        kind="donations", file_name="a.csv", file_size=1, requested_by=finance, status="importing", started_at=old
    )
    lost = ImportJob.objects.create(kind="donations", file_name="b.csv", file_size=1, requested_by=finance)
    ImportJob.objects.filter(pk=lost.pk).update(created_at=old)  # queued, its task lost with the broker
    busy = ImportJob.objects.create(
        kind="donations", file_name="c.csv", file_size=1, requested_by=finance, status="checking",
        started_at=timezone.now(),
    )  # fmt: skip
    client.force_login(finance)
    client.post(
        reverse("admin:transfers_importjob_changelist"),
        {"action": "fail_stuck", "_selected_action": [stuck.pk, lost.pk, busy.pk]},
    )
    statuses = dict(ImportJob.objects.values_list("file_name", "status"))
    assert statuses == {"a.csv": "failed", "b.csv": "failed", "c.csv": "checking"}
    assert ImportJob.objects.get(pk=stuck.pk).failure.startswith("No worker finished this job within 0:31:40")
    assert jobs.import_job_run(stuck.pk, check=False).status == "failed"  # a late task changes nothing
    assert counts()["Donation"] == 0


def test_the_beat_task_fails_jobs_past_the_hard_time_limit_only(ledger):
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone

    from transfers.tasks import LIMITS, import_jobs_fail_stuck

    assert settings.CELERY_BEAT_SCHEDULE["import-jobs-fail-stuck"]["task"] == "transfers.tasks.import_jobs_fail_stuck"
    finance = role_user("Finance")
    limit = dt.timedelta(seconds=LIMITS["time_limit"])
    for name, age in (("dead.csv", limit + dt.timedelta(minutes=1)), ("alive.csv", limit - dt.timedelta(minutes=1))):
        ImportJob.objects.create(
            kind="donations", file_name=name, file_size=1, requested_by=finance, status="importing",
            started_at=timezone.now() - age,
        )  # fmt: skip
    assert import_jobs_fail_stuck.delay().get() == 1
    assert dict(ImportJob.objects.values_list("file_name", "status")) == {
        "dead.csv": "failed",
        "alive.csv": "importing",
    }
    assert import_jobs_fail_stuck.delay().get() == 0
