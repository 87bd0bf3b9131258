"""A large admin import on a real Celery worker (memory:// here, Redis in CI)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from donors.models import Donation
from tests.delivery.conftest import celery_worker, wait_for  # noqa: F401 (the worker fixture)
from tests.factories import DonorFactory, role_user
from transfers.models import ImportJob

from .conftest import HEADER

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_worker_checks_then_imports_the_uploaded_file(celery_worker, client, settings):  # noqa: F811
    settings.IMPORT_BACKGROUND_BYTES = 1000
    DonorFactory(ref="DON-0001")
    client.force_login(role_user("Finance"))
    content = HEADER + "".join(f"W-{i:04d},DON-0001,2025-03-02,{i}.00,GBP,,,,\n" for i in range(1, 121))
    file = SimpleUploadedFile("worker.csv", content.encode())
    response = client.post(reverse("admin:donors_donation_import"), {"import_file": file, "format": "0"})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    wait_for(lambda: ImportJob.objects.get().status not in ImportJob.RUNNING, what="the check")
    job.refresh_from_db()
    assert (job.status, job.new, Donation.objects.count()) == ("checked", 120, 0)
    client.post(reverse("admin:transfers_importjob_confirm", args=[job.pk]))
    wait_for(lambda: ImportJob.objects.get().status not in ImportJob.RUNNING, what="the import")
    job.refresh_from_db()
    assert (job.status, job.new, job.percent, Donation.objects.count()) == ("done", 120, 100, 120)
